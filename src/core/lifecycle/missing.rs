//! `target-missing` (NAMES.md): no target has been tracked for longer than
//! `TARGET_MISSING_AFTER` (default 10 min, `0` = off). Told once per
//! absence; a target found again ends the absence.

use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone, Copy)]
pub struct Missing {
    since: Option<Instant>,
    told: bool,
}

impl Missing {
    /// Called on every step with whether any target is tracked. Returns how
    /// long the target has been missing, once per absence, when that reaches
    /// `after` (`None` = the event is off).
    pub fn check(
        &mut self,
        now: Instant,
        tracked: bool,
        after: Option<Duration>,
    ) -> Option<Duration> {
        if tracked {
            *self = Missing::default();
            return None;
        }
        let since = *self.since.get_or_insert(now);
        let missing = now.saturating_duration_since(since);
        if self.told || missing < after? {
            return None;
        }
        self.told = true;
        Some(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn told_once_per_absence_after_the_threshold() {
        let t0 = Instant::now();
        let mut m = Missing::default();
        let after = Some(10 * MIN);
        assert_eq!(m.check(t0, false, after), None);
        assert_eq!(m.check(t0 + 9 * MIN, false, after), None);
        assert_eq!(m.check(t0 + 10 * MIN, false, after), Some(10 * MIN));
        assert_eq!(m.check(t0 + 20 * MIN, false, after), None, "once");
        // Found, then gone again: a new absence, measured from its start.
        assert_eq!(m.check(t0 + 21 * MIN, true, after), None);
        assert_eq!(m.check(t0 + 22 * MIN, false, after), None);
        assert_eq!(m.check(t0 + 31 * MIN, false, after), None);
        assert_eq!(m.check(t0 + 32 * MIN, false, after), Some(10 * MIN));
    }

    #[test]
    fn off_when_unset() {
        let t0 = Instant::now();
        let mut m = Missing::default();
        assert_eq!(m.check(t0, false, None), None);
        assert_eq!(m.check(t0 + 1000 * MIN, false, None), None);
    }
}
