//! Minimal JSON string escaping for hand-built output lines (log lines,
//! replay events), so they never need an allocation-heavy serializer.

use std::fmt;

/// Displays `s` as a JSON string literal, quotes included.
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_parses_back() {
        let s = "a\"b\\c\nd\u{1}é";
        let text = Quoted(s).to_string();
        assert_eq!(text, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }
}
