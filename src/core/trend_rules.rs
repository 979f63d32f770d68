//! The trend rules (issue 10), pure, each with its own cooldown (DUMP_COOLDOWN):
//!
//! - `leak-rate`: memory grows in a straight line (`core::trend::growing`)
//!   faster than `LEAK_RATE_THRESHOLD` (a size per hour, or a percentage
//!   of the known limit per hour);
//! - `time-to-limit`: with a known limit, the same fit (any positive rate)
//!   reaches the limit sooner than `TIME_TO_LIMIT_THRESHOLD`;
//! - `growth`: P50 now is `GROWTH_PERCENT` above P50 `GROWTH_PERIOD` ago
//!   (within the incarnation, since memory settled).
//!
//! The host (robust, or compat when a trend setting is given) feeds the
//! window's P50 each tick and says from when fits may start.

use std::time::{Duration, Instant};

use crate::core::event::Kind;
use crate::core::trend::{growing, Point, Ring, POINT_S};

/// `LEAK_RATE_THRESHOLD`: a size per hour, or basis points of the known limit per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    BytesPerHour(u64),
    LimitBasisPointsPerHour(u32),
}

impl Rate {
    /// Bytes per hour, `None` for a percentage while no limit is known.
    pub fn bytes_per_hour(self, limit: Option<u64>) -> Option<f64> {
        match self {
            Rate::BytesPerHour(b) => Some(b as f64),
            Rate::LimitBasisPointsPerHour(bp) => limit.map(|l| l as f64 * f64::from(bp) / 10_000.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrendParams {
    pub leak_rate: Option<Rate>,
    /// The least rise a leak-rate or time-to-limit fit must show (bytes).
    pub rise_min: u64,
    pub time_to_limit: Option<Duration>,
    /// GROWTH_PERCENT (whole percent) over GROWTH_PERIOD.
    pub growth: Option<(u32, Duration)>,
    /// DUMP_COOLDOWN, for each rule on its own.
    pub cooldown: Duration,
    /// MEMORY_LIMIT: the known limit, over the cgroup's.
    pub memory_limit: Option<u64>,
}

impl TrendParams {
    /// No trend rule set (robust still runs its default leak-rate).
    pub fn off(cooldown: Duration) -> TrendParams {
        TrendParams {
            leak_rate: None,
            rise_min: 0,
            time_to_limit: None,
            growth: None,
            cooldown,
            memory_limit: None,
        }
    }

    /// Whether any trend rule was set.
    pub fn any(&self) -> bool {
        self.leak_rate.is_some() || self.time_to_limit.is_some() || self.growth.is_some()
    }
}

/// One rule's cooldown and episode (as in the drop-in rules): a dump when
/// the cooldown allows, else one report per episode; no second dump while
/// the first is not handled yet.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rule {
    pub last_dump: Option<Instant>,
    reported: bool,
    pending: bool,
    pub holds: bool,
}

impl Rule {
    /// The rule's condition is `holds` at `now`: `Some(dump)` when to report.
    pub fn check(&mut self, holds: bool, now: Instant, cooldown: Duration) -> Option<bool> {
        self.holds = holds;
        if !holds {
            self.reported = false;
            self.pending = false;
            return None;
        }
        if self.pending {
            return None;
        }
        let ready = self
            .last_dump
            .is_none_or(|t| now.saturating_duration_since(t) >= cooldown);
        let first = !std::mem::replace(&mut self.reported, true);
        if ready {
            self.pending = true;
            return Some(true);
        }
        first.then_some(false)
    }

    /// The dump was taken (or is impossible): the cooldown starts.
    pub fn handled(&mut self, now: Instant) {
        self.last_dump = Some(now);
        self.pending = false;
        self.reported = true;
    }
}

impl Rule {
    /// Starts the cooldown without a dump of this rule's own (a spike dump
    /// restarts the leak cooldowns).
    pub fn cooldown_from(&mut self, now: Instant) {
        self.last_dump = Some(now);
    }
}

/// The trend rules of one target: the P50 ring and three rules.
pub struct Trends {
    p: TrendParams,
    ring: Ring,
    origin: Option<Instant>,
    next_point: u32,
    /// Fits start here; `None` until the host says memory has settled.
    from: Option<u32>,
    limit: Option<u64>,
    rate: Rule,
    ttl: Rule,
    growth: Rule,
}

impl Trends {
    pub fn new(p: TrendParams) -> Trends {
        Trends {
            p,
            ring: Ring::default(),
            origin: None,
            next_point: 0,
            from: None,
            limit: p.memory_limit,
            rate: Rule::default(),
            ttl: Rule::default(),
            growth: Rule::default(),
        }
    }

    pub fn params(&self) -> &TrendParams {
        &self.p
    }

    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The target cgroup's limit: the known limit is MEMORY_LIMIT when
    /// set, else this (for `%/h` rates and time-to-limit).
    pub fn set_cgroup_limit(&mut self, cgroup: Option<u64>) {
        self.limit = self.p.memory_limit.or(cgroup);
    }

    /// A new incarnation: forget everything but the limit.
    pub fn reset(&mut self) {
        let limit = self.limit;
        *self = Trends::new(self.p);
        self.limit = limit;
    }

    /// Seconds since the incarnation's first sample.
    pub fn secs(&mut self, now: Instant) -> u32 {
        let origin = *self.origin.get_or_insert(now);
        u32::try_from(now.saturating_duration_since(origin).as_secs()).unwrap_or(u32::MAX)
    }

    /// Records the window's P50 (one point a minute); true when a point was added.
    fn record(&mut self, now: Instant, p50: u64) -> bool {
        let secs = self.secs(now);
        if secs < self.next_point {
            return false;
        }
        self.ring.push(Point { secs, p50 });
        self.next_point = secs.saturating_add(POINT_S);
        true
    }

    /// Fits start from the latest point on (memory settled, or a leak was handled).
    pub fn start(&mut self) {
        self.start_back(0);
    }

    /// Fits start `back` seconds before the latest point.
    pub fn start_back(&mut self, back: u32) {
        self.from = Some(self.ring.last().map_or(0, |p| p.secs.saturating_sub(back)));
    }

    /// Records the window's P50 and, on a new point, re-evaluates the
    /// rules (once fits may start). True when a point was added.
    pub fn observe(&mut self, now: Instant, p50: u64) -> bool {
        let fresh = self.record(now, p50);
        if let (true, Some(from)) = (fresh, self.from) {
            self.evaluate(from, p50);
        }
        fresh
    }

    /// Whether fits may start (memory settled).
    pub fn started(&self) -> bool {
        self.from.is_some()
    }

    /// Reports one event at most: the first rule that holds.
    pub fn check(&mut self, now: Instant) -> Option<(Kind, bool)> {
        self.from?;
        let cd = self.p.cooldown;
        let (r, t, g) = (self.rate.holds, self.ttl.holds, self.growth.holds);
        if let Some(d) = self.rate.check(r, now, cd) {
            return Some((Kind::LeakRate, d));
        }
        if let Some(d) = self.ttl.check(t, now, cd) {
            return Some((Kind::TimeToLimit, d));
        }
        self.growth.check(g, now, cd).map(|d| (Kind::Growth, d))
    }

    fn evaluate(&mut self, from: u32, p50: u64) {
        let rise = self.p.rise_min as f64;
        let rate = self.p.leak_rate.and_then(|r| r.bytes_per_hour(self.limit));
        self.rate.holds = rate.is_some_and(|r| growing(&self.ring, from, rise, r).is_some());
        self.ttl.holds = match (self.p.time_to_limit, self.limit) {
            (Some(bound), Some(limit)) => growing(&self.ring, from, rise, 0.0).is_some_and(|f| {
                let hours = limit.saturating_sub(p50) as f64 / f.slope;
                hours * 3600.0 < bound.as_secs_f64()
            }),
            _ => false,
        };
        self.growth.holds = match (self.p.growth, self.ring.last()) {
            (Some((pct, period)), Some(last)) => {
                let period = u32::try_from(period.as_secs()).unwrap_or(u32::MAX);
                last.secs
                    .checked_sub(period)
                    .filter(|&t| t >= from)
                    .is_some_and(|t| {
                        self.ring.at(t).is_some_and(|then| {
                            u128::from(p50) * 100 >= u128::from(then.p50) * u128::from(100 + pct)
                        })
                    })
            }
            _ => false,
        };
    }

    /// Whether the rule's condition still holds; `None` for other kinds.
    pub fn holds(&self, kind: Kind) -> Option<bool> {
        match kind {
            Kind::LeakRate => Some(self.rate.holds),
            Kind::TimeToLimit => Some(self.ttl.holds),
            Kind::Growth => Some(self.growth.holds),
            _ => None,
        }
    }

    /// The event's capture was handled: its cooldown starts. A leak (of
    /// either rule) also restarts the fits, so the next leak-rate alert
    /// needs fresh evidence.
    pub fn handled(&mut self, kind: Kind, now: Instant) {
        match kind {
            Kind::LeakRate | Kind::SlowLeak => {
                if kind == Kind::LeakRate {
                    self.rate.handled(now);
                } else {
                    self.rate.cooldown_from(now);
                }
                if self.from.is_some() {
                    self.start();
                }
            }
            Kind::Spike => self.rate.cooldown_from(now),
            Kind::TimeToLimit => self.ttl.handled(now),
            Kind::Growth => self.growth.handled(now),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    fn params() -> TrendParams {
        TrendParams {
            rise_min: 20 * MB,
            ..TrendParams::off(Duration::from_secs(600))
        }
    }

    /// P50 `f(minute)` every 10 s for `minutes`; dumps handled at once.
    fn run(t: &mut Trends, f: impl Fn(u64) -> u64, minutes: u64) -> Vec<(u64, Kind, bool)> {
        let t0 = Instant::now();
        let mut out = Vec::new();
        for s in (0..minutes * 60).step_by(10) {
            let now = t0 + Duration::from_secs(s);
            t.observe(now, f(s / 60));
            if s == 0 {
                t.start();
            }
            if let Some((k, dump)) = t.check(now) {
                if dump {
                    t.handled(k, now);
                }
                out.push((s / 60, k, dump));
            }
        }
        out
    }

    fn leak(m: u64) -> u64 {
        1000 * MB + m * MB + [0, 2, 1, 3][m as usize % 4] * MB
    }

    #[test]
    fn leak_rate_in_bytes_or_percent_of_the_limit() {
        let mut p = params();
        p.leak_rate = Some(Rate::BytesPerHour(30 * MB));
        let ev = run(&mut Trends::new(p), leak, 180);
        assert_eq!(ev.first().map(|e| (e.1, e.2)), Some((Kind::LeakRate, true)));
        // A percentage without a known limit is off; with one it works.
        p.leak_rate = Some(Rate::LimitBasisPointsPerHour(100));
        assert!(run(&mut Trends::new(p), leak, 180).is_empty());
        let mut t = Trends::new(p);
        t.set_cgroup_limit(Some(4000 * MB));
        assert!(!run(&mut t, leak, 180).is_empty());
        assert_eq!(
            Rate::LimitBasisPointsPerHour(150).bytes_per_hour(Some(1000)),
            Some(15.0)
        );
    }

    #[test]
    fn time_to_limit_and_growth() {
        let mut p = params();
        p.time_to_limit = Some(Duration::from_secs(3 * 3600));
        p.memory_limit = Some(1200 * MB);
        // 60 MB/h from 1000 MB: the limit is 3 h 20 min away at first.
        let ev = run(&mut Trends::new(p), leak, 180);
        let (m, k, dump) = ev[0];
        assert_eq!((k, dump), (Kind::TimeToLimit, true));
        assert!(m >= 20, "at minute {m}");
        let mut p = params();
        p.growth = Some((5, Duration::from_secs(3600)));
        let ev = run(&mut Trends::new(p), leak, 120);
        let (m, k, _) = ev[0];
        // 60 MB over the hour is 6 %: reported once the hour is covered.
        assert_eq!((k, m), (Kind::Growth, 60));
        assert!(run(&mut Trends::new(p), |_| 1000 * MB, 120).is_empty());
    }

    #[test]
    fn a_held_back_detection_is_reported_once_and_waits_for_handled() {
        let t0 = Instant::now();
        let cd = Duration::from_secs(60);
        let mut r = Rule::default();
        assert_eq!(r.check(true, t0, cd), Some(true));
        assert_eq!(
            r.check(true, t0, cd),
            None,
            "not handled yet: no second dump"
        );
        r.handled(t0);
        assert_eq!(r.check(true, t0 + cd / 2, cd), None, "same episode");
        assert_eq!(r.check(false, t0 + cd / 2, cd), None);
        assert_eq!(
            r.check(true, t0 + cd / 2, cd),
            Some(false),
            "new episode, cooldown"
        );
        assert_eq!(r.check(true, t0 + cd, cd), Some(true), "cooldown over");
    }
}
