//! The restart sequence against real processes that record every signal
//! with a timestamp (`tests/restart_target.py`) and grow 40 MB/s, watched
//! by the real monitor binary: order and waits, CONT after a stopping
//! signal, a target that exits mid-sequence, a dry run, a target that
//! ignores the last signal (restart-failed).

mod common;
#[path = "common/restart_util.rs"]
mod restart_util;

use std::time::Duration;

use common::*;
use restart_util::*;

const T: Duration = Duration::from_secs(30);

fn env_with<'a>(
    base: Vec<(&'a str, &'a str)>,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut env = base;
    env.extend_from_slice(extra);
    env
}

#[test]
fn signals_follow_the_sequence_in_order_with_its_waits_and_cont_after_tstp() {
    let dir = scratch("restart-order");
    let name = unique_name("mmrso", 12);
    let log = dir.join("signals.log");
    let spool = dir.join("spool");
    let spool = spool.to_str().unwrap();
    let mut target = start_leaker(
        &name,
        &log,
        &["--leak-mb-per-sec", "40", "--exit-on", "TERM"],
    );
    let m = monitor(&env_with(
        quick_leak_env(&name, spool),
        &[("RESTART_SIGNALS", "TSTP,1s,HUP,1500ms,TERM")],
    ));
    let requested = m.wait_for("restart-requested", T, |l| {
        l.contains(" event=restart-requested ")
    });
    assert!(
        requested.contains("SIGTSTP, wait 1s, SIGHUP, wait 1s500ms, SIGTERM"),
        "{requested}"
    );
    assert!(
        requested.contains("CONT"),
        "the CONT rule is said at start: {requested}"
    );
    wait_happening(&log, "exit", T);
    assert!(target.proc.wait_timeout(T).is_some(), "target did not exit");

    // What the monitor sent, in its order, and when (its log, after each
    // send): each wait is at least as long as asked, from the send before.
    let lines = m.events("restart-signal");
    let sent: Vec<String> = lines
        .iter()
        .filter_map(|l| field(l, "signal").map(str::to_string))
        .collect();
    assert_eq!(sent, ["TSTP", "CONT", "HUP", "CONT", "TERM"]);
    let at: Vec<f64> = lines.iter().map(|l| log_secs(l)).collect();
    let (sent1, sent2) = (at[1] - at[0], at[3] - at[2]);
    assert!(sent1 >= 0.999, "TSTP -> CONT sent {sent1:.3}s apart");
    assert!(sent2 >= 1.499, "HUP -> CONT sent {sent2:.3}s apart");
    // What the target got, in bursts: signals sent together are pending
    // together, and the kernel hands them over lowest number first, so only
    // the bursts and their spacing tell the waits.
    let got = signals(&log);
    let mut bursts: Vec<(f64, Vec<String>)> = Vec::new();
    for (t, s) in &got {
        match bursts.last_mut() {
            Some((start, b)) if t - *start < 0.5 => b.push(s.clone()),
            _ => bursts.push((*t, vec![s.clone()])),
        }
    }
    for (_, b) in &mut bursts {
        b.sort();
    }
    let shape: Vec<Vec<String>> = bursts.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(
        shape,
        [vec!["TSTP"], vec!["CONT", "HUP"], vec!["CONT", "TERM"]],
        "{got:?}"
    );
    // As received: the target notes each signal when its Python handler
    // runs, which a busy CPU delays, so only roughly the waits (exact on
    // the monitor's side, above) and no gap much longer (CPU is shared).
    let (wait1, wait2) = (bursts[1].0 - bursts[0].0, bursts[2].0 - bursts[1].0);
    assert!((0.6..4.0).contains(&wait1), "TSTP -> CONT took {wait1:.3}s");
    assert!((1.1..4.5).contains(&wait2), "HUP -> CONT took {wait2:.3}s");
    // The incarnation's exit ends the sequence quietly: no restart-failed.
    m.wait_for("target-gone", T, |l| l.contains(" event=target-gone "));
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        m.events("restart-failed").is_empty(),
        "{}",
        m.lines().join("\n")
    );
}

