//! The drop-in detection rules (PRODUCT §1), pure: samples and `Instant`s
//! in, events out.
//!
//! - Once the window is first full, baseline = its P50 (a `baseline` event).
//! - Spike: the new sample > P95 × multiplier, P95 taken over the window
//!   *before* the sample is added (strictly greater). Spike takes priority.
//! - Slow leak: P50 > baseline + threshold (strictly greater).
//! - Cooldowns: spike = window × interval; slow leak = DUMP_COOLDOWN; a spike
//!   dump restarts the slow-leak cooldown too.
//! - A detection the cooldown holds back is reported once per episode
//!   (`dump: false`), then stays quiet until the condition clears. The dump
//!   that opens an episode is its report: a spike episode lasts while the
//!   samples stay above the P95 that opened it × the multiplier, so a jump
//!   landing over several ticks is one episode, not a line per tick.
//!
//! The contract with the lifecycle (shared by every detector): `on_sample`
//! offers a dump (`dump: true`) but moves nothing. Once that dump was taken,
//! is impossible, or failed for good, the caller says [`Detector::handled`]:
//! only then does the baseline move to the current P50 and the cooldown
//! start. Until then no other dump is offered; [`Detector::holds`] tells
//! whether the event's condition still holds (a failed capture is retried
//! only while it does). Replay calls `handled` at once.

use std::time::{Duration, Instant};

use crate::core::event::Kind;
use crate::core::window::Window;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    /// The sample that triggered the event.
    pub bytes: u64,
    /// P50 and P95 of the window after the sample was added.
    pub p50: u64,
    pub p95: u64,
    /// The baseline the sample was judged against.
    pub baseline: u64,
    /// The cooldown allows a dump.
    pub dump: bool,
}

/// The detection settings (built by `config` from the drop-in variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub window_size: usize,
    pub threshold_bytes: u64,
    pub spike_multiplier_micros: u64,
    pub spike_cooldown: Duration,
    pub leak_cooldown: Duration,
}

/// One rule's cooldown and episode state.
#[derive(Debug, Default, Clone, Copy)]
struct Rule {
    last_dump: Option<Instant>,
    episode_reported: bool,
}

impl Rule {
    fn ready(&self, now: Instant, cooldown: Duration) -> bool {
        self.last_dump
            .is_none_or(|t| now.saturating_duration_since(t) >= cooldown)
    }
}

pub struct Detector {
    params: Params,
    window: Window,
    baseline: Option<u64>,
    spike: Rule,
    leak: Rule,
    /// The event whose dump was offered and is not handled yet.
    pending: Option<Kind>,
    /// The P95 the pending spike was judged against.
    spike_p95: u64,
    last_bytes: u64,
    last_leak: bool,
}

impl Detector {
    pub fn new(params: Params) -> Detector {
        Detector {
            params,
            window: Window::new(params.window_size),
            baseline: None,
            spike: Rule::default(),
            leak: Rule::default(),
            pending: None,
            spike_p95: 0,
            last_bytes: 0,
            last_leak: false,
        }
    }

    pub fn window(&self) -> &Window {
        &self.window
    }

    pub fn baseline(&self) -> Option<u64> {
        self.baseline
    }

    /// Forgets everything: a new process incarnation starts from scratch.
    pub fn reset(&mut self) {
        *self = Detector::new(self.params);
    }

    /// Feeds one sample taken at `now`.
    pub fn on_sample(&mut self, now: Instant, bytes: u64) -> Option<Event> {
        let Some(baseline) = self.baseline else {
            self.window.push(bytes);
            if !self.window.is_full() {
                return None;
            }
            let (p50, p95) = self.window.p50_p95()?;
            self.baseline = Some(p50);
            return Some(Event {
                kind: Kind::Baseline,
                bytes,
                p50,
                p95,
                baseline: p50,
                dump: false,
            });
        };
        let p95_before = self.window.percentile(95).unwrap_or(0);
        self.window.push(bytes);
        let (p50, p95) = self.window.p50_p95()?;
        let event = |kind, dump| Event {
            kind,
            bytes,
            p50,
            p95,
            baseline,
            dump,
        };
        let spike = self.above_spike(bytes, p95_before);
        let leak = u128::from(p50) > u128::from(baseline) + u128::from(self.params.threshold_bytes);
        self.last_bytes = bytes;
        self.last_leak = leak;
        // A spike episode lasts while the sample stays above the P95 that
        // opened it × the multiplier: a jump that takes several ticks to
        // land is one episode even if the window's P95 catches up mid-climb.
        let spike_episode =
            spike || (self.spike.episode_reported && self.above_spike(bytes, self.spike_p95));
        if !spike_episode {
            self.spike.episode_reported = false;
        }
        if !spike && !leak {
            self.leak.episode_reported = false;
        }
        if self.pending.is_some() {
            // One dump at a time: the conditions are tracked, nothing is offered.
            return None;
        }
        if spike {
            if self.spike.ready(now, self.params.spike_cooldown) {
                self.spike.episode_reported = true;
                self.pending = Some(Kind::Spike);
                self.spike_p95 = p95_before;
                return Some(event(Kind::Spike, true));
            }
            if !report_once(&mut self.spike) {
                return None;
            }
            self.spike_p95 = p95_before;
            return Some(event(Kind::Spike, false));
        }
        if !leak {
            return None;
        }
        if self.leak.ready(now, self.params.leak_cooldown) {
            self.leak.episode_reported = true;
            self.pending = Some(Kind::SlowLeak);
            return Some(event(Kind::SlowLeak, true));
        }
        report_once(&mut self.leak).then(|| event(Kind::SlowLeak, false))
    }

    /// The dump offered for `kind` was taken, is impossible, or failed for
    /// good: the baseline moves to the current P50 and the cooldown starts
    /// (a spike restarts the slow-leak cooldown too). Other kinds are ignored.
    pub fn handled(&mut self, kind: Kind, now: Instant) {
        match kind {
            Kind::Spike => {
                self.spike.last_dump = Some(now);
                self.leak.last_dump = Some(now);
            }
            Kind::SlowLeak => self.leak.last_dump = Some(now),
            _ => return,
        }
        if self.baseline.is_some() {
            self.baseline = self.window.percentile(50).or(self.baseline);
        }
        if self.pending == Some(kind) {
            self.pending = None;
        }
    }

    /// Whether the condition of `kind` still holds after the last sample: a
    /// spike while the sample stays above the P95 it was judged against × the
    /// multiplier, a slow leak while P50 > baseline + threshold. True for
    /// kinds that are not this detector's.
    pub fn holds(&self, kind: Kind) -> bool {
        match kind {
            Kind::Spike => self.above_spike(self.last_bytes, self.spike_p95),
            Kind::SlowLeak => self.last_leak,
            _ => true,
        }
    }

    fn above_spike(&self, bytes: u64, p95: u64) -> bool {
        u128::from(bytes) * 1_000_000
            > u128::from(p95) * u128::from(self.params.spike_multiplier_micros)
    }
}

/// True the first time a held-back detection is seen in an episode.
fn report_once(rule: &mut Rule) -> bool {
    !std::mem::replace(&mut rule.episode_reported, true)
}

#[cfg(test)]
#[path = "detector_tests.rs"]
mod tests;
