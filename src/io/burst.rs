//! Bursts of one-off work (a capture, an upload, a notification) and what
//! they leave behind: the code and constants they ran (TLS, HTTP, SigV4,
//! JSON, gzip...) stay mapped in the monitor long after, although an idle
//! monitor only runs its tick (PRODUCT §5: idle RSS ≤ 2 MiB). Each job
//! holds a [`Busy`] while it runs; the run loop's [`Trim`] hands the
//! executable's clean read-only pages back ([`crate::sys::text::release`])
//! once no job has run for [`QUIET`], after start-up and after each burst.
//! What the next ticks use faults back in from the page cache.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::io::log;
use crate::sys::text;

/// How long no job must have run before the pages go back.
pub const QUIET: Duration = Duration::from_secs(2);

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Jobs ended since start; start-up counts as one.
static ENDED: AtomicU64 = AtomicU64::new(1);

/// A job of the burst in progress (dropped: it ended).
#[must_use = "the job ends when this is dropped"]
pub struct Busy(());

impl Busy {
    pub fn start() -> Busy {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        Busy(())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        ENDED.fetch_add(1, Ordering::SeqCst);
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The run loop's side: when to release. Allocation-free.
#[derive(Debug, Default)]
pub struct Trim {
    /// `ENDED` when last released.
    released: u64,
    /// `ENDED` as last seen with nothing in flight, and since when.
    seen: u64,
    since: Option<Instant>,
}

impl Trim {
    /// Releases the pages when a burst ended at least [`QUIET`] ago and
    /// nothing ran since. `Some(bytes released)` when it did.
    pub fn poll(&mut self, now: Instant) -> Option<usize> {
        let (in_flight, ended) = (
            IN_FLIGHT.load(Ordering::SeqCst),
            ENDED.load(Ordering::SeqCst),
        );
        if self.due(in_flight, ended, now) {
            release()
        } else {
            None
        }
    }

    /// Whether to release now, given the jobs running and ended so far.
    fn due(&mut self, in_flight: usize, ended: u64, now: Instant) -> bool {
        if in_flight > 0 {
            self.since = None;
            return false;
        }
        if ended == self.released {
            return false;
        }
        match self.since {
            Some(t) if ended == self.seen => {
                if now.saturating_duration_since(t) < QUIET {
                    return false;
                }
                self.released = ended;
                self.since = None;
                true
            }
            _ => {
                self.seen = ended;
                self.since = Some(now);
                false
            }
        }
    }
}

/// Once a burst: out of the tick's line. An error (a locked mapping):
/// nothing released, the monitor is as it was; not retried until the next
/// burst.
#[cold]
#[inline(never)]
fn release() -> Option<usize> {
    let released = text::release();
    match &released {
        Ok(bytes) => log::info("code-released", &[("kib", &(bytes / 1024))]),
        Err(e) => log::warn("code-release-failed", &[("error", e)]),
    }
    released.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_once_per_burst_after_a_quiet_spell() {
        let t0 = Instant::now();
        let mut trim = Trim::default();
        assert!(!trim.due(0, 1, t0), "first sight starts the quiet spell");
        assert!(!trim.due(0, 1, t0 + QUIET / 2));
        assert!(trim.due(0, 1, t0 + QUIET), "start-up released");
        assert!(!trim.due(0, 1, t0 + QUIET * 3), "nothing ran since");
        assert!(!trim.due(1, 1, t0 + QUIET * 4), "a job is running");
        let t1 = t0 + QUIET * 5;
        assert!(!trim.due(0, 2, t1), "it ended: the quiet spell starts");
        assert!(!trim.due(1, 2, t1 + QUIET), "another job runs");
        assert!(!trim.due(0, 3, t1 + QUIET * 2), "it ended: wait again");
        assert!(!trim.due(0, 4, t1 + QUIET * 3), "and one more");
        assert!(trim.due(0, 4, t1 + QUIET * 4), "burst over: released");
        assert!(!trim.due(0, 4, t1 + QUIET * 9));
    }

    #[test]
    fn a_job_ends_once() {
        let ended = ENDED.load(Ordering::SeqCst);
        drop(Busy::start());
        assert!(ENDED.load(Ordering::SeqCst) > ended);
    }
}
