//! The detector a target runs (`DETECTION`): the drop-in rules (`compat`,
//! the default, exactly PRODUCT §1) or `robust`. Both keep the detector
//! contract (`on_sample`, `handled`, `holds`, `reset`, `baseline`, `window`)
//! behind one enum: no `dyn`, no allocation per tick.
//!
//! The trend rules (`leak-rate`, `time-to-limit`, `growth`) run in robust
//! always (leak-rate by default); in compat only when one is set, and then
//! beside the §1 rules, never changing them: fits start once compat has its
//! baseline, and a trend event is reported only on a tick where the §1
//! rules report nothing.

use std::time::Instant;

use crate::core::detector::{Detector, Event, Params};
use crate::core::event::Kind;
use crate::core::robust::Robust;
use crate::core::trend_rules::{TrendParams, Trends};
use crate::core::window::Window;

/// `DETECTION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detection {
    #[default]
    Compat,
    Robust,
}

impl Detection {
    pub fn parse(s: &str) -> Option<Detection> {
        match s.trim().to_ascii_lowercase().as_str() {
            "compat" => Some(Detection::Compat),
            "robust" => Some(Detection::Robust),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Detection::Compat => "compat",
            Detection::Robust => "robust",
        }
    }
}

/// Everything a detector is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectParams {
    pub detection: Detection,
    pub rules: Params,
    pub trend: TrendParams,
}

impl DetectParams {
    /// The drop-in rules alone (DETECTION=compat, no trend setting).
    pub fn compat(rules: Params) -> DetectParams {
        DetectParams {
            detection: Detection::Compat,
            rules,
            trend: TrendParams::off(rules.leak_cooldown),
        }
    }
}

pub enum Detectors {
    Compat(Detector, Option<Trends>),
    Robust(Robust),
}

impl Detectors {
    pub fn new(p: DetectParams) -> Detectors {
        match p.detection {
            Detection::Compat => {
                let trends = p.trend.any().then(|| {
                    let mut t = p.trend;
                    t.rise_min = p.rules.threshold_bytes / 2;
                    Trends::new(t)
                });
                Detectors::Compat(Detector::new(p.rules), trends)
            }
            Detection::Robust => Detectors::Robust(Robust::new(p.rules, p.trend)),
        }
    }

    pub fn window(&self) -> &Window {
        match self {
            Detectors::Compat(d, _) => d.window(),
            Detectors::Robust(r) => r.window(),
        }
    }

    pub fn baseline(&self) -> Option<u64> {
        match self {
            Detectors::Compat(d, _) => d.baseline(),
            Detectors::Robust(r) => r.baseline(),
        }
    }

    /// The target cgroup's limit: the known limit for `%/h` leak rates and
    /// time-to-limit is MEMORY_LIMIT when set, else this.
    pub fn set_cgroup_limit(&mut self, limit: Option<u64>) {
        match self {
            Detectors::Compat(_, Some(t)) => t.set_cgroup_limit(limit),
            Detectors::Compat(_, None) => {}
            Detectors::Robust(r) => r.set_cgroup_limit(limit),
        }
    }

    /// Forgets everything: a new process incarnation starts from scratch.
    pub fn reset(&mut self) {
        match self {
            Detectors::Compat(d, t) => {
                d.reset();
                if let Some(t) = t {
                    t.reset();
                }
            }
            Detectors::Robust(r) => r.reset(),
        }
    }

    /// Feeds one sample taken at `now`.
    pub fn on_sample(&mut self, now: Instant, bytes: u64) -> Option<Event> {
        let (d, trends) = match self {
            Detectors::Robust(r) => return r.on_sample(now, bytes),
            Detectors::Compat(d, None) => return d.on_sample(now, bytes),
            Detectors::Compat(d, Some(t)) => (d, t),
        };
        let event = d.on_sample(now, bytes);
        let Some((p50, p95)) = d.window().p50_p95().filter(|_| d.window().is_full()) else {
            return event;
        };
        trends.observe(now, p50);
        if let (Some(_), false) = (d.baseline(), trends.started()) {
            trends.start();
        }
        if event.is_some() {
            return event;
        }
        let (kind, dump) = trends.check(now)?;
        Some(Event {
            kind,
            bytes,
            p50,
            p95,
            baseline: d.baseline().unwrap_or(p50),
            dump,
        })
    }

