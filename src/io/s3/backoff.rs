//! Capped exponential backoff with jitter for the uploader's retries. Pure
//! apart from [`seed`], which reads the clock and pid once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Capped exponential backoff with "equal jitter": half the step fixed, half
/// random, from a xorshift generator (no `rand` crate).
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ms: u64,
    cap_ms: u64,
    attempt: u32,
    state: u64,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Backoff {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        // xorshift needs a non-zero state.
        Backoff {
            base_ms: ms(base),
            cap_ms: ms(cap),
            attempt: 0,
            state: seed | 1,
        }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u64.checked_shl(self.attempt.min(62)).unwrap_or(u64::MAX);
        let step = self.base_ms.saturating_mul(factor).min(self.cap_ms);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        let jitter = self
            .random()
            .checked_rem(step.saturating_sub(half).saturating_add(1))
            .unwrap_or(0);
        Duration::from_millis(half.saturating_add(jitter))
    }

    fn random(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }
}

/// A per-process seed, so many monitors restarted together spread out.
pub fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(nanos) ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300), 42);
        let mut seen = Vec::new();
        for attempt in 0..40u32 {
            let step = (1000u64 << attempt.min(20)).min(300_000);
            let d = u64::try_from(b.next_delay().as_millis()).unwrap();
            assert!(
                d >= step / 2 && d <= step,
                "attempt {attempt}: {d} not in [{}, {step}]",
                step / 2
            );
            seen.push(d);
        }
        assert!(
            seen[10..].iter().any(|&d| d != seen[10]),
            "jitter varies: {seen:?}"
        );
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn backoff_survives_extremes() {
        let mut b = Backoff::new(Duration::MAX, Duration::MAX, 0);
        for _ in 0..100 {
            b.next_delay();
        }
        let mut z = Backoff::new(Duration::ZERO, Duration::ZERO, 7);
        assert_eq!(z.next_delay(), Duration::ZERO);
    }
}
