//! Helpers for tests/restart*.rs (beside tests/common/mod.rs, which it
//! builds on): the signal-recording, memory-growing target
//! (`tests/restart_target.py`), its log, and the monitor settings that make
//! a slow leak show within a few seconds.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Proc;

/// The restart test target, run by `python3`.
pub(crate) fn target_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/restart_target.py")
}

/// A running target called `name` that logs to `log`.
pub(crate) struct Leaker {
    pub proc: Proc,
    pub log: PathBuf,
}

/// Starts the target (waits for its readiness line). `args`: see the script.
pub(crate) fn start_leaker(name: &str, log: &Path, args: &[&str]) -> Leaker {
    let mut child = Command::new("python3")
        .arg(target_script())
        .arg(name)
        .arg(log)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 is installed by scripts/setup.sh");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read readiness line");
    assert!(line.starts_with("restart-target pid="), "{line:?}");
    Leaker {
        proc: Proc { child },
        log: log.to_path_buf(),
    }
}

/// What the target recorded: (unix seconds, what), in order.
pub(crate) fn happenings(log: &Path) -> Vec<(f64, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (t, what) = l.split_once(' ')?;
            Some((t.parse().ok()?, what.to_string()))
        })
        .collect()
}

/// Only the signals (names such as `TERM`, `CONT`), in order of arrival.
pub(crate) fn signals(log: &Path) -> Vec<(f64, String)> {
    happenings(log)
        .into_iter()
        .filter(|(_, w)| !matches!(w.as_str(), "ready" | "dump-served" | "exit"))
        .collect()
}

pub(crate) fn signal_names(log: &Path) -> Vec<String> {
    signals(log).into_iter().map(|(_, s)| s).collect()
}

/// Waits until the target has recorded `what`; its time.
pub(crate) fn wait_happening(log: &Path, what: &str, limit: Duration) -> f64 {
    let until = Instant::now() + limit;
    loop {
        if let Some((t, _)) = happenings(log).into_iter().find(|(_, w)| w == what) {
            return t;
        }
        assert!(
            Instant::now() < until,
            "target never recorded {what} within {limit:?}: {:?}",
            happenings(log)
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Monitor settings for a quick slow leak of a target growing 40 MB/s:
/// 100 ms samples, a 10-sample window, 20 MB threshold.
pub(crate) fn quick_leak_env<'a>(name: &'a str, spool: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("BINARY_NAME", name),
        ("MEMORY_CHANGE_THRESHOLD", "20MB"),
        ("SPOOL_DIR", spool),
    ]
}

/// Seconds since midnight UTC of a monitor log line (`ts=...T12:34:56.789Z`).
pub(crate) fn log_secs(line: &str) -> f64 {
    let ts = line
        .split(' ')
        .find_map(|f| f.strip_prefix("ts="))
        .and_then(|t| t.split_once('T'))
        .map(|(_, time)| time.trim_end_matches('Z'))
        .unwrap_or_else(|| panic!("no ts= in {line}"));
    ts.split(':')
        .map(|p| p.parse::<f64>().unwrap())
        .fold(0.0, |acc, p| acc * 60.0 + p)
}
