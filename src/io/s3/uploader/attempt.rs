//! One upload attempt: a PUT signed with the local clock moved by the skew
//! learnt from S3, and why an attempt did not happen.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::core::s3_refusal::Refusal;
use crate::io::s3::put::{Client, Object, PutError};
use crate::io::s3::Credentials;

/// Why a PUT did not happen or failed.
pub(super) enum Failure {
    /// No credentials could be had.
    Credentials(String),
    Put(PutError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Credentials(why) => f.write_str(why),
            Failure::Put(e) => e.fmt(f),
        }
    }
}

impl Failure {
    pub(super) fn refusal(&self) -> Refusal {
        match self {
            Failure::Credentials(_) => Refusal::BucketWide,
            Failure::Put(e) => e.refusal(),
        }
    }
}

pub(super) fn put_once(
    client: &Client,
    obj: &Object<'_>,
    creds: &Credentials,
    skew_ms: i64,
    stop: &AtomicBool,
) -> Result<u64, PutError> {
    let clock = move || shifted(SystemTime::now(), skew_ms);
    client.put_file(obj, creds, &clock, stop)
}

/// `t` moved by `ms` (either way), saturating at the epoch and far future.
fn shifted(t: SystemTime, ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    let moved = if ms >= 0 {
        t.checked_add(d)
    } else {
        t.checked_sub(d)
    };
    moved.unwrap_or(t)
}

pub(super) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_moves_both_ways_and_saturates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(shifted(t, 1_500), t + Duration::from_millis(1_500));
        assert_eq!(shifted(t, -1_500), t - Duration::from_millis(1_500));
        assert_eq!(shifted(t, 0), t);
    }
}
