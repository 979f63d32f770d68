//! `DETECTION=robust` (issue 10), pure: the drop-in thresholds, read so that
//! warm-ups, config steps, GC sawtooth, batch jobs and bursts raise nothing
//! while real leaks are still caught.
//!
//! - Spike: exactly the drop-in rule (sample > P95 before it × multiplier,
//!   cooldown window × interval), checked once the window is full.
//! - Baseline: taken only once memory has settled — the window's P50,
//!   recorded once a minute, no longer decelerates (the rise over the last
//!   15 min is within half the threshold of the 15 min before), at
//!   the earliest 30 minutes after the window first filled and at the latest
//!   90 minutes after. A warm-up decelerates; a plateau or a leak does not.
//! - Slow leak: P50 > baseline + threshold *and still rising*: over four
//!   consecutive intervals of 2, 5 or 10 minutes ending now, P50 rose by
//!   more than an eighth of the threshold in each. A step puts its jump into
//!   one interval (two at most), so it does not qualify; a crossing that
//!   does not rise on for 30 minutes was a step: the baseline moves to it
//!   silently and the trend fits start afresh.
//! - Trend rules (`core::trend_rules`): leak rate, time-to-limit and growth
//!   over the fits since the baseline was taken. Robust always runs
//!   leak-rate: by default at MEMORY_CHANGE_THRESHOLD per 8 hours; every fit
//!   must have risen at least half the threshold.
//! - Cooldowns: spike = window × interval; slow-leak and leak-rate =
//!   DUMP_COOLDOWN, and a dump of either (or a spike) restarts both;
//!   time-to-limit and growth = DUMP_COOLDOWN each.

use std::time::Instant;

use crate::core::detector::{Event, Params};
use crate::core::event::Kind;
use crate::core::trend_rules::{Rate, Rule, TrendParams, Trends};
use crate::core::window::Window;

/// Settling: compare the P50 rise over these two consecutive intervals.
const SETTLE_STEP_S: u32 = 15 * 60;
/// Settle at the latest this long after the window first filled.
const SETTLE_MAX_S: u32 = 90 * 60;
/// Staircase interval lengths for "still rising".
const STAIRS_S: [u32; 3] = [120, 300, 600];
/// Consecutive intervals that must each show a rise.
const STAIRS: u32 = 4;
/// A crossing that does not rise on for this long is a step.
const STEP_CONFIRM_S: u32 = 30 * 60;

/// The default leak rate when LEAK_RATE_THRESHOLD is not set: the threshold per 8 hours.
pub fn default_rate(threshold_bytes: u64) -> Rate {
    Rate::BytesPerHour(threshold_bytes / 8)
}

pub struct Robust {
    p: Params,
    window: Window,
    trends: Trends,
    /// Seconds (incarnation time) when the window first filled.
    full_at: Option<u32>,
    baseline: Option<u64>,
    /// When P50 first exceeded baseline + threshold without rising on.
    crossed: Option<u32>,
    last_p50: u64,
    spike: Rule,
    /// The P95 that opened the current spike episode: the episode lasts while
    /// samples stay above it × the multiplier, however fast P95 catches up.
    spike_p95: Option<u64>,
    leak: Rule,
}

impl Robust {
    /// The drop-in parameters and the trend rules (leak-rate defaults to
    /// [`default_rate`]; fits must rise at least half the threshold).
    pub fn new(p: Params, mut trend: TrendParams) -> Robust {
        if trend.leak_rate.is_none() {
            trend.leak_rate = Some(default_rate(p.threshold_bytes));
        }
        trend.rise_min = p.threshold_bytes / 2;
        Robust {
            p,
            window: Window::new(p.window_size),
            trends: Trends::new(trend),
            full_at: None,
            baseline: None,
            crossed: None,
            last_p50: 0,
            spike: Rule::default(),
            spike_p95: None,
            leak: Rule::default(),
        }
    }

    pub fn window(&self) -> &Window {
        &self.window
    }

    pub fn baseline(&self) -> Option<u64> {
        self.baseline
    }

    /// The target cgroup's limit (MEMORY_LIMIT wins when set).
    pub fn set_cgroup_limit(&mut self, limit: Option<u64>) {
        self.trends.set_cgroup_limit(limit);
    }

    /// Forgets everything (a new incarnation) but the known limit.
    pub fn reset(&mut self) {
        self.window.clear();
        self.trends.reset();
        self.full_at = None;
        self.baseline = None;
        self.crossed = None;
        self.last_p50 = 0;
        self.spike = Rule::default();
        self.spike_p95 = None;
        self.leak = Rule::default();
    }

