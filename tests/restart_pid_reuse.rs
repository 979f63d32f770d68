//! No signal ever reaches a process that merely reuses the pid.
//!
//! In a private pid namespace (`unshare`), where this test is pid 1 and
//! nothing else takes pids, it keeps a pidfd of a child, reaps the child,
//! sets `ns_last_pid` so the very next process gets the same pid, starts a
//! process that records every signal, and sends through the old pidfd:
//! `ESRCH`, the new process records nothing, and binding a pidfd to the old
//! incarnation (pid + starttime) is refused.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use memory_monitor::io::pidfd::{open_incarnation, BindError, PidFd};
use memory_monitor::io::procfs;

const INNER: &str = "MM_PID_REUSE_INNER";

#[test]
fn a_reused_pid_never_receives_a_signal_through_the_old_pidfd() {
    if std::env::var_os(INNER).is_some() {
        inner();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let test = "a_reused_pid_never_receives_a_signal_through_the_old_pidfd";
    // Unprivileged first (a user namespace maps us to root there); plain
    // `--pid` when user namespaces are off but we are root.
    let mut last = String::new();
    for prefix in [&["--user", "--map-root-user"][..], &[][..]] {
        let out = Command::new("unshare")
            .args(prefix)
            .args(["--pid", "--fork", "--kill-child", "--mount-proc"])
            .arg(&exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(INNER, "1")
            .output()
            .expect("unshare (util-linux) is installed by scripts/setup.sh");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            assert!(text.contains("reused pid"), "{text}");
            return;
        }
        last = text;
        if !last.contains("unshare failed") && !last.contains("Operation not permitted") {
            break;
        }
    }
    panic!("the pid-reuse check failed or could not make a pid namespace:\n{last}");
}

/// Runs as pid 1 of a fresh pid namespace.
fn inner() {
    assert_eq!(std::process::id(), 1, "not in a private pid namespace");
    let dir = std::env::temp_dir().join(format!("mm-pid-reuse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let mut old = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = old.id();
    let starttime = procfs::starttime(pid).unwrap();
    let fd = PidFd::open(pid).unwrap();
    fd.send(libc::SIGKILL).unwrap();
    assert_eq!(old.wait().unwrap().signal(), Some(libc::SIGKILL));
    assert!(fd.exited().unwrap());

    // An incarnation is pid + starttime in clock ticks (10 ms): let a few
    // ticks pass, as they always do before a pid comes round again.
    std::thread::sleep(Duration::from_millis(50));
    // The next process created in this namespace gets `pid` again.
    std::fs::write("/proc/sys/kernel/ns_last_pid", format!("{}", pid - 1)).unwrap();
    let log = dir.join("signals.log");
    let mut new = recorder(&log);
    assert_eq!(new.id(), pid, "the pid was not reused");
    wait_for(&dir.join("ready"));

    for sig in [libc::SIGTERM, libc::SIGUSR1, libc::SIGKILL] {
        let err = fd.send(sig).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "signal {sig}");
    }
    assert_ne!(procfs::starttime(pid).unwrap(), starttime);
    assert!(matches!(
        open_incarnation(pid, starttime),
        Err(BindError::Reused)
    ));
    // The newcomer is alive and heard nothing; a pidfd bound to it works.
    std::thread::sleep(Duration::from_millis(300));
    assert!(new.try_wait().unwrap().is_none(), "the new process died");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "");
    let own = open_incarnation(pid, procfs::starttime(pid).unwrap()).unwrap();
    own.send(libc::SIGUSR1).unwrap();
    wait_for_text(&log, "USR1");
    own.send(libc::SIGKILL).unwrap();
    new.wait().unwrap();
    println!("reused pid {pid}: old pidfd got ESRCH, the newcomer got nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A shell that appends the name of every signal it gets to `log`.
fn recorder(log: &Path) -> Child {
    let script = r#"
        : > "$1"
        for s in TERM USR1 USR2 HUP INT; do trap "echo $s >> \"$1\"" $s; done
        touch "$(dirname "$1")/ready"
        while :; do sleep 0.05; done
    "#;
    Command::new("sh")
        .args(["-c", script, "sh"])
        .arg(log)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(path: &Path) {
    let until = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < until, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for_text(path: &Path, text: &str) {
    let until = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(path)
        .unwrap_or_default()
        .contains(text)
    {
        assert!(
            Instant::now() < until,
            "{text} never reached {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
