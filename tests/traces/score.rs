//! Scoring a detector's alerts against a trace's labels: shared by
//! `examples/bench_detect.rs` and `tests/detect_suite.rs`.
//!
//! Only alerts that take a dump count. An alert inside a label's span
//! (`onset ..= end + GRACE_S`) is legitimate and the first one after the
//! onset catches the label; any other alert is false.
#![allow(dead_code)]

use super::suite::{Label, LabelKind, Trace};

/// After a spike or a leak ends, the window still holds it for one window.
pub(crate) const GRACE_S: f64 = 600.0;

/// One alert: replay's `t`, the event name, whether it took a dump.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Alert {
    pub t: f64,
    pub event: String,
    pub dump: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    /// Per label: the latency from onset to the first alert, `None` = missed.
    pub caught: Vec<(Label, Option<f64>)>,
    /// Dump-taking alerts outside every label span.
    pub false_alerts: Vec<Alert>,
    pub dumps: usize,
}

pub(crate) fn score(trace: &Trace, alerts: &[Alert]) -> Outcome {
    let dumps: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.dump && a.event != "baseline")
        .collect();
    let within = |l: &Label, t: f64| t >= l.onset && t <= l.end + GRACE_S;
    let caught = trace
        .labels
        .iter()
        .map(|l| {
            let first = dumps.iter().find(|a| within(l, a.t));
            (*l, first.map(|a| a.t - l.onset))
        })
        .collect();
    let false_alerts = dumps
        .iter()
        .filter(|a| !trace.labels.iter().any(|l| within(l, a.t)))
        .map(|a| (*a).clone())
        .collect();
    Outcome {
        caught,
        false_alerts,
        dumps: dumps.len(),
    }
}

/// The median of the latencies of caught leaks (spikes are caught at once by both detectors).
pub(crate) fn median_leak_latency(outcomes: &[Outcome]) -> Option<f64> {
    let mut v: Vec<f64> = outcomes
        .iter()
        .flat_map(|o| o.caught.iter())
        .filter(|(l, _)| l.kind == LabelKind::Leak)
        .filter_map(|(_, lat)| *lat)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Parses replay's JSON lines (`{"t": 12.0, "event": "spike", ..., "dump": true}`).
pub(crate) fn parse_json_lines(out: &str) -> Vec<Alert> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("replay prints JSON lines");
            Alert {
                t: v["t"].as_f64().expect("t"),
                event: v["event"].as_str().expect("event").to_string(),
                dump: v["dump"].as_bool().expect("dump"),
            }
        })
        .collect()
}

pub(crate) fn minutes(s: f64) -> String {
    if s >= 3600.0 {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    } else {
        format!("{:.1}m", s / 60.0)
    }
}
