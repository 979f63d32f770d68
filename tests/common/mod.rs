//! Shared harness for integration tests: the real monitor binary, the real
//! demo target (copied under a unique name per test so parallel tests never
//! see each other's processes), and a log collector.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) fn monitor_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_memory-monitor"))
}

/// The shipped binary (static musl, release): memory budgets are about it,
/// not the debug build. `$MEMORY_MONITOR_RELEASE` or the `just build` path.
pub(crate) fn release_bin() -> PathBuf {
    let path = std::env::var_os("MEMORY_MONITOR_RELEASE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/x86_64-unknown-linux-musl/release/memory-monitor")
        });
    assert!(
        path.exists(),
        "release binary not built at {}: run `just build` (`just test` does)",
        path.display()
    );
    path
}

/// The demo target binary: `$DEMO_TARGET` or `target/demo/demo-target`
/// (the `demo` profile: release with symbols and line tables).
/// Missing is a setup failure (`just test` builds it), never a skip.
pub(crate) fn demo_target_bin() -> PathBuf {
    let path = std::env::var_os("DEMO_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/demo/demo-target"));
    assert!(
        path.exists(),
        "demo target not built at {}: run `just test` (or `cargo build --locked --profile demo -p demo-target`)",
        path.display()
    );
    path
}

/// A fresh scratch directory under the system temp dir. The first call in
/// a test process removes those left by test processes that are gone:
/// nothing else does, and runs after runs filled the disk (ENOSPC).
pub(crate) fn scratch(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_scratch);
    let dir = std::env::temp_dir().join(format!(
        "mm-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Removes `mm-test-<tag>-<pid>-<n>` directories whose process is gone.
fn sweep_scratch() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("mm-test-") else {
            continue;
        };
        let mut parts = rest.rsplit('-');
        let (Some(_n), Some(pid)) = (parts.next(), parts.next()) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A unique process name of `len` bytes for this test (comm is 15 bytes).
pub(crate) fn unique_name(tag: &str, len: usize) -> String {
    let base = format!("{tag}{}{}", std::process::id() % 100_000, rand_suffix());
    let mut name: String = base.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    while name.len() < len {
        name.push('x');
    }
    name.truncate(len);
    name
}

fn rand_suffix() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    t.wrapping_add(N.fetch_add(7919, Ordering::SeqCst)) % 10_000
}

/// Copies the demo target to `dir/name` so the process is called `name`.
pub(crate) fn named_target(dir: &Path, name: &str) -> PathBuf {
    let dest = dir.join(name);
    std::fs::copy(demo_target_bin(), &dest).expect("copy demo target");
    dest
}

/// A child that is killed when dropped.
pub(crate) struct Proc {
    pub child: Child,
}

impl Proc {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
        assert!(
            ok.map(|s| s.success()).unwrap_or(false),
            "kill -{sig} {}",
            self.pid()
        );
    }

    /// Waits for exit up to `limit`; `None` if still running.
    pub(crate) fn wait_timeout(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `cmd`, retrying briefly on ETXTBSY: a freshly copied executable
/// can still be open for writing in a child that another test thread forked
/// while the copy was being written (until that child's exec closes it).
fn spawn_retrying(cmd: &mut Command, exe: &Path) -> Child {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match cmd.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("start {}: {e}", exe.display()),
        }
    }
}

/// ETXTBSY on Linux.
const ETXTBSY: i32 = 26;

/// Starts a demo target and waits for its readiness line on stdout.
pub(crate) fn start_target(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(exe);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = spawn_retrying(&mut cmd, exe);
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read readiness line");
    assert!(
        line.starts_with("demo-target pid="),
        "unexpected readiness line {line:?}"
    );
    Proc { child }
}

/// The monitor with collected stderr lines.
pub(crate) struct Monitor {
    pub proc: Proc,
    pub lines: Arc<Mutex<Vec<String>>>,
}

/// The drop-in settings tests start from; `extra` overrides or adds.
pub(crate) fn monitor(extra: &[(&str, &str)]) -> Monitor {
    monitor_cmd(Command::new(monitor_bin()), extra)
}

pub(crate) fn monitor_cmd(mut cmd: Command, extra: &[(&str, &str)]) -> Monitor {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CHECK_INTERVAL", "100ms")
        .env("MEMORY_CHANGE_THRESHOLD", "64MiB")
        .env("INITIAL_DELAY", "0s")
        .env("BASELINE_SETTLE", "0s")
        .env("DUMP_COOLDOWN", "1h")
        .env("HISTORY_WINDOW_SIZE", "10")
        .env("POD_NAME", "test-pod")
        // One spool per monitor: a spool is locked by the monitor using it.
        .env("SPOOL_DIR", scratch("spool").join("spool"));
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start memory-monitor");
    let stderr = child.stderr.take().expect("piped stderr");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().expect("log lock").push(line);
        }
    });
    Monitor {
        proc: Proc { child },
        lines,
    }
}

impl Monitor {
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("log lock").clone()
    }

    /// Waits until a log line satisfies `pred`; panics with the log on timeout.
    pub(crate) fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let until = Instant::now() + limit;
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| pred(l)) {
                return l;
            }
            if Instant::now() > until {
                panic!(
                    "no {what} within {limit:?}; monitor log:\n{}",
                    self.lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub(crate) fn events(&self, event: &str) -> Vec<String> {
        let needle = format!(" event={event} ");
        self.lines()
            .into_iter()
            .filter(|l| l.contains(&needle))
            .collect()
    }
}

/// `memory-monitor replay FILE ARGS...` with exactly `env` (nothing
/// inherited), run to completion.
pub(crate) fn replay(file: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(monitor_bin())
        .arg("replay")
        .arg(file)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run memory-monitor replay")
}

/// The value of `key=` in a logfmt line.
pub(crate) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    if let Some(q) = rest.strip_prefix('"') {
        return q.split('"').next();
    }
    rest.split(' ').next()
}
