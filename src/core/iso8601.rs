//! ISO-8601 / RFC 3339 timestamps as STS, ECS, EKS and IMDS write them
//! (`2026-11-22T05:22:34Z`, `2026-11-22T05:22:34.054175Z`, `...+00:00`),
//! and the HTTP `Date` header (`Sun, 06 Nov 1994 08:49:37 GMT`, which S3
//! sends and the uploader reads its clock skew from), parsed by hand into a
//! `SystemTime`. Pure; never panics.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`. Years before
/// 1970 are refused: no credential expires then. Returns a short reason on
/// failure (the input itself is not a secret but is left to the caller).
pub fn parse_iso8601(text: &str) -> Result<SystemTime, &'static str> {
    let b = text.trim().as_bytes();
    let year = digits(b, 0, 4).ok_or("year")?;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2).ok_or("month")?;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2).ok_or("day")?;
    match b.get(10) {
        Some(b'T' | b't' | b' ') => {}
        _ => return Err("missing 'T' between date and time"),
    }
    let hour = digits(b, 11, 2).ok_or("hour")?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2).ok_or("minute")?;
    expect(b, 16, b':')?;
    let second = digits(b, 17, 2).ok_or("second")?;
    if year < 1970 {
        return Err("year before 1970");
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err("date out of range");
    }
    // 60 is a leap second; it simply counts as the next second.
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time out of range");
    }
    let (nanos, rest) = fraction(b.get(19..).unwrap_or(&[]))?;
    let offset_secs = offset(rest)?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second;
    let utc = secs.checked_sub(offset_secs).ok_or("offset before 1970")?;
    let utc = u64::try_from(utc).map_err(|_| "offset before 1970")?;
    UNIX_EPOCH
        .checked_add(Duration::new(utc, nanos))
        .ok_or("time out of range")
}

/// Parses an HTTP date in IMF-fixdate form (RFC 9110 §5.6.7),
/// `Sun, 06 Nov 1994 08:49:37 GMT`; the day name is not checked.
pub fn parse_http_date(text: &str) -> Result<SystemTime, &'static str> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let b = text.trim().as_bytes();
    expect(b, 3, b',')?;
    expect(b, 4, b' ')?;
    let day = digits(b, 5, 2).ok_or("day")?;
    expect(b, 7, b' ')?;
    let name = b.get(8..11).ok_or("month")?;
    let month = MONTHS
        .iter()
        .position(|m| m.as_slice() == name)
        .and_then(|i| i64::try_from(i + 1).ok())
        .ok_or("month")?;
    expect(b, 11, b' ')?;
    let year = digits(b, 12, 4).ok_or("year")?;
    expect(b, 16, b' ')?;
    let hour = digits(b, 17, 2).ok_or("hour")?;
    expect(b, 19, b':')?;
    let minute = digits(b, 20, 2).ok_or("minute")?;
    expect(b, 22, b':')?;
    let second = digits(b, 23, 2).ok_or("second")?;
    if b.get(25..) != Some(b" GMT".as_slice()) {
        return Err("missing GMT");
    }
    if year < 1970 || day < 1 || day > days_in_month(year, month) {
        return Err("date out of range");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time out of range");
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    let secs = u64::try_from(secs).map_err(|_| "date out of range")?;
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .ok_or("time out of range")
}

fn expect(b: &[u8], at: usize, want: u8) -> Result<(), &'static str> {
    match b.get(at) {
        Some(&c) if c == want => Ok(()),
        _ => Err("bad separator"),
    }
}