    /// The event's capture was taken, is impossible, or failed for good:
    /// the baseline moves and the cooldowns start (see each detector).
    pub fn handled(&mut self, kind: Kind, now: Instant) {
        match self {
            Detectors::Compat(d, t) => {
                d.handled(kind, now);
                if let Some(t) = t {
                    t.handled(kind, now);
                }
            }
            Detectors::Robust(r) => r.handled(kind, now),
        }
    }

    /// Whether the condition of `kind` still holds (true for kinds that are
    /// not the detector's).
    pub fn holds(&self, kind: Kind) -> bool {
        match self {
            Detectors::Compat(d, t) => {
                d.holds(kind) && t.as_ref().and_then(|t| t.holds(kind)).unwrap_or(true)
            }
            Detectors::Robust(r) => r.holds(kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::trend_rules::Rate;
    use std::time::Duration;

    const MB: u64 = 1_000_000;

    /// Feeds a leaking trace every 10 s, handling dumps at once.
    fn events(d: &mut Detectors) -> Vec<(u64, Event)> {
        let t0 = Instant::now();
        let mut out = Vec::new();
        for s in (0..4 * 3600).step_by(10) {
            let now = t0 + Duration::from_secs(s);
            let wiggle = [0, 3, 1, 4, 2][(s / 10) as usize % 5] * MB;
            let spike = if s == 3 * 3600 { 4 } else { 1 };
            let bytes = (1000 * MB + s * 20 * MB / 3600 + wiggle) * spike;
            if let Some(e) = d.on_sample(now, bytes) {
                if e.dump {
                    d.handled(e.kind, now);
                }
                out.push((s, e));
            }
        }
        out
    }

    #[test]
    fn a_trend_setting_adds_its_rule_to_compat_and_changes_nothing_else() {
        let cd = Duration::from_secs(600);
        let rules = Params {
            window_size: 60,
            threshold_bytes: 50 * MB,
            spike_multiplier_micros: 3_000_000,
            spike_cooldown: cd,
            leak_cooldown: cd,
        };
        let plain = events(&mut Detectors::new(DetectParams::compat(rules)));
        let mut p = DetectParams::compat(rules);
        p.trend.leak_rate = Some(Rate::BytesPerHour(10 * MB));
        let with_trend = events(&mut Detectors::new(p));
        let kinds = |v: &[(u64, Event)], rate: bool| -> Vec<(u64, Event)> {
            v.iter()
                .filter(|(_, e)| (e.kind == Kind::LeakRate) == rate)
                .copied()
                .collect()
        };
        assert_eq!(
            kinds(&with_trend, false),
            plain,
            "the §1 events are untouched"
        );
        assert!(!kinds(&with_trend, true).is_empty(), "leak-rate fires");
        assert!(plain.iter().any(|(_, e)| e.kind == Kind::Spike && e.dump));
        // Robust on the same trace: the spike at once, the leak as well.
        let robust = events(&mut Detectors::new(DetectParams {
            detection: Detection::Robust,
            ..DetectParams::compat(rules)
        }));
        assert!(robust
            .iter()
            .any(|(s, e)| *s == 3 * 3600 && e.kind == Kind::Spike && e.dump));
        assert!(robust
            .iter()
            .any(|(_, e)| e.kind == Kind::LeakRate && e.dump));
        assert_eq!(Detection::parse(" ROBUST"), Some(Detection::Robust));
        assert_eq!(Detection::parse("smart"), None);
    }
}
