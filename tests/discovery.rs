//! Finding targets (issue 11 items 6 and 8), the real binary against real
//! processes: a zombie is not a target, a new match is picked up while all
//! targets are healthy, and a pidfile that is a FIFO or huge neither blocks
//! nor is trusted.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(20);

/// `sh` starts the target in the background and becomes `sleep`, which
/// never reaps it: when the target exits it stays a zombie.
fn zombie_maker(exe: &Path) -> Proc {
    let script = format!(
        "'{}' --exit-after-secs 1 >/dev/null 2>&1 & exec sleep 60",
        exe.display()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .spawn()
        .expect("start sh");
    Proc { child }
}

#[test]
fn a_zombie_is_not_a_target() {
    let dir = scratch("zombie");
    let name = unique_name("mmzomb", 12);
    let _parent = zombie_maker(&named_target(&dir, &name));
    let m = monitor(&[("BINARY_NAME", name.as_str())]);
    m.wait_for("target-found", T, |l| l.contains("event=target-found"));
    m.wait_for("target-gone", T, |l| l.contains("event=target-gone"));
    // The zombie stays in /proc with the same name for the rest of the test.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        m.events("target-found").len(),
        1,
        "the zombie was found again:\n{}",
        m.lines().join("\n")
    );
    assert_eq!(m.events("target-gone").len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_new_match_is_picked_up_while_all_targets_are_healthy() {
    let dir = scratch("rescan");
    let name = unique_name("mmrescan", 12);
    let exe = named_target(&dir, &name);
    let first = start_target(&exe, &["--exit-after-secs", "120"], &[]);
    let m = monitor(&[("BINARY_NAME", name.as_str())]);
    m.wait_for("first", T, |l| {
        l.contains("event=target-found") && l.contains(&format!(" pid={} ", first.pid()))
    });
    // Everything is healthy now: only the slow periodic rescan (30 s) can
    // find the second one.
    let second = start_target(&exe, &["--exit-after-secs", "120"], &[]);
    m.wait_for("second", Duration::from_secs(45), |l| {
        l.contains("event=target-found") && l.contains(&format!(" pid={} ", second.pid()))
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fifo_pidfile_is_refused_without_blocking() {
    let dir = scratch("pidfifo");
    let fifo = dir.join("app.pid");
    let ok = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(ok.success());
    let mut m = monitor(&[("TARGET_PIDFILE", fifo.to_str().unwrap())]);
    let line = m.wait_for("scan-failed", T, |l| l.contains("event=scan-failed"));
    assert!(line.contains("not a regular file"), "{line}");
    // The loop is alive: it stops promptly.
    m.proc.signal("TERM");
    assert!(
        m.proc.wait_timeout(Duration::from_secs(5)).is_some(),
        "the monitor hangs on a FIFO pidfile"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_huge_pidfile_is_refused() {
    let dir = scratch("pidhuge");
    let file = dir.join("app.pid");
    std::fs::write(&file, "1".repeat(1 << 20)).unwrap();
    let m = monitor(&[("TARGET_PIDFILE", file.to_str().unwrap())]);
    let line = m.wait_for("scan-failed", T, |l| l.contains("event=scan-failed"));
    assert!(line.contains("larger than"), "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pidfile_target_is_found() {
    let dir = scratch("pidfile");
    let name = unique_name("mmpidf", 12);
    let target = start_target(
        &named_target(&dir, &name),
        &["--exit-after-secs", "60"],
        &[],
    );
    let file = dir.join("app.pid");
    std::fs::write(&file, format!("{}\n", target.pid())).unwrap();
    let m = monitor(&[("TARGET_PIDFILE", file.to_str().unwrap())]);
    m.wait_for("target-found", T, |l| {
        l.contains("event=target-found") && l.contains(&format!(" pid={} ", target.pid()))
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sh` restarting the target forever, like a supervisor.
fn supervisor(exe: &Path) -> Proc {
    let script = format!(
        "while :; do '{}' --exit-after-secs 120 >/dev/null 2>&1; done",
        exe.display()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .spawn()
        .expect("start sh");
    Proc { child }
}

/// The live child of `ppid` called `name` other than `not`, waiting for it
/// up to `T`.
fn child_of(ppid: u32, name: &str, not: Option<u32>) -> u32 {
    let until = std::time::Instant::now() + T;
    loop {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let Some((head, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let mut f = rest.split(' ');
            let (state, parent) = (f.next(), f.next().and_then(|p| p.parse::<u32>().ok()));
            if head.ends_with(&format!("({name}")) && parent == Some(ppid) && state != Some("Z") {
                match e.file_name().to_string_lossy().parse::<u32>() {
                    Ok(pid) if Some(pid) != not => return pid,
                    _ => {}
                }
            }
        }
        assert!(
            std::time::Instant::now() < until,
            "no child {name} of {ppid}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_targets_restarting_at_once_are_each_paired_with_their_own() {
    let dir = scratch("pairing");
    let name = unique_name("mmpair", 12);
    let exe = named_target(&dir, &name);
    let (a, b) = (supervisor(&exe), supervisor(&exe));
    let (a1, b1) = (
        child_of(a.pid(), &name, None),
        child_of(b.pid(), &name, None),
    );
    let m = monitor(&[("BINARY_NAME", name.as_str())]);
    let until = std::time::Instant::now() + T;
    while m.events("target-found").len() < 2 {
        assert!(
            std::time::Instant::now() < until,
            "{}",
            m.lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in [a1, b1] {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let (a2, b2) = (
        child_of(a.pid(), &name, Some(a1)),
        child_of(b.pid(), &name, Some(b1)),
    );
    while m.events("restart").len() < 2 {
        assert!(
            std::time::Instant::now() < until,
            "{}",
            m.lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut pairs: Vec<(String, String)> = m
        .events("restart")
        .iter()
        .map(|l| {
            (
                field(l, "old_pid").unwrap().into(),
                field(l, "pid").unwrap().into(),
            )
        })
        .collect();
    pairs.sort();
    let mut want = vec![
        (a1.to_string(), a2.to_string()),
        (b1.to_string(), b2.to_string()),
    ];
    want.sort();
    assert_eq!(pairs, want, "{}", m.lines().join("\n"));
    drop((a, b));
    for pid in [a2, b2] {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
