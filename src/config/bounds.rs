//! Bounds on settings, so that no value that parses can crash or stall the
//! monitor later: durations (an `Instant` plus 10^19 s overflows), the check
//! interval (1 ns spins), object keys (S3 refuses keys over 1,024 bytes),
//! bucket names, and the size of one PUT (5 GiB).

use std::time::Duration;

use crate::core::event::Kind;
use crate::core::units;

/// The longest any duration setting may be.
pub const DURATION_MAX: Duration = Duration::from_secs(30 * 24 * 3600);
/// CHECK_INTERVAL's range.
pub(super) const INTERVAL_MIN: Duration = Duration::from_millis(10);
pub(super) const INTERVAL_MAX: Duration = Duration::from_secs(3600);
/// S3's limit on an object key, in bytes.
pub const KEY_MAX_BYTES: usize = 1024;
/// S3's limit on one PUT (DUMP_MAX_BYTES may not exceed it).
pub const PUT_MAX_BYTES: u64 = 5 << 30;
/// The time in a key (`2026-11-22-04-18-00`) and its two dashes, the
/// `-NN` a repeated key gets, and `.pprof`.
const KEY_FIXED_BYTES: usize = 19 + 2 + 3 + 6;

/// A duration from 0 up to [`DURATION_MAX`].
pub(super) fn duration(s: &str) -> Result<Duration, String> {
    let d = units::parse_duration(s).map_err(|e| e.to_string())?;
    if d > DURATION_MAX {
        return Err("must be at most 30 days (30d)".into());
    }
    Ok(d)
}

/// A duration above zero, up to [`DURATION_MAX`].
pub(super) fn positive_duration(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        d if d.is_zero() => Err("must be greater than zero".into()),
        d => Ok(d),
    }
}

/// CHECK_INTERVAL: from 10 ms to 1 h.
pub(super) fn interval(s: &str) -> Result<Duration, String> {
    let d = units::parse_duration(s).map_err(|e| e.to_string())?;
    if !(INTERVAL_MIN..=INTERVAL_MAX).contains(&d) {
        return Err("must be between 10ms and 1h".into());
    }
    Ok(d)
}

/// DUMP_MAX_BYTES: above zero and at most what one S3 PUT takes.
pub(super) fn dump_max_bytes(s: &str) -> Result<u64, String> {
    match units::parse_size(s).map_err(|e| e.to_string())? {
        0 => Err("must be greater than zero".into()),
        n if n > PUT_MAX_BYTES => Err(format!(
            "must be at most 5GiB ({PUT_MAX_BYTES} bytes), the most one S3 PUT takes"
        )),
        n => Ok(n),
    }
}

/// A bucket name S3 could ever accept (NAMES.md: legacy names stay valid):
/// 3 to 255 of `A-Z a-z 0-9 . _ -`.
pub(super) fn bucket(s: &str) -> Result<String, &'static str> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !(3..=255).contains(&s.len()) {
        return Err("a bucket name is 3 to 255 characters long");
    }
    if !s.chars().all(ok_char) {
        return Err("a bucket name holds only A-Z a-z 0-9 . _ -");
    }
    Ok(s.to_string())
}

/// The longest object key this monitor can make with `prefix` and `pod`.
pub fn longest_key_bytes(prefix: &str, pod: &str) -> usize {
    let reason = Kind::ALL
        .iter()
        .filter(|k| k.takes_dump())
        .map(|k| k.as_str().len())
        .max()
        .unwrap_or(0);
    prefix
        .len()
        .saturating_add(pod.len())
        .saturating_add(reason)
        .saturating_add(KEY_FIXED_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_stop_at_30_days_and_the_interval_at_its_range() {
        assert_eq!(duration("30d"), Ok(DURATION_MAX));
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
        assert!(duration("31d").unwrap_err().contains("30 days"));
        assert!(duration("10000000000000000000").is_err());
        assert!(positive_duration("0s").is_err());
        assert_eq!(interval("10ms"), Ok(INTERVAL_MIN));
        assert_eq!(interval("1h"), Ok(INTERVAL_MAX));
        for bad in ["1ns", "9ms", "61m", "2h"] {
            assert_eq!(
                interval(bad),
                Err("must be between 10ms and 1h".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn one_put_takes_at_most_5_gib() {
        assert_eq!(dump_max_bytes("5GiB"), Ok(PUT_MAX_BYTES));
        assert!(dump_max_bytes("5GiB").is_ok() && dump_max_bytes("5368709121").is_err());
        assert!(dump_max_bytes("0").is_err());
    }

    #[test]
    fn bucket_names_by_what_s3_can_ever_accept() {
        for ok in ["abc", "my-bucket.v2", "Legacy_Bucket", &"a".repeat(255)] {
            assert_eq!(bucket(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "ab",
            "",
            "a b c",
            "bucket/x",
            "s3://bucket",
            "bück",
            &"a".repeat(256),
        ] {
            assert!(bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_longest_key_counts_every_part() {
        let made = "p/pod-2026-11-22-04-18-00-time-to-limit-66.pprof";
        assert_eq!(longest_key_bytes("p/", "pod"), made.len());
    }
}
