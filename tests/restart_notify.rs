//! Restart events are notified and counted like every event: a target that
//! ignores TERM gives `restart-requested` then `restart-failed`, each as a
//! signed webhook, a Slack message with its detail, and a count in
//! `memory_monitor_events_total{reason}`.

mod common;
#[path = "common/hook.rs"]
mod hook;
#[path = "common/prom.rs"]
mod prom;
#[path = "common/restart_util.rs"]
mod restart_util;

use std::time::Duration;

use common::*;
use hook::{verify_webhook, HookServer};
use restart_util::*;

const T: Duration = Duration::from_secs(30);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn requested_and_failed_restarts_are_notified_and_counted() {
    let dir = scratch("restart-notify");
    let slack = HookServer::start(&dir, "ok");
    let receiver = HookServer::start(&dir, "ok");
    let name = unique_name("mmrsn", 12);
    let log = dir.join("signals.log");
    let spool = dir.join("spool");
    // Records TERM and keeps running.
    let target = start_leaker(&name, &log, &["--leak-mb-per-sec", "40"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let m = monitor(&[
        ("BINARY_NAME", name.as_str()),
        ("MEMORY_CHANGE_THRESHOLD", "20MB"),
        ("SPOOL_DIR", spool.to_str().unwrap()),
        ("SLACK_API_TOKEN", "xoxb-restart-test"),
        ("SLACK_API_URL", &slack.url("/api")),
        ("WEBHOOK_URL", &receiver.url("/in")),
        ("WEBHOOK_SECRET", SECRET),
        ("METRICS_ADDR", &format!("127.0.0.1:{port}")),
        ("RESTART_SIGNALS", "TERM"),
        ("RESTART_TIMEOUT", "1s"),
    ]);
    m.wait_for("restart-failed", T, |l| {
        l.contains(" event=restart-failed ")
    });
    assert_eq!(signal_names(&log), ["TERM"]);

    // slow-leak, restart-requested, restart-failed.
    let hooks = receiver.wait_for(3, T);
    let mut types = Vec::new();
    for h in &hooks {
        let raw = h["body"].as_str().unwrap();
        verify_webhook(SECRET, h, raw).expect("signature verifies");
        let v: serde_json::Value = serde_json::from_str(raw).unwrap();
        assert_eq!(v["data"]["pid"], target.proc.pid());
        types.push(v["type"].as_str().unwrap().to_string());
    }
    for want in [
        "memory.slow_leak",
        "memory.restart_requested",
        "memory.restart_failed",
    ] {
        assert!(types.iter().any(|t| t == want), "{want} not in {types:?}");
    }
    let texts: Vec<String> = slack
        .wait_for(3, T)
        .iter()
        .map(|r| {
            let body: serde_json::Value =
                serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            body["text"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    for want in [
        "restart requested: SIGTERM (restart 1 of 1 in 1h)",
        "restart failed: the target is still running 1s after the last signal",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(want)),
            "{want:?} not in {texts:#?}"
        );
    }

    let samples = prom::scrape(port).expect("scrape");
    let pid = target.proc.pid().to_string();
    for reason in ["restart-requested", "restart-failed"] {
        let n = prom::value(
            &samples,
            "memory_monitor_events_total",
            &[("pid", pid.as_str()), ("reason", reason)],
        );
        assert_eq!(n, Some(1.0), "{reason}");
    }
}
