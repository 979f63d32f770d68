//! Runs a trace through a detector exactly as `memory-monitor replay` does:
//! the trace's CSV (with its `# restart` lines) through `core::replay`,
//! every offered dump handled at once.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use memory_monitor::core::detector::Params;
use memory_monitor::core::detectors::{DetectParams, Detection};
use memory_monitor::core::replay::Replayer;
use memory_monitor::core::trend_rules::TrendParams;

use super::score::Alert;
use super::suite::Trace;

/// Issue 10's settings: window 60, threshold 10 % of the starting median,
/// cooldown 10 min, multiplier 3, at 10 s; no trend setting.
pub(crate) fn params(t: &Trace, detection: Detection) -> DetectParams {
    let cooldown = Duration::from_secs(600);
    DetectParams {
        detection,
        rules: Params {
            window_size: 60,
            threshold_bytes: t.starting_median() / 10,
            spike_multiplier_micros: 3_000_000,
            spike_cooldown: Duration::from_secs(600),
            leak_cooldown: cooldown,
        },
        trend: TrendParams::off(cooldown),
    }
}

pub(crate) fn alerts(t: &Trace, detection: Detection) -> Vec<Alert> {
    let mut r = Replayer::new(params(t, detection), Instant::now());
    let mut out = Vec::new();
    for (i, line) in t.csv().lines().enumerate() {
        if let Some((secs, e)) = r.line(line, i + 1).expect("the suite's CSV replays") {
            out.push(Alert {
                t: secs,
                event: e.kind.as_str().into(),
                dump: e.dump,
            });
        }
    }
    out
}
