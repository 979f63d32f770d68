//! Capture bounds (issue 11 item 7), the real binary against a real dump
//! server: `stats` and `dump` each have a total time bound, and a SIGTERM
//! during a capture lets it finish within the capture grace and spools it.

mod common;
#[path = "common/dump_server.rs"]
mod dump_server;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use dump_server::{DumpServer, Reply, Stats};

const T: Duration = Duration::from_secs(30);

/// A quiet target (no leak), a dump server and a monitor using it.
fn quiet_target_with_server(
    dir: &Path,
    prefix: &str,
    server: impl FnOnce(&Path) -> DumpServer,
    extra: &[(&str, &str)],
) -> (Proc, DumpServer, Monitor) {
    let name = unique_name(prefix, 12);
    let target = start_target(&named_target(dir, &name), &["--exit-after-secs", "90"], &[]);
    let server = server(&dir.join("dump.sock"));
    let spool = dir.join("spool");
    let mut env = vec![
        ("BINARY_NAME", name.as_str()),
        ("SPOOL_DIR", spool.to_str().unwrap()),
        ("HEAP_DUMP_SOCKET", server.path.to_str().unwrap()),
    ];
    env.extend_from_slice(extra);
    let m = monitor(&env);
    (target, server, m)
}

fn pprof_files(spool: &Path) -> Vec<String> {
    std::fs::read_dir(spool)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && n.ends_with(".pprof"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sigterm_during_a_capture_lets_it_finish_and_spools_it() {
    let dir = scratch("grace");
    // The baseline dump takes about 4 s (8 pieces, 0.5 s apart).
    let slow = |p: &Path| {
        DumpServer::start(p, |_| {
            Reply::Slow(b"slow baseline".to_vec(), Duration::from_millis(500))
        })
    };
    let (_target, server, mut m) = quiet_target_with_server(&dir, "mmgrace", slow, &[]);
    m.wait_for("baseline-dump", T, |l| l.contains("event=baseline-dump"));
    let until = Instant::now() + T;
    while server.dumps() == 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    m.proc.signal("TERM");
    let status = m.proc.wait_timeout(Duration::from_secs(15));
    assert!(status.is_some(), "still running 15 s after SIGTERM");
    let lines = m.lines().join("\n");
    assert!(lines.contains("event=capture-grace"), "{lines}");
    assert!(
        m.events("dump-spooled")
            .iter()
            .any(|l| l.contains("reason=baseline")),
        "the dump in flight was not spooled:\n{lines}"
    );
    assert_eq!(pprof_files(&dir.join("spool")).len(), 1, "{lines}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_trickling_stats_reply_is_cut_at_its_bound_and_the_dump_still_comes() {
    let dir = scratch("stats-bound");
    let trickle =
        |p: &Path| DumpServer::start_with(p, Stats::Trickle, |_| Reply::Gzip(b"dump".to_vec()));
    let (_target, _server, m) = quiet_target_with_server(&dir, "mmstats", trickle, &[]);
    let failed = m.wait_for("stats-failed", T, |l| l.contains("event=stats-failed"));
    assert!(failed.contains("timed out after 10000 ms"), "{failed}");
    m.wait_for("dump-spooled", T, |l| l.contains("event=dump-spooled"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_trickling_dump_is_cut_at_dump_total_timeout() {
    let dir = scratch("dump-bound");
    let slow = |p: &Path| {
        DumpServer::start(p, |_| {
            Reply::Slow(vec![7; 1 << 16], Duration::from_millis(800))
        })
    };
    let extra = [("DUMP_TOTAL_TIMEOUT", "2s"), ("DUMP_RETRIES", "0")];
    let (_target, _server, m) = quiet_target_with_server(&dir, "mmdumpb", slow, &extra);
    let not_taken = m.wait_for("dump-not-taken", T, |l| l.contains("event=dump-not-taken"));
    assert_eq!(
        field(&not_taken, "outcome"),
        Some("total-timeout"),
        "{not_taken}"
    );
    m.wait_for("dump-failed", T, |l| l.contains("event=dump-failed"));
    assert!(pprof_files(&dir.join("spool")).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