#[test]
fn a_target_that_exits_during_a_wait_receives_nothing_more() {
    let dir = scratch("restart-exit");
    let name = unique_name("mmrse", 12);
    let log = dir.join("signals.log");
    let spool = dir.join("spool");
    let spool = spool.to_str().unwrap();
    let mut target = start_leaker(
        &name,
        &log,
        &["--leak-mb-per-sec", "40", "--exit-on", "HUP"],
    );
    let m = monitor(&env_with(
        quick_leak_env(&name, spool),
        &[
            ("RESTART_SIGNALS", "HUP,2s,TERM,2s,KILL"),
            ("RESTART_TIMEOUT", "1s"),
        ],
    ));
    m.wait_for("restart-requested", T, |l| {
        l.contains(" event=restart-requested ")
    });
    wait_happening(&log, "exit", T);
    target.proc.wait_timeout(T).expect("target exits on HUP");
    m.wait_for("sequence stopped", T, |l| {
        l.contains(" event=restart-stopped ")
    });
    // Past both waits and the timeout: nothing more was sent or failed.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(signal_names(&log), ["HUP"]);
    let sent: Vec<String> = m.events("restart-signal");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(field(&sent[0], "signal"), Some("HUP"));
    assert!(
        m.events("restart-failed").is_empty(),
        "{}",
        m.lines().join("\n")
    );
}

#[test]
fn a_dry_run_reports_what_it_would_send_and_sends_nothing() {
    let dir = scratch("restart-dry");
    let name = unique_name("mmrsd", 12);
    let log = dir.join("signals.log");
    let spool = dir.join("spool");
    let spool = spool.to_str().unwrap();
    let mut target = start_leaker(&name, &log, &["--leak-mb-per-sec", "40"]);
    let m = monitor(&env_with(
        quick_leak_env(&name, spool),
        &[
            ("RESTART_SIGNALS", "TERM,1s,KILL"),
            ("RESTART_DRY_RUN", "true"),
            ("RESTART_TIMEOUT", "1s"),
        ],
    ));
    let line = m.wait_for("restart-requested", T, |l| {
        l.contains(" event=restart-requested ")
    });
    assert!(
        line.contains("dry run") && line.contains("SIGTERM, wait 1s, SIGKILL"),
        "{line}"
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(signal_names(&log), Vec::<String>::new());
    assert!(
        target.proc.child.try_wait().unwrap().is_none(),
        "target died"
    );
    assert!(m.events("restart-signal").is_empty());
    assert!(m.events("restart-failed").is_empty());
}

#[test]
fn a_target_still_there_after_the_timeout_is_a_failed_restart() {
    let dir = scratch("restart-fail");
    let name = unique_name("mmrsf", 12);
    let log = dir.join("signals.log");
    let spool = dir.join("spool");
    let spool = spool.to_str().unwrap();
    // Records TERM and keeps running.
    let mut target = start_leaker(&name, &log, &["--leak-mb-per-sec", "40"]);
    let m = monitor(&env_with(
        quick_leak_env(&name, spool),
        &[("RESTART_SIGNALS", "TERM"), ("RESTART_TIMEOUT", "1s")],
    ));
    let failed = m.wait_for("restart-failed", T, |l| {
        l.contains(" event=restart-failed ")
    });
    assert!(
        failed.contains("still running 1s after the last signal"),
        "{failed}"
    );
    assert_eq!(signal_names(&log), ["TERM"]);
    assert!(target.proc.child.try_wait().unwrap().is_none());
}

/// The process state letter from `/proc/<pid>/stat` (`T` = stopped).
fn state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .unwrap_or('?')
}

#[test]
fn a_monitor_stopping_mid_sequence_never_leaves_the_target_stopped() {
    let dir = scratch("restart-abandon");
    let name = unique_name("mmrsa", 12);
    let log = dir.join("signals.log");
    let spool = dir.join("spool");
    let spool = spool.to_str().unwrap();
    let target = start_leaker(&name, &log, &["--leak-mb-per-sec", "40"]);
    let pid = target.proc.pid();
    let mut m = monitor(&env_with(
        quick_leak_env(&name, spool),
        &[("RESTART_SIGNALS", "STOP,1h,TERM")],
    ));
    m.wait_for("STOP sent", T, |l| {
        l.contains(" event=restart-signal ") && l.contains("signal=STOP")
    });
    let until = std::time::Instant::now() + T;
    while state(pid) != 'T' {
        assert!(std::time::Instant::now() < until, "never stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    m.proc.signal("TERM");
    m.proc.wait_timeout(T).expect("monitor stops");
    m.wait_for("abandoned", T, |l| {
        l.contains(" event=restart-abandoned ") && l.contains("signal=CONT")
    });
    wait_happening(&log, "CONT", T);
    assert_ne!(state(pid), 'T', "left stopped");
    assert_eq!(signal_names(&log), ["CONT"]);
}
