//! Issue 10's acceptance, kept from regressing: on the labelled trace suite
//! (tests/traces), robust catches every leak and spike with zero false
//! alerts and a median leak latency no worse than compat's; and the real
//! binary's `DETECTION=robust replay --format json` says the same as the
//! library, restarts (`# restart` lines) included.

mod common;

#[path = "traces/run.rs"]
mod run;
#[path = "traces/score.rs"]
mod score;
#[path = "traces/suite.rs"]
mod suite;

use memory_monitor::core::detectors::Detection;

#[test]
fn robust_catches_every_label_without_a_false_alert() {
    let traces = suite::suite();
    assert!(traces.len() >= 15, "at least 15 traces");
    let (mut compat, mut robust) = (Vec::new(), Vec::new());
    for t in &traces {
        let hours = t.hours();
        assert!((2.0..=12.0).contains(&hours), "{}: {hours} h", t.name);
        let r = score::score(t, &run::alerts(t, Detection::Robust));
        for (label, latency) in &r.caught {
            assert!(latency.is_some(), "{}: robust missed {label:?}", t.name);
            if label.kind == suite::LabelKind::Spike {
                assert_eq!(*latency, Some(0.0), "{}: a spike is caught at once", t.name);
            }
        }
        assert!(
            r.false_alerts.is_empty(),
            "{}: robust false alerts {:?}",
            t.name,
            r.false_alerts
        );
        robust.push(r);
        compat.push(score::score(t, &run::alerts(t, Detection::Compat)));
    }
    // The quiet classes are what compat gets wrong: the suite must show it.
    let compat_false: usize = compat.iter().map(|o| o.false_alerts.len()).sum();
    assert!(
        compat_false > 0,
        "the suite no longer tells the detectors apart"
    );
    let (c, r) = (
        score::median_leak_latency(&compat).expect("compat catches leaks"),
        score::median_leak_latency(&robust).expect("robust catches leaks"),
    );
    assert!(r <= c, "robust median leak latency {r} s > compat's {c} s");
}

#[test]
fn the_binary_replays_robust_like_the_library() {
    let dir = common::scratch("detect-suite");
    let traces = suite::suite();
    for name in ["restarts-2h", "leak-after-restart", "spike-long"] {
        let t = traces
            .iter()
            .find(|t| t.name == name)
            .expect("trace in the suite");
        let file = dir.join(format!("{name}.csv"));
        std::fs::write(&file, t.csv()).expect("write trace");
        let threshold = (t.starting_median() / 10).to_string();
        let out = common::replay(
            &file,
            &["--format", "json"],
            &[
                ("DETECTION", "robust"),
                ("CHECK_INTERVAL", "10s"),
                ("MEMORY_CHANGE_THRESHOLD", threshold.as_str()),
                ("DUMP_COOLDOWN", "10m"),
                ("HISTORY_WINDOW_SIZE", "60"),
                ("SPIKE_MULTIPLIER", "3"),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        let from_binary = score::parse_json_lines(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(from_binary, run::alerts(t, Detection::Robust), "{name}");
        // Every incarnation of restarts-2h takes its own baseline.
        if name == "restarts-2h" {
            let baselines = from_binary.iter().filter(|a| a.event == "baseline").count();
            assert_eq!(baselines, 6, "{name}: {from_binary:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
