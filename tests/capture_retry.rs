//! A failed capture does not burn the cooldown (issue 11 item 3): the real
//! binary against a real dump server that closes without a reply, then
//! answers. The failed attempt is retried after 2 s, 4 s, … while the event
//! lasts; after DUMP_RETRIES it is reported once as `dump-failed`.

mod common;
#[path = "common/dump_server.rs"]
mod dump_server;

use std::path::Path;
use std::time::Duration;

use common::*;
use dump_server::{DumpServer, Reply};

const T: Duration = Duration::from_secs(30);

/// Demo-target flags: a process that starts at 8 MiB and leaks 40 MiB/s.
const LEAKING: &[&str] = &[
    "--base-mb",
    "8",
    "--leak-mb-per-sec",
    "40",
    "--exit-after-secs",
    "60",
];

/// Dumps committed to the spool for `reason`.
fn spooled(spool: &Path, reason: &str) -> usize {
    std::fs::read_dir(spool)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && n.ends_with(&format!("-{reason}.pprof")))
                .count()
        })
        .unwrap_or(0)
}

/// A leaking target, a dump server scripted by `script` and a monitor with
/// a 20 MB slow-leak threshold using both; `extra` adds settings.
fn leaker_with_server(
    dir: &Path,
    prefix: &str,
    script: impl Fn(usize) -> Reply + Send + Sync + 'static,
    extra: &[(&str, &str)],
) -> (Proc, DumpServer, Monitor) {
    let name = unique_name(prefix, 12);
    let target = start_target(&named_target(dir, &name), LEAKING, &[]);
    let server = DumpServer::start(&dir.join("dump.sock"), script);
    let spool = dir.join("spool");
    let mut env = vec![
        ("BINARY_NAME", name.as_str()),
        ("MEMORY_CHANGE_THRESHOLD", "20MB"),
        ("SPOOL_DIR", spool.to_str().unwrap()),
        ("HEAP_DUMP_SOCKET", server.path.to_str().unwrap()),
    ];
    env.extend_from_slice(extra);
    let m = monitor(&env);
    (target, server, m)
}

#[test]
fn a_slow_leak_whose_first_capture_fails_still_gets_its_dump() {
    let dir = scratch("retry-leak");
    // Dump 0 is the baseline's; dump 1, the slow leak's, closes without a reply.
    let script = |n| match n {
        1 => Reply::Close,
        _ => Reply::Gzip(format!("dump {n}").into_bytes()),
    };
    let (_target, server, m) = leaker_with_server(&dir, "mmretry", script, &[]);
    m.wait_for("slow-leak", T, |l| {
        l.contains("event=slow-leak") && l.contains("dump=true")
    });
    let failed = m.wait_for("failed attempt", T, |l| {
        l.contains("event=dump-not-taken") && l.contains("reason=slow-leak")
    });
    assert_eq!(field(&failed, "outcome"), Some("empty-reply"), "{failed}");
    let retry = m.wait_for("retry", T, |l| {
        l.contains("event=dump-retry") && l.contains("reason=slow-leak")
    });
    assert_eq!(field(&retry, "after_ms"), Some("2000"), "{retry}");
    m.wait_for("slow-leak dump", T, |l| {
        l.contains("event=dump-spooled") && l.contains("reason=slow-leak")
    });
    assert_eq!(spooled(&dir.join("spool"), "slow-leak"), 1);
    assert!(server.dumps() >= 3, "baseline, failed, retried");
    assert!(m.events("dump-failed").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_baseline_dump_is_retried_too() {
    let dir = scratch("retry-baseline");
    let script = |n| match n {
        0 => Reply::Close,
        _ => Reply::Gzip(b"baseline".to_vec()),
    };
    // A huge threshold: nothing but the baseline dump is asked for.
    let extra = [
        ("MEMORY_CHANGE_THRESHOLD", "100GB"),
        ("SPIKE_MULTIPLIER", "1000"),
    ];
    let (_target, _server, m) = leaker_with_server(&dir, "mmretryb", script, &extra);
    m.wait_for("baseline retry", T, |l| {
        l.contains("event=dump-retry") && l.contains("reason=baseline")
    });
    m.wait_for("baseline dump", T, |l| {
        l.contains("event=dump-spooled") && l.contains("reason=baseline")
    });
    assert_eq!(spooled(&dir.join("spool"), "baseline"), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn after_the_last_retry_the_event_is_reported_once_as_dump_failed() {
    let dir = scratch("retry-failed");
    // The baseline dump answers; every later dump fails.
    let script = |n| match n {
        0 => Reply::Gzip(b"baseline".to_vec()),
        _ => Reply::Close,
    };
    let extra = [("DUMP_RETRIES", "1")];
    let (_target, server, m) = leaker_with_server(&dir, "mmretryf", script, &extra);
    let failed = m.wait_for("dump-failed", T, |l| l.contains("event=dump-failed"));
    assert_eq!(field(&failed, "reason"), Some("slow-leak"), "{failed}");
    assert_eq!(field(&failed, "attempts"), Some("2"), "{failed}");
    assert_eq!(field(&failed, "outcome"), Some("empty-reply"), "{failed}");
    // Handled now: the cooldown (1 h) holds further slow-leak dumps back.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(m.events("dump-failed").len(), 1, "reported once");
    assert_eq!(server.dumps(), 3, "baseline + two attempts");
    assert_eq!(spooled(&dir.join("spool"), "slow-leak"), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
