//! UTC calendar arithmetic without a time crate: the seconds since the epoch
//! are passed in; formatting writes into any `fmt::Write`.

use std::fmt;

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl Utc {
    /// Converts milliseconds since the Unix epoch (days-from-civil inverse,
    /// after Howard Hinnant's algorithm).
    pub fn from_unix_ms(ms: u64) -> Utc {
        let secs = ms / 1000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Utc {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            millis: (ms % 1000) as u32,
        }
    }

    /// `2026-11-22-04-18-00`: the drop-in object-key time.
    pub fn key(self) -> KeyTime {
        KeyTime(self)
    }

    /// `2026-11-22T04:18:00.123Z`.
    pub fn rfc3339(self) -> Rfc3339 {
        Rfc3339(self)
    }
}

pub struct KeyTime(Utc);
pub struct Rfc3339(Utc);

impl fmt::Display for KeyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        )
    }
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(
            Utc::from_unix_ms(0).key().to_string(),
            "1970-01-01-00-00-00"
        );
        // 2026-11-22T04:18:19.5Z
        let t = Utc::from_unix_ms(1_795_321_099_500);
        assert_eq!(t.rfc3339().to_string(), "2026-11-22T04:18:19.500Z");
        // Leap day.
        assert_eq!(
            Utc::from_unix_ms(951_782_400_000).key().to_string(),
            "2000-02-29-00-00-00"
        );
        assert_eq!(
            Utc::from_unix_ms(4_102_444_799_000).key().to_string(),
            "2099-12-31-23-59-59"
        );
    }
}