    /// Feeds one sample taken at `now`.
    pub fn on_sample(&mut self, now: Instant, bytes: u64) -> Option<Event> {
        let secs = self.trends.secs(now);
        let p95_before = if self.window.is_full() {
            self.window.percentile(95)
        } else {
            None
        };
        self.window.push(bytes);
        if !self.window.is_full() {
            return None;
        }
        let full_at = *self.full_at.get_or_insert(secs);
        let (p50, p95) = self.window.p50_p95()?;
        self.last_p50 = p50;
        let fresh = self.trends.observe(now, p50);
        let baseline = self.baseline.unwrap_or(p50);
        let event = |kind, dump| Event {
            kind,
            bytes,
            p50,
            p95,
            baseline,
            dump,
        };
        if let Some(p95) = p95_before {
            let over = |p95: u64| {
                u128::from(bytes) * 1_000_000
                    > u128::from(p95) * u128::from(self.p.spike_multiplier_micros)
            };
            let spike = over(p95);
            if self.spike.holds && !spike && self.spike_p95.is_some_and(over) {
                // A jump that lands over several ticks: the same episode.
                return None;
            }
            if !self.spike.holds || self.spike_p95.is_none() {
                self.spike_p95 = spike.then_some(p95);
            }
            if let Some(dump) = self.spike.check(spike, now, self.p.spike_cooldown) {
                return Some(event(Kind::Spike, dump));
            }
            if spike {
                return None;
            }
        }
        let Some(baseline) = self.baseline else {
            if fresh && self.settled(secs, full_at, p50) {
                self.baseline = Some(p50);
                self.trends.start();
                return Some(event(Kind::Baseline, false));
            }
            return None;
        };
        let over = u128::from(p50) > u128::from(baseline) + u128::from(self.p.threshold_bytes);
        let rising = over && self.rising(secs, p50);
        if over && !rising {
            let since = *self.crossed.get_or_insert(secs);
            if secs.saturating_sub(since) >= STEP_CONFIRM_S {
                // Growth that stopped: a step, not a leak.
                self.baseline = Some(p50);
                self.crossed = None;
                self.trends.start();
            }
        } else if !over {
            self.crossed = None;
        }
        if let Some(dump) = self.leak.check(rising, now, self.p.leak_cooldown) {
            return Some(event(Kind::SlowLeak, dump));
        }
        let (kind, dump) = self.trends.check(now)?;
        Some(event(kind, dump))
    }

    /// Memory no longer decelerates (or waited long enough).
    fn settled(&self, secs: u32, full_at: u32, p50: u64) -> bool {
        let age = secs.saturating_sub(full_at);
        if age >= SETTLE_MAX_S {
            return true;
        }
        if age < 2 * SETTLE_STEP_S {
            return false;
        }
        let ring = self.trends.ring();
        let (Some(m15), Some(m30)) = (
            ring.at(secs - SETTLE_STEP_S),
            ring.at(secs - 2 * SETTLE_STEP_S),
        ) else {
            return false;
        };
        let (m0, m15, m30) = (p50 as i128, m15.p50 as i128, m30.p50 as i128);
        (m15 - m30) - (m0 - m15) <= i128::from(self.p.threshold_bytes / 2)
    }

    /// P50 rose by more than threshold / 8 in each of three consecutive
    /// intervals ending now, for some interval length.
    fn rising(&self, secs: u32, p50: u64) -> bool {
        let step = i128::from(self.p.threshold_bytes / 8);
        let ring = self.trends.ring();
        STAIRS_S.iter().any(|&d| {
            let mut prev = p50 as i128;
            (1..=STAIRS).all(|k| {
                let Some(p) = secs.checked_sub(k * d).and_then(|t| ring.at(t)) else {
                    return false;
                };
                let ok = prev - p.p50 as i128 > step;
                prev = p.p50 as i128;
                ok
            })
        })
    }

    /// Whether the event's condition still holds (a failed capture is
    /// retried only then); true for kinds that are not this detector's.
    pub fn holds(&self, kind: Kind) -> bool {
        match kind {
            Kind::Spike => self.spike.holds,
            Kind::SlowLeak => self.leak.holds,
            k => self.trends.holds(k).unwrap_or(true),
        }
    }

