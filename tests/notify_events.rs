//! The notified events that belong to no detection (NAMES.md):
//! `target-missing` once per absence longer than TARGET_MISSING_AFTER, and
//! `spool-full` once while the spool refuses dumps, and `uploads-blocked`
//! once while S3 refuses every dump (credentials it does not accept) — each a
//! signed webhook checked by `standardwebhooks`, against the real binary,
//! real processes and a real S3 server (s3s-fs).

mod common;
#[path = "common/hook.rs"]
mod hook;
#[path = "common/s3_server.rs"]
mod s3_server;

use std::time::Duration;

use common::*;
use hook::{verify_webhook, HookServer};
use s3_server::{S3Server, ACCESS_KEY, SECRET_KEY};
use serde_json::Value;

const T: Duration = Duration::from_secs(30);
const PROFILING: (&str, &str) = (
    "MALLOC_CONF",
    "prof:true,prof_active:true,lg_prof_sample:19",
);
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

#[test]
fn s3_refusing_every_dump_is_told_once_and_nothing_is_lost() {
    let s3 = S3Server::start(&["dumps"]);
    let dir = scratch("notify-blocked");
    let hooks = HookServer::start(&dir, "ok");
    let name = unique_name("mmblock", 12);
    let _target = start_target(
        &named_target(&dir, &name),
        &["--base-mb", "8", "--exit-after-secs", "60"],
        &[PROFILING],
    );
    let spool = dir.join("spool");
    let endpoint = s3.endpoint();
    let m = monitor(&[
        ("BINARY_NAME", &name),
        ("SPOOL_DIR", spool.to_str().unwrap()),
        ("S3_BUCKET", "dumps"),
        ("S3_PATH_PREFIX", "blocked/"),
        ("AWS_ENDPOINT_URL_S3", &endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        // A key the server does not know: every PUT is refused (403).
        ("AWS_SECRET_ACCESS_KEY", &format!("{SECRET_KEY}-wrong")),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("WEBHOOK_URL", &hooks.url("/in")),
        ("WEBHOOK_SECRET", SECRET),
    ]);
    m.wait_for("uploads-blocked", T, |l| {
        l.contains("event=uploads-blocked")
    });
    let blocked = of_type(&hooks.wait_for(1, T), "memory.uploads_blocked");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(blocked.len(), 1, "told once per episode");
    assert_eq!(
        of_type(&hooks.requests(), "memory.uploads_blocked").len(),
        1
    );
    let logged = m.events("uploads-blocked");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("SignatureDoesNotMatch"), "{logged:?}");
    // The baseline dump waits in the spool, not in quarantine.
    let pending = std::fs::read_dir(&spool)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pprof"))
        .count();
    assert_eq!(pending, 1, "the dump is kept for later");
}
