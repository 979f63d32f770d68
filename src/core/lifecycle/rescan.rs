//! When the loop scans `/proc` for targets. A scan reads every process's
//! `comm` (and allocates), so the healthy tick never scans; only the ticks
//! where a scan is due do:
//! - while a target is missing (none found yet, or one ended): after 1 s,
//!   then 2 s, 4 s … up to 30 s between scans;
//! - while every target is healthy: every 30 s, to pick up a new match (a
//!   second process of the same name); never for a fixed pid, which has
//!   nothing new to find;
//! - when a target ends: at once, and the backoff starts over.

use std::time::{Duration, Instant};

/// The first wait while a target is missing; doubled after each scan.
pub const MISSING_FIRST: Duration = Duration::from_secs(1);
/// The longest wait while a target is missing.
pub const MISSING_MAX: Duration = Duration::from_secs(30);
/// The wait between scans while every target is healthy.
pub const HEALTHY_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Now,
    At(Instant),
    Never,
}

#[derive(Debug, Clone, Copy)]
pub struct Rescan {
    next: Next,
    backoff: Duration,
    periodic: bool,
}

impl Rescan {
    /// `periodic`: rescan every [`HEALTHY_EVERY`] while all is healthy
    /// (false for a fixed pid).
    pub fn new(periodic: bool) -> Rescan {
        Rescan {
            next: Next::Now,
            backoff: MISSING_FIRST,
            periodic,
        }
    }

    /// A scan is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        match self.next {
            Next::Now => true,
            Next::At(at) => now >= at,
            Next::Never => false,
        }
    }

    /// A scan ran at `now`; `missing`: some target is still not found.
    pub fn scanned(&mut self, now: Instant, missing: bool) {
        let wait = if missing {
            let wait = self.backoff;
            self.backoff = self.backoff.saturating_mul(2).min(MISSING_MAX);
            Some(wait)
        } else {
            self.backoff = MISSING_FIRST;
            self.periodic.then_some(HEALTHY_EVERY)
        };
        self.next = match wait.map(|w| now.checked_add(w)) {
            Some(Some(at)) => Next::At(at),
            _ => Next::Never,
        };
    }

    /// A target ended: look again at once, from the shortest wait.
    pub fn lost(&mut self) {
        self.next = Next::Now;
        self.backoff = MISSING_FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seconds (from `t0`) at which scans run over `secs` seconds of
    /// one-second ticks, with `missing` deciding each scan's result.
    fn scans(r: &mut Rescan, t0: Instant, secs: u64, missing: impl Fn(u64) -> bool) -> Vec<u64> {
        let mut out = Vec::new();
        for s in 0..secs {
            let now = t0 + Duration::from_secs(s);
            if r.due(now) {
                r.scanned(now, missing(s));
                out.push(s);
            }
        }
        out
    }

    #[test]
    fn a_missing_target_backs_off_from_1_s_to_30_s() {
        let t0 = Instant::now();
        let mut r = Rescan::new(true);
        let at = scans(&mut r, t0, 130, |_| true);
        assert_eq!(at, [0, 1, 3, 7, 15, 31, 61, 91, 121]);
    }

    #[test]
    fn all_healthy_rescans_every_30_s_and_a_loss_restarts_the_backoff() {
        let t0 = Instant::now();
        let mut r = Rescan::new(true);
        assert_eq!(scans(&mut r, t0, 65, |_| false), [0, 30, 60]);
        r.lost();
        let at = scans(&mut r, t0 + Duration::from_secs(65), 10, |_| true);
        assert_eq!(at, [0, 1, 3, 7], "at once, then 1 s, 2 s, 4 s");
    }

    #[test]
    fn a_fixed_pid_is_not_rescanned_while_healthy() {
        let t0 = Instant::now();
        let mut r = Rescan::new(false);
        assert_eq!(scans(&mut r, t0, 100, |_| false), [0]);
        r.lost();
        assert!(r.due(t0));
    }
}