    /// The event's capture was taken, is impossible or failed for good: the
    /// baseline moves to the current P50 (spike and leaks) and the cooldowns start.
    pub fn handled(&mut self, kind: Kind, now: Instant) {
        match kind {
            Kind::Spike => {
                self.spike.handled(now);
                self.leak.cooldown_from(now);
            }
            Kind::SlowLeak => self.leak.handled(now),
            Kind::LeakRate => self.leak.cooldown_from(now),
            _ => {}
        }
        if matches!(kind, Kind::Spike | Kind::SlowLeak | Kind::LeakRate) {
            self.baseline = self.baseline.map(|_| self.last_p50);
            self.crossed = None;
        }
        self.trends.handled(kind, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MB: u64 = 1_000_000;

    fn robust() -> Robust {
        let cooldown = Duration::from_secs(600);
        let p = Params {
            window_size: 60,
            threshold_bytes: 100 * MB,
            spike_multiplier_micros: 3_000_000,
            spike_cooldown: cooldown,
            leak_cooldown: cooldown,
        };
        Robust::new(p, TrendParams::off(cooldown))
    }

    /// Feeds `f(seconds)` every 10 s from `from` for `hours`, handling every
    /// dump at once; returns the events with their time.
    fn feed(
        r: &mut Robust,
        t0: Instant,
        from: u64,
        hours: f64,
        f: impl Fn(f64) -> u64,
    ) -> Vec<(u64, Event)> {
        let mut out = Vec::new();
        let end = from + (hours * 3600.0) as u64;
        for s in (from..end).step_by(10) {
            let now = t0 + Duration::from_secs(s);
            if let Some(e) = r.on_sample(now, f(s as f64)) {
                if e.dump {
                    r.handled(e.kind, now);
                }
                out.push((s, e));
            }
        }
        out
    }

    /// A little deterministic jitter (±0.3 %), so fits have residuals.
    fn jitter(s: f64) -> f64 {
        ((s * 0.7).sin() + (s * 1.3).cos()) * 1.5 * MB as f64
    }

    #[test]
    fn a_warm_up_raises_nothing_and_the_baseline_waits_for_the_plateau() {
        let t0 = Instant::now();
        let mut r = robust();
        let warm =
            |s: f64| (1000.0 * MB as f64 * (1.0 - 0.75 * (-s / 360.0).exp()) + jitter(s)) as u64;
        let ev = feed(&mut r, t0, 0, 6.0, warm);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let (at, e) = ev[0];
        assert_eq!((e.kind, e.dump), (Kind::Baseline, false));
        // Not before 30 min after the window filled, and on the plateau.
        assert!(at >= 40 * 60, "baseline at {at} s");
        assert!(e.p50 > 990 * MB, "{e:?}");
    }

    #[test]
    fn a_step_that_stays_flat_is_not_a_leak() {
        let t0 = Instant::now();
        let mut r = robust();
        let step =
            |s: f64| ((if s < 7200.0 { 1000.0 } else { 1250.0 }) * MB as f64 + jitter(s)) as u64;
        let ev = feed(&mut r, t0, 0, 6.0, step);
        assert!(ev.iter().all(|(_, e)| !e.dump), "{ev:?}");
        // The baseline moved to the new level, silently.
        assert!(r.baseline().is_some_and(|b| b > 1200 * MB));
    }

    #[test]
    fn a_steady_leak_is_caught_and_a_spike_at_once() {
        let t0 = Instant::now();
        let mut r = robust();
        let leak = |s: f64| {
            (1000.0 * MB as f64 * (1.0 + 0.1 * ((s - 3600.0).max(0.0) / 3600.0)) + jitter(s)) as u64
        };
        let ev = feed(&mut r, t0, 0, 3.0, leak);
        let first = ev.iter().find(|(_, e)| e.dump).expect("caught");
        assert!(
            matches!(first.1.kind, Kind::LeakRate | Kind::SlowLeak),
            "{first:?}"
        );
        assert!(
            first.0 > 3600 && first.0 < 3600 + 3600,
            "after {} s",
            first.0
        );
        // The leak still holds; a spike is caught on its first sample.
        let now = t0 + Duration::from_secs(3 * 3600);
        let e = r.on_sample(now, 5000 * MB).expect("spike");
        assert_eq!((e.kind, e.dump), (Kind::Spike, true));
        assert!(r.holds(Kind::Spike) && r.holds(Kind::OomKill));
        r.handled(Kind::Spike, now);
        r.reset();
        assert_eq!((r.baseline(), r.window().len()), (None, 0));
    }
    #[test]
    fn a_jump_that_lands_over_several_ticks_is_one_spike_episode() {
        let t0 = Instant::now();
        let mut r = robust();
        feed(&mut r, t0, 0, 1.0, |_| 1000 * MB);
        // 1 GB -> 26 GB over ten ticks: P95 catches up with the climb, yet
        // it is one episode, reported once and still holding.
        let climb: Vec<u64> = (1..=10).map(|i| 1000 * MB + i * 2500 * MB).collect();
        let mut events = Vec::new();
        for (i, &b) in climb.iter().enumerate() {
            let now = t0 + Duration::from_secs(3600 + 10 * i as u64);
            if let Some(e) = r.on_sample(now, b) {
                if e.dump {
                    r.handled(e.kind, now);
                }
                events.push(e);
            }
            assert!(r.holds(Kind::Spike), "tick {i}: the episode holds");
        }
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!((events[0].kind, events[0].dump), (Kind::Spike, true));
    }
}
