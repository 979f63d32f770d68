//! The one sanitiser for text a server or a file supplied, before it goes
//! into a log line or an error: one line, bounded.

/// Control characters (newlines included) become spaces, surrounding space
/// is trimmed, and the text is cut to `max_chars` characters, with `…` when
/// something was cut.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    let mut out: String = text
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_strips_controls_and_bounds_length() {
        assert_eq!(one_line(" a\nb\tc ", 10), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("abc", 3), "abc");
        assert_eq!(one_line("", 0), "");
    }
}
