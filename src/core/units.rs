//! Hand-written parsers for durations (`500ms`, `10s`, `1m30s`, `1h`) and
//! sizes (`524288000`, `200MB`, `1.5GiB`, `512KiB`, `64kB`), and the
//! fixed-point multiplier (`3`, `1.5`).

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitError {
    Empty,
    BadNumber(String),
    UnknownUnit(String),
    MissingUnit,
    TooLarge,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitError::Empty => f.write_str("empty value"),
            UnitError::BadNumber(s) => write!(f, "bad number {s:?}"),
            UnitError::UnknownUnit(u) => write!(f, "unknown unit {u:?}"),
            UnitError::MissingUnit => f.write_str("a number is missing its unit"),
            UnitError::TooLarge => f.write_str("value too large"),
        }
    }
}

/// A decimal number split into integer and fraction digits, kept exact.
struct Decimal<'a> {
    int: &'a str,
    frac: &'a str,
}

/// Splits `s` into a leading decimal number and the rest.
fn split_number(s: &str) -> Result<(Decimal<'_>, &str), UnitError> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(end);
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if num.matches('.').count() > 1 || !num.bytes().any(|b| b.is_ascii_digit()) {
        return Err(UnitError::BadNumber(num.to_string()));
    }
    Ok((Decimal { int, frac }, rest))
}

/// `value × unit` exactly, for a unit given as a whole number of base units.
fn scale(d: &Decimal<'_>, unit: u128) -> Result<u128, UnitError> {
    let mut int: u128 = 0;
    for b in d.int.bytes() {
        int = int
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(b - b'0')))
            .ok_or(UnitError::TooLarge)?;
    }
    let whole = int.checked_mul(unit).ok_or(UnitError::TooLarge)?;
    // Fractions are rounded down to whole base units; at most 18 digits matter.
    let mut frac_part: u128 = 0;
    let mut denom: u128 = 1;
    for b in d.frac.bytes().take(18) {
        frac_part = frac_part * 10 + u128::from(b - b'0');
        denom *= 10;
    }
    let frac = frac_part.checked_mul(unit).ok_or(UnitError::TooLarge)? / denom;
    whole.checked_add(frac).ok_or(UnitError::TooLarge)
}

fn size_unit(u: &str) -> Option<u128> {
    let unit = match u.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => return None,
    };
    Some(unit)
}

/// Parses a size in bytes. SI suffixes are decimal (`200MB` = 200,000,000),
/// IEC suffixes binary (`1.5GiB`); a bare number is bytes.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(UnitError::Empty);
    }
    let (num, rest) = split_number(s)?;
    let unit_str = rest.trim();
    let unit = size_unit(unit_str).ok_or_else(|| UnitError::UnknownUnit(unit_str.to_string()))?;
    u64::try_from(scale(&num, unit)?).map_err(|_| UnitError::TooLarge)
}

fn duration_unit_ns(u: &str) -> Option<u128> {
    let ns = match u {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    };
    Some(ns)
}

/// Parses a duration: one or more `<number><unit>` parts (`1m30s`), units
/// `ns us ms s m h d`; a bare number is seconds (`60`).
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(UnitError::Empty);
    }
    let mut rest = s;
    let mut total_ns: u128 = 0;
    let mut parts = 0;
    while !rest.is_empty() {
        let (num, after) = split_number(rest)?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit_str, next) = after.split_at(unit_end);
        let unit = if unit_str.is_empty() {
            if parts > 0 || !next.is_empty() {
                return Err(UnitError::MissingUnit);
            }
            1_000_000_000
        } else {
            duration_unit_ns(unit_str)
                .ok_or_else(|| UnitError::UnknownUnit(unit_str.to_string()))?
        };
        total_ns = total_ns
            .checked_add(scale(&num, unit)?)
            .ok_or(UnitError::TooLarge)?;
        parts += 1;
        rest = next;
    }
    let secs = u64::try_from(total_ns / 1_000_000_000).map_err(|_| UnitError::TooLarge)?;
    // The remainder of a division by 1e9 always fits in u32.
    let nanos = (total_ns % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Parses a positive multiplier such as `3` or `1.5` into millionths.
pub fn parse_multiplier_micros(s: &str) -> Result<u64, UnitError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(UnitError::Empty);
    }
    let (num, rest) = split_number(s)?;
    if !rest.is_empty() {
        return Err(UnitError::BadNumber(s.to_string()));
    }
    u64::try_from(scale(&num, 1_000_000)?).map_err(|_| UnitError::TooLarge)
}

/// Formats a byte count for humans: `1.5 GiB`, `200.0 MiB`, `512 B`.
pub fn human_bytes(bytes: u64) -> HumanBytes {
    HumanBytes(bytes)
}

pub struct HumanBytes(u64);

impl fmt::Display for HumanBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("524288000"), Ok(524_288_000));
        assert_eq!(parse_size("200MB"), Ok(200_000_000));
        assert_eq!(parse_size("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_size("512KiB"), Ok(524_288));
        assert_eq!(parse_size("64kB"), Ok(64_000));
        assert_eq!(parse_size(" 2 mib "), Ok(2 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1.5"), Ok(1));
    }

    #[test]
    fn bad_sizes_say_why() {
        assert_eq!(parse_size(""), Err(UnitError::Empty));
        assert_eq!(parse_size("12XB"), Err(UnitError::UnknownUnit("XB".into())));
        assert_eq!(parse_size("MB"), Err(UnitError::BadNumber("".into())));
        assert_eq!(
            parse_size("1.2.3MB"),
            Err(UnitError::BadNumber("1.2.3".into()))
        );
        assert_eq!(parse_size("-5MB"), Err(UnitError::BadNumber("".into())));
        assert_eq!(
            parse_size("99999999999999999999TiB"),
            Err(UnitError::TooLarge)
        );
        assert_eq!(parse_size("."), Err(UnitError::BadNumber(".".into())));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
    }

    #[test]
    fn bad_durations_say_why() {
        assert_eq!(
            parse_duration("10x"),
            Err(UnitError::UnknownUnit("x".into()))
        );
        assert_eq!(parse_duration("1m30"), Err(UnitError::MissingUnit));
        assert_eq!(parse_duration("s"), Err(UnitError::BadNumber("".into())));
        assert_eq!(parse_duration(""), Err(UnitError::Empty));
    }

    #[test]
    fn multipliers() {
        assert_eq!(parse_multiplier_micros("3"), Ok(3_000_000));
        assert_eq!(parse_multiplier_micros("1.5"), Ok(1_500_000));
        assert_eq!(parse_multiplier_micros("0.000001"), Ok(1));
        assert!(parse_multiplier_micros("3x").is_err());
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(512).to_string(), "512 B");
        assert_eq!(human_bytes(1_610_612_736).to_string(), "1.5 GiB");
    }
}