/// `len` ASCII digits at `at` as a number; at most 4 digits, so no overflow.
fn digits(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let slice = b.get(at..at.checked_add(len)?)?;
    slice.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

/// Optional `.ddd…` (any number of digits, nanosecond precision kept).
fn fraction(b: &[u8]) -> Result<(u32, &[u8]), &'static str> {
    let Some((b'.' | b',', tail)) = b.split_first() else {
        return Ok((0, b));
    };
    let len = tail.iter().take_while(|c| c.is_ascii_digit()).count();
    if len == 0 {
        return Err("empty fraction of a second");
    }
    let mut nanos = 0u32;
    for i in 0..9 {
        let d = tail
            .get(i)
            .filter(|_| i < len)
            .map_or(0, |c| u32::from(c - b'0'));
        nanos = nanos * 10 + d;
    }
    Ok((nanos, tail.get(len..).unwrap_or(&[])))
}

/// `Z`, `+HH:MM`, `-HH:MM`, `+HHMM` or `+HH` → seconds east of UTC.
fn offset(b: &[u8]) -> Result<i64, &'static str> {
    let sign = match b.first() {
        Some(b'Z' | b'z') if b.len() == 1 => return Ok(0),
        Some(b'+') => 1,
        Some(b'-') => -1,
        None => return Err("missing time zone"),
        _ => return Err("bad time zone"),
    };
    let hours = digits(b, 1, 2).ok_or("bad time zone")?;
    let minutes = match b.len() {
        3 => 0,
        5 => digits(b, 3, 2).ok_or("bad time zone")?,
        6 if b.get(3) == Some(&b':') => digits(b, 4, 2).ok_or("bad time zone")?,
        _ => return Err("bad time zone"),
    };
    if hours > 23 || minutes > 59 {
        return Err("bad time zone");
    }
    Ok(sign * (hours * 3_600 + minutes * 60))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm); inputs are already
/// range-checked, so nothing here can overflow an i64.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse_and_bad_ones_do_not() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(784_111_777));
        let t = parse_http_date("Sat, 28 Nov 2026 02:17:51 GMT").unwrap();
        assert_eq!(t, parse_iso8601("2026-11-28T02:17:51Z").unwrap());
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 31 Feb 2024 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
        ] {
            assert!(parse_http_date(bad).is_err(), "{bad}");
        }
        let good = "Sun, 06 Nov 1994 08:49:37 GMT";
        for end in 0..good.len() {
            assert!(parse_http_date(&good[..end]).is_err(), "prefix {end}");
        }
    }

    fn secs(text: &str) -> u64 {
        parse_iso8601(text)
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn known_instants() {
        assert_eq!(secs("1970-01-01T00:00:00Z"), 0);
        // `date -u -d 2026-11-22T05:22:34Z +%s`
        assert_eq!(secs("2026-11-22T05:22:34Z"), 1_795_324_954);
        assert_eq!(secs("2000-02-29T23:59:59Z"), 951_868_799);
        assert_eq!(secs("2026-11-22T07:22:34+02:00"), 1_795_324_954);
        assert_eq!(secs("2026-11-22T03:22:34-0200"), 1_795_324_954);
        assert_eq!(secs("2026-11-22t05:22:34z"), 1_795_324_954);
    }

    #[test]
    fn fractions_keep_nanoseconds() {
        let t = parse_iso8601("2026-11-22T05:22:34.054175Z").unwrap();
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(d.as_secs(), 1_795_324_954);
        assert_eq!(d.subsec_nanos(), 54_175_000);
        let t = parse_iso8601("2026-11-22T05:22:34.1234567891234Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().subsec_nanos(),
            123_456_789
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01 00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+25:00",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00+01:00",
            "2026-01-01T00:00:00Zjunk",
            "２026-01-01T00:00:00Z",
        ] {
            assert!(parse_iso8601(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_prefix_is_handled() {
        let full = "2026-11-22T05:22:34.054175Z";
        for end in 0..full.len() {
            assert!(parse_iso8601(&full[..end]).is_err(), "{}", &full[..end]);
        }
        assert!(parse_iso8601(full).is_ok());
        // `+01` alone is a valid zone, so only "no panic" holds for these.
        let zoned = "2026-11-22T05:22:34+01:30";
        for end in 0..zoned.len() {
            let _ = parse_iso8601(&zoned[..end]);
        }
    }
}
