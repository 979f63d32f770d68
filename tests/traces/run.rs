//! Runs a trace through a detector the way replay does (a dump-taking
//! event is handled at once; `# restart` resets the detector).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use memory_monitor::core::detector::{Detector, Params};
use memory_monitor::core::robust::{Robust, RobustParams};
use memory_monitor::core::trend_rules::TrendParams;

use super::score::Alert;
use super::suite::{Row, Trace};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Detection {
    Compat,
    Robust,
}

/// Issue 10's settings: window 60, threshold 10 % of the starting median,
/// cooldown 10 min, multiplier 3, at 10 s.
pub fn params(t: &Trace) -> Params {
    Params {
        window_size: 60,
        threshold_bytes: t.starting_median() / 10,
        spike_multiplier_micros: 3_000_000,
        spike_cooldown: Duration::from_secs(600),
        leak_cooldown: Duration::from_secs(600),
    }
}

pub fn alerts(t: &Trace, d: Detection) -> Vec<Alert> {
    let p = params(t);
    let origin = Instant::now();
    let mut out = Vec::new();
    let mut compat = Detector::new(p);
    let mut robust = Robust::new(RobustParams {
        window_size: p.window_size,
        threshold_bytes: p.threshold_bytes,
        spike_multiplier_micros: p.spike_multiplier_micros,
        spike_cooldown: p.spike_cooldown,
        leak_cooldown: p.leak_cooldown,
        trend: TrendParams {
            leak_rate: None,
            rise_min: 0,
            time_to_limit: None,
            growth: None,
            cooldown: p.leak_cooldown,
        },
    });
    for r in &t.rows {
        let (secs, bytes) = match *r {
            Row::Restart => {
                compat.reset();
                robust.reset();
                continue;
            }
            Row::Sample(s, b) => (s, b),
        };
        let now = origin + Duration::from_secs_f64(secs);
        match d {
            Detection::Compat => {
                if let Some(e) = compat.on_sample(now, bytes) {
                    out.push(Alert {
                        t: secs,
                        event: e.kind.as_str().into(),
                        dump: e.dump,
                    });
                }
            }
            Detection::Robust => {
                if let Some(e) = robust.on_sample(now, bytes) {
                    if e.dump {
                        robust.handled(e.kind, now);
                    }
                    out.push(Alert {
                        t: secs,
                        event: e.kind.as_str().into(),
                        dump: e.dump,
                    });
                }
            }
        }
    }
    out
}
