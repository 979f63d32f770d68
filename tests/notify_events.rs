//! The notified events that belong to no detection (NAMES.md):
//! `target-missing` once per absence longer than TARGET_MISSING_AFTER, and
//! `spool-full` once while the spool refuses dumps — each a signed webhook
//! checked by `standardwebhooks`, against the real binary and real processes.

mod common;
#[path = "common/hook.rs"]
mod hook;

use std::time::Duration;

use common::*;
use hook::{verify_webhook, HookServer};
use serde_json::Value;

const T: Duration = Duration::from_secs(30);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn body(request: &Value) -> Value {
    let raw = request["body"].as_str().expect("body");
    verify_webhook(SECRET, request, raw).expect("signature verifies");
    serde_json::from_str(raw).expect("json body")
}

fn of_type(hooks: &[Value], ty: &str) -> Vec<Value> {
    hooks.iter().map(body).filter(|b| b["type"] == ty).collect()
}

#[test]
fn target_missing_is_told_once_per_absence() {
    let dir = scratch("notify-missing");
    let hooks = HookServer::start(&dir, "ok");
    let name = unique_name("mmmiss", 12);
    let m = monitor(&[
        ("BINARY_NAME", &name),
        ("TARGET_MISSING_AFTER", "1s"),
        ("WEBHOOK_URL", &hooks.url("/in")),
        ("WEBHOOK_SECRET", SECRET),
    ]);
    let first = hooks.wait_for(1, T);
    // Time for a second message, of which there must be none.
    std::thread::sleep(Duration::from_millis(2500));
    let missing = of_type(&hooks.requests(), "memory.target_missing");
    assert_eq!(missing.len(), 1, "one message per absence: {first:?}");
    assert_eq!(missing[0]["data"]["target"], name.as_str());
    assert_eq!(missing[0]["data"]["dump"], Value::Null);
    assert_eq!(m.events("target-missing").len(), 1);

    // Found, then gone for good: a new absence, told once more.
    let mut target = start_target(
        &named_target(&dir, &name),
        &["--base-mb", "8", "--exit-after-secs", "60"],
        &[],
    );
    m.wait_for("target-found", T, |l| l.contains("event=target-found"));
    target.signal("KILL");
    let _ = target.wait_timeout(T);
    let all = hooks.wait_for(2, T);
    assert_eq!(of_type(&all, "memory.target_missing").len(), 2, "{all:?}");
    assert_eq!(m.events("target-missing").len(), 2);
}

#[test]
fn a_full_spool_is_told_once_and_the_capture_retried() {
    let dir = scratch("notify-spool-full");
    let hooks = HookServer::start(&dir, "ok");
    let name = unique_name("mmfull", 12);
    let target = start_target(
        &named_target(&dir, &name),
        &["--base-mb", "8", "--exit-after-secs", "60"],
        &[(
            "MALLOC_CONF",
            "prof:true,prof_active:true,lg_prof_sample:19",
        )],
    );
    let m = monitor(&[
        ("BINARY_NAME", &name),
        // Smaller than any heap profile: every dump is refused.
        ("SPOOL_MAX_BYTES", "16"),
        ("DUMP_RETRIES", "2"),
        ("WEBHOOK_URL", &hooks.url("/in")),
        ("WEBHOOK_SECRET", SECRET),
    ]);
    // The baseline dump: refused, retried after 2 s and 4 s, then given up.
    m.wait_for("dump-failed", T, |l| l.contains("event=dump-failed"));
    let full = of_type(&hooks.wait_for(1, T), "memory.spool_full");
    assert_eq!(full.len(), 1, "told once while the spool stays full");
    assert_eq!(full[0]["data"]["pid"], target.pid());
    assert_eq!(m.events("spool-full").len(), 1);
    let refusals = m
        .lines()
        .iter()
        .filter(|l| l.contains("event=dump-not-taken") && l.contains("outcome=spool-full"))
        .count();
    assert_eq!(refusals, 3, "the first attempt and two retries");
}
