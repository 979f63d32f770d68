//! Restarts across incarnations: a supervisor (this test) starts the target
//! again each time it stops, as Kubernetes would. Every incarnation leaks;
//! with `RESTART_BUDGET=2/1h` the first two are asked to stop, each only
//! after its slow-leak dump is in the spool, and the third is left alone
//! with one "budget exhausted" report.

mod common;
#[path = "common/restart_util.rs"]
mod restart_util;

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use restart_util::*;

const T: Duration = Duration::from_secs(40);

/// The complete spool dumps of `reason` taken from `pid` (their metadata
/// says so), with their modification times in unix seconds.
fn spooled(spool: &Path, pid: u32, reason: &str) -> Vec<(PathBuf, f64)> {
    let Ok(rd) = std::fs::read_dir(spool) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.ends_with(".pprof") && !n.starts_with(".tmp-")
        })
        .filter(|p| {
            let meta = std::fs::read(p.with_extension("json")).unwrap_or_default();
            let v: serde_json::Value = serde_json::from_slice(&meta).unwrap_or_default();
            v["pid"] == pid && v["reason"] == reason
        })
        .filter_map(|p| {
            let mtime = p.metadata().ok()?.modified().ok()?;
            let secs = mtime.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
            Some((p, secs))
        })
        .collect()
}

#[test]
fn the_budget_stops_the_third_restart_and_each_dump_is_spooled_before_the_first_signal() {
    let dir = scratch("restart-budget");
    let name = unique_name("mmrsb", 12);
    let spool = dir.join("spool");
    let socket = dir.join("heap.sock");
    let m = monitor(&[
        ("BINARY_NAME", name.as_str()),
        ("MEMORY_CHANGE_THRESHOLD", "20MB"),
        ("SPOOL_DIR", spool.to_str().unwrap()),
        ("HEAP_DUMP_SOCKET", socket.to_str().unwrap()),
        ("RESTART_SIGNALS", "TERM"),
        ("RESTART_BUDGET", "2/1h"),
        ("RESTART_TIMEOUT", "5s"),
    ]);
    let args = ["--leak-mb-per-sec", "40", "--exit-on", "TERM", "--socket"];
    for n in 1..=2 {
        let log = dir.join(format!("incarnation-{n}.log"));
        let mut args = args.to_vec();
        args.push(socket.to_str().unwrap());
        let mut target = start_leaker(&name, &log, &args);
        let pid = target.proc.pid();
        let term = wait_happening(&log, "TERM", T);
        target.proc.wait_timeout(T).expect("exits on TERM");
        assert_eq!(signal_names(&log), ["TERM"], "incarnation {n}");
        // The slow-leak dump was served, and complete in the spool, before TERM.
        let served: Vec<f64> = happenings(&log)
            .into_iter()
            .filter(|(_, w)| w == "dump-served")
            .map(|(t, _)| t)
            .collect();
        assert!(
            served.len() >= 2,
            "baseline and slow-leak dumps: {served:?}"
        );
        assert!(
            served.iter().all(|&t| t < term),
            "{served:?} vs TERM at {term}"
        );
        let files = spooled(&spool, pid, "slow-leak");
        assert_eq!(files.len(), 1, "incarnation {n}: {files:?}");
        assert!(
            files[0].1 <= term,
            "spooled at {} after TERM at {term}",
            files[0].1
        );
    }
    // The third incarnation leaks too, and is only reported.
    let log = dir.join("incarnation-3.log");
    let mut args3 = args.to_vec();
    args3.push(socket.to_str().unwrap());
    let mut third = start_leaker(&name, &log, &args3);
    let exhausted = m.wait_for("budget exhausted", T, |l| {
        l.contains(" event=restart-budget-exhausted ")
    });
    assert!(
        exhausted.contains("restart budget exhausted: 2 in the last 1h"),
        "{exhausted}"
    );
    let third_leak = m.wait_for("third slow-leak", T, |l| {
        l.contains(" event=slow-leak ") && l.contains(&format!(" pid={} ", third.proc.pid()))
    });
    assert!(!third_leak.is_empty());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(signal_names(&log), Vec::<String>::new());
    assert!(
        third.proc.child.try_wait().unwrap().is_none(),
        "third was stopped"
    );
    assert_eq!(m.events("restart-budget-exhausted").len(), 1);
    assert_eq!(m.events("restart-requested").len(), 2);
    // Each new incarnation was reported as the restart of the one before.
    assert_eq!(m.events("restart").len(), 2, "{}", m.lines().join("\n"));
}
