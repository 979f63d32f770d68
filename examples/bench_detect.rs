//! `just bench-detect`: replays the labelled trace suite (tests/traces)
//! through both detectors and prints, per trace, what each caught, how late,
//! and its false alerts (only alerts that take a dump), then a summary.
//!
//! Settings (issue 10): window 60 samples at 10 s, threshold 10 % of the
//! trace's starting median, cooldown 10 minutes, multiplier 3.

#[path = "../tests/traces/score.rs"]
mod score;
#[path = "../tests/traces/suite.rs"]
mod suite;

use memory_monitor::core::detectors::Detection;
use score::{median_leak_latency, minutes, Alert, Outcome};
use suite::{LabelKind, Trace};

#[path = "../tests/traces/run.rs"]
mod run;

fn main() {
    let seed = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let traces = suite::suite_seeded(seed);
    debug(&traces);
    println!(
        "{:<20} {:>5}  {:<34} {:<34}",
        "trace", "hours", "compat: caught (latency) / false", "robust: caught (latency) / false"
    );
    let (mut compat, mut robust) = (Vec::new(), Vec::new());
    for t in &traces {
        let c = score::score(t, &run::alerts(t, Detection::Compat));
        let r = score::score(t, &run::alerts(t, Detection::Robust));
        let hours = t.hours();
        println!(
            "{:<20} {:>5.1}  {:<34} {:<34}",
            t.name,
            hours,
            cell(&c),
            cell(&r)
        );
        compat.push(c);
        robust.push(r);
    }
    println!();
    summary("compat", &traces, &compat);
    summary("robust", &traces, &robust);
}

fn cell(o: &Outcome) -> String {
    let mut s = String::new();
    for (l, lat) in &o.caught {
        let k = match l.kind {
            LabelKind::Leak => "leak",
            LabelKind::Spike => "spike",
        };
        s += &match lat {
            Some(x) => format!("{k} {} ", minutes(*x)),
            None => format!("{k} MISSED "),
        };
    }
    if o.caught.is_empty() {
        s += "quiet ";
    }
    s + &format!("/ {}", o.false_alerts.len())
}

fn summary(name: &str, traces: &[Trace], outcomes: &[Outcome]) {
    let labels: usize = traces.iter().map(|t| t.labels.len()).sum();
    let caught: usize = outcomes
        .iter()
        .map(|o| o.caught.iter().filter(|(_, l)| l.is_some()).count())
        .sum();
    let false_alerts: usize = outcomes.iter().map(|o| o.false_alerts.len()).sum();
    let noisy = outcomes
        .iter()
        .filter(|o| !o.false_alerts.is_empty())
        .count();
    let dumps: usize = outcomes.iter().map(|o| o.dumps).sum();
    println!(
        "{name}: caught {caught}/{labels}, false alerts {false_alerts} (on {noisy} traces), median leak latency {}, dumps {dumps}",
        median_leak_latency(outcomes).map_or("-".into(), minutes)
    );
    if std::env::var_os("VERBOSE").is_some() {
        for (t, o) in traces.iter().zip(outcomes) {
            for a in &o.false_alerts {
                println!("  false: {} {} at {}", t.name, a.event, minutes(a.t));
            }
        }
    }
    let _: Option<&Alert> = None;
}

/// `DEBUG=trace-name`: every event of both detectors on that trace.
#[allow(dead_code)]
fn debug(traces: &[Trace]) {
    let Ok(name) = std::env::var("DEBUG") else {
        return;
    };
    for t in traces.iter().filter(|t| t.name == name) {
        for d in [Detection::Compat, Detection::Robust] {
            for a in run::alerts(t, d) {
                println!("{d:?} t={} {} dump={}", minutes(a.t), a.event, a.dump);
            }
        }
    }
}
