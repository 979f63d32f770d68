//! What the benchmark programs in `examples/bench_*.rs` share: knobs from the
//! environment, the binaries under test, child processes that are always
//! reaped, waiting for a log line, CPU time and RSS from `/proc`, a fake
//! heap-dump server, a local s3s-fs, and the table every bench ends with.
//! Each bench includes it with `#[path = "bench_util/mod.rs"] mod bench_util;`
//! and uses a part of it.
//!
//! Every bench reads the binaries under test from `MEMORY_MONITOR_RELEASE`
//! (the static release monitor) and `DEMO_TARGET` (the jemalloc demo
//! target); `just bench` sets both, builds the benches and runs them in order.

// Each bench is its own crate and uses only some of these helpers.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub(crate) type Result<T> = std::result::Result<T, String>;

/// A knob: `$name` parsed as `T`, or `default` when unset.
pub(crate) fn knob<T: FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map_err(|e| format!("{name}={v:?}: {e}")),
        Err(_) => Ok(default),
    }
}

/// An executable named by `$var`.
fn binary(var: &str, build: &str) -> Result<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .ok_or_else(|| format!("{var} is not set: run the benches with `just bench` ({build})"))?;
    let meta = fs::metadata(&path)
        .map_err(|e| format!("{var}={}: {e} (build it: {build})", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{var}={} is not a file", path.display()));
    }
    Ok(path)
}

/// The static release monitor under test.
pub(crate) fn monitor_bin() -> Result<PathBuf> {
    binary("MEMORY_MONITOR_RELEASE", "just build")
}

/// The jemalloc demo target.
pub(crate) fn demo_bin() -> Result<PathBuf> {
    binary("DEMO_TARGET", "just demo-target")
}

/// Another example built beside this one (e.g. `minimal_loop`).
pub(crate) fn sibling(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let path = me.with_file_name(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not built (cargo build --release --example {name})",
            path.display()
        ))
    }
}

/// Fails with a clear message when `tool` is not on `PATH`.
pub(crate) fn require_tool(tool: &str, install: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
    if found {
        Ok(())
    } else {
        Err(format!("{tool} is required but not installed ({install})"))
    }
}

/// A scratch directory, removed on drop.
pub(crate) struct Work(PathBuf);

impl Work {
    pub(crate) fn new(bench: &str) -> Result<Work> {
        let dir = std::env::temp_dir().join(format!("mm-{bench}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        Ok(Work(dir))
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A child process with its output in files; killed and reaped on drop, so
/// no bench leaves processes behind.
pub(crate) struct Proc {
    child: Child,
    name: String,
    /// Where its stderr goes (the monitor's log).
    pub log: PathBuf,
    /// Where its stdout goes.
    pub out: PathBuf,
}

/// Starts `cmd` with stdout in `<name>.out` and stderr in `<name>.log`.
pub(crate) fn spawn(work: &Work, name: &str, cmd: &mut Command) -> Result<Proc> {
    let out = work.path(&format!("{name}.out"));
    let log = work.path(&format!("{name}.log"));
    let file = |p: &Path| File::create(p).map_err(|e| format!("create {}: {e}", p.display()));
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file(&out)?)
        .stderr(file(&log)?)
        .spawn()
        .map_err(|e| format!("spawn {name} ({:?}): {e}", cmd.get_program()))?;
    Ok(Proc {
        child,
        name: name.to_string(),
        log,
        out,
    })
}

impl Proc {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error with the end of its log when it has exited.
    pub(crate) fn alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} (pid {}) exited early ({status}); its log ends:\n{}",
                self.name,
                self.pid(),
                tail(&self.log, 10)
            )),
            Err(e) => Err(format!("wait {}: {e}", self.name)),
        }
    }

    /// Sends `signal` (a `kill` name: TERM, INT, ...).
    pub(crate) fn signal(&self, signal: &str) -> Result<()> {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("kill -{signal} {}: {e}", self.pid()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -{signal} {} failed", self.pid()))
        }
    }

    /// Waits for it to exit by itself.
    pub(crate) fn wait(&mut self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(format!("{} did not exit within {limit:?}", self.name))
    }

    /// Its first line (stdout or stderr) that `matches`, waiting up to `limit`.
    pub(crate) fn wait_line(
        &mut self,
        limit: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let start = Instant::now();
        loop {
            for file in [&self.out, &self.log] {
                if let Some(line) = find_line(file, &matches) {
                    return Ok(line);
                }
            }
            self.alive()?;
            if start.elapsed() > limit {
                return Err(format!(
                    "{}: no expected line after {limit:?}; its log ends:\n{}",
                    self.name,
                    tail(&self.log, 10)
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_line(path: &Path, matches: &impl Fn(&str) -> bool) -> Option<String> {
    let file = File::open(path).ok()?;
    BufReader::new(file)
        .lines()
        .map_while(|l| l.ok())
        .find(|l| matches(l))
}

/// The last `n` lines of a file, for error messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A copy of the demo target named `name` (unique per bench, so only our
/// monitors match it), profiling off, `--base-mb 8`; waits for its
/// readiness line.
pub(crate) fn start_demo(work: &Work, name: &str) -> Result<Proc> {
    start_demo_with(work, name, &[])
}

/// The same with more demo-target flags (e.g. a slow leak).
pub(crate) fn start_demo_with(work: &Work, name: &str, flags: &[&str]) -> Result<Proc> {
    let copy = work.path(name);
    fs::copy(demo_bin()?, &copy).map_err(|e| format!("copy demo target: {e}"))?;
    let mut cmd = Command::new(&copy);
    cmd.args(["--base-mb", "8", "--exit-after-secs", "3600"])
        .args(flags)
        .env_remove("MALLOC_CONF")
        .env_remove("_RJEM_MALLOC_CONF");
    let mut p = spawn(work, name, &mut cmd)?;
    let pid = p.pid();
    p.wait_line(Duration::from_secs(10), |l| {
        l.starts_with(&format!("demo-target pid={pid} "))
    })?;
    Ok(p)
}

/// The monitor watching `target` every `interval`, with a clean
/// environment: a 200 MB threshold and a 1 h cooldown (no events in steady
/// state), no initial delay, its own spool, and `HEAP_DUMP_SOCKET` at a path
/// that does not exist (no dump) unless `vars` sets another.
pub(crate) fn monitor(
    work: &Work,
    name: &str,
    target: &str,
    interval: &str,
    vars: &[(&str, &str)],
) -> Result<Proc> {
    let mut cmd = command(&monitor_bin()?)?;
    cmd.env_clear()
        .env("BINARY_NAME", target)
        .env("CHECK_INTERVAL", interval)
        .env("MEMORY_CHANGE_THRESHOLD", "200MB")
        .env("INITIAL_DELAY", "0s")
        .env("BASELINE_SETTLE", "0s")
        .env("DUMP_COOLDOWN", "1h")
        .env("HISTORY_WINDOW_SIZE", "60")
        .env("SPOOL_DIR", work.path(&format!("spool-{name}")))
        .env("HEAP_DUMP_SOCKET", work.path(&format!("none-{name}.sock")))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    spawn(work, name, &mut cmd)
}

/// `examples/minimal_loop` reading `/proc/<target>/status` every `interval_ms`;
/// waits for its readiness line.
pub(crate) fn minimal_loop(work: &Work, name: &str, target: u32, interval_ms: u64) -> Result<Proc> {
    let mut cmd = command(&sibling("minimal_loop")?)?;
    cmd.args([target.to_string(), interval_ms.to_string()]);
    let mut p = spawn(work, name, &mut cmd)?;
    let ready = format!("minimal_loop pid={} ", p.pid());
    p.wait_line(Duration::from_secs(10), |l| l.starts_with(&ready))?;
    Ok(p)
}

/// A command for one of the compared loops. `BENCH_CPU` (a CPU number) pins
/// it with `taskset`; off by default: pinning every loop to one CPU makes
/// their wake-ups interfere with each other.
fn command(program: &Path) -> Result<Command> {
    match std::env::var("BENCH_CPU").ok().filter(|c| c != "none") {
        None => Ok(Command::new(program)),
        Some(cpu) => {
            require_tool("taskset", "apt-get install util-linux")?;
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(cpu).arg(program);
            Ok(cmd)
        }
    }
}

/// The monitor's line `event=<event> ... pid=<pid> `.
pub(crate) fn event_for(event: &str, pid: u32) -> impl Fn(&str) -> bool {
    let event = format!(" event={event} ");
    let pid = format!(" pid={pid} ");
    move |l: &str| l.contains(&event) && l.contains(&pid)
}

/// The monitor's line `event=<event>`.
pub(crate) fn event(event: &str) -> impl Fn(&str) -> bool {
    let event = format!(" event={event} ");
    move |l: &str| l.contains(&event)
}

/// A logfmt field's value (unquoted values only).
pub(crate) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// A log line's `ts=...THH:MM:SS.mmmZ` as milliseconds since midnight.
pub(crate) fn ts_ms(line: &str) -> Result<u64> {
    let ts = field(line, "ts").ok_or_else(|| format!("no ts= in {line:?}"))?;
    let clock = ts
        .split('T')
        .nth(1)
        .and_then(|t| t.strip_suffix('Z'))
        .ok_or_else(|| format!("bad ts {ts:?}"))?;
    let mut parts = clock.split(':');
    let mut next = |what: &str| -> Result<f64> {
        parts
            .next()
            .and_then(|p| p.parse::<f64>().ok())
            .ok_or_else(|| format!("bad {what} in ts {ts:?}"))
    };
    let (h, m, s) = (next("hour")?, next("minute")?, next("second")?);
    Ok(((h * 3600.0 + m * 60.0 + s) * 1000.0).round() as u64)
}

/// Nanoseconds on CPU of every thread of `pid` (`/proc/<pid>/task/*/schedstat`).
pub(crate) fn cpu_ns(pid: u32) -> Result<u64> {
    let dir = format!("/proc/{pid}/task");
    let mut total = 0;
    for entry in fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))? {
        let path = entry
            .map_err(|e| format!("{dir}: {e}"))?
            .path()
            .join("schedstat");
        // A thread may end between the listing and the read.
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        total += text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("{}: unexpected {text:?}", path.display()))?;
    }
    Ok(total)
}

/// A `/proc/<pid>/status` value in KiB (`VmRSS`, `VmHWM`, ...).
pub(crate) fn status_kib(pid: u32, key: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{path}: no {key}"))
}

/// The median (sorts `values`); 0 when empty.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Megabytes per second.
pub(crate) fn mbps(bytes: u64, seconds: f64) -> String {
    format!("{:.0} MB/s", bytes as f64 / seconds.max(1e-9) / 1e6)
}

/// The rows a bench prints at its end: measure, budget verdict, value.
#[derive(Default)]
pub(crate) struct Table(Vec<(String, &'static str, String)>);

impl Table {
    pub(crate) fn row(&mut self, measure: impl Into<String>, value: impl Into<String>) {
        self.0.push((measure.into(), "", value.into()));
    }

    /// A row with a budget: `ok` or `OVER BUDGET`.
    pub(crate) fn budget(
        &mut self,
        measure: impl Into<String>,
        value: impl Into<String>,
        within: bool,
    ) {
        let verdict = if within { "ok" } else { "OVER BUDGET" };
        self.0.push((measure.into(), verdict, value.into()));
    }

    pub(crate) fn print(&self, title: &str) {
        println!("---- {title}");
        for (measure, verdict, value) in &self.0 {
            println!("{measure:<80} {verdict:<12} {value}");
        }
    }
}

/// Writes the fake heap dump: a valid gzip file of `mib` MiB of
/// pseudo-random bytes in stored blocks (a few bytes over `mib` MiB).
pub(crate) fn write_dump(path: &Path, mib: u64) -> Result<u64> {
    let file = File::create(path).map_err(|e| format!("create {}: {e}", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::with_capacity(1 << 20, file),
        flate2::Compression::none(),
    );
    let mut block = vec![0u8; 1 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for word in block.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    let mut left = mib << 20;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        gz.write_all(&block[..n])
            .map_err(|e| format!("write {}: {e}", path.display()))?;
        left -= n as u64;
    }
    let mut out = gz
        .finish()
        .map_err(|e| format!("finish {}: {e}", path.display()))?;
    out.flush()
        .map_err(|e| format!("flush {}: {e}", path.display()))?;
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A fake heap-dump socket: `stats\n` gets a jemalloc stats object, `dump\n`
/// gets the bytes of `dump` (streamed from the file), then the connection is
/// closed. Served from a thread of the bench; stopped on drop.
pub(crate) struct DumpServer {
    pub socket: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DumpServer {
    pub(crate) fn start(socket: PathBuf, dump: PathBuf) -> Result<DumpServer> {
        let listener =
            UnixListener::bind(&socket).map_err(|e| format!("bind {}: {e}", socket.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = serve_one(conn, &dump);
                }
            }
        });
        Ok(DumpServer {
            socket,
            stop,
            thread: Some(thread),
        })
    }
}

fn serve_one(mut conn: std::os::unix::net::UnixStream, dump: &Path) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while request.len() < 64 && !request.ends_with(b"\n") {
        if conn.read(&mut byte)? == 0 {
            break;
        }
        request.push(byte[0]);
    }
    match request.as_slice() {
        b"stats\n" => conn.write_all(
            br#"{"allocated": 8388608, "active": 9437184, "resident": 12582912, "mapped": 16777216, "retained": 0, "metadata": 1048576}"#,
        ),
        b"dump\n" => {
            let mut file = File::open(dump)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                conn.write_all(&buf[..n])?;
            }
        }
        _ => Ok(()),
    }
}

impl Drop for DumpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::os::unix::net::UnixStream::connect(&self.socket);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The S3 settings of the local s3s-fs below.
pub(crate) const S3_KEY: &str = "BENCHKEY";
pub(crate) const S3_SECRET: &str = "BENCHSECRET0123456789";
pub(crate) const S3_BUCKET: &str = "dumps";

/// A local s3s-fs (real SigV4 checks) serving `work/s3root`, bucket
/// `dumps`; returns it with its port once it accepts connections.
pub(crate) fn s3s_fs(work: &Work) -> Result<(Proc, u16)> {
    require_tool("s3s-fs", "run `just setup`")?;
    let root = work.path("s3root");
    fs::create_dir_all(root.join(S3_BUCKET)).map_err(|e| format!("mkdir s3root: {e}"))?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("free port: {e}"))?
        .port();
    let mut cmd = Command::new("s3s-fs");
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", S3_KEY, "--secret-key", S3_SECRET])
        .arg(&root);
    let mut p = spawn(work, "s3s-fs", &mut cmd)?;
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        p.alive()?;
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!("s3s-fs not listening on {port} after 10 s"));
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok((p, port))
}

/// The monitor's S3 settings for the s3s-fs on `port`.
pub(crate) fn s3_vars(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("S3_BUCKET", S3_BUCKET.to_string()),
        ("AWS_ENDPOINT_URL_S3", format!("http://127.0.0.1:{port}")),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", S3_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET.to_string()),
    ]
}

/// Every regular file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Whether two files hold the same bytes.
pub(crate) fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let open = |p: &Path| File::open(p).map_err(|e| format!("open {}: {e}", p.display()));
    let (mut fa, mut fb) = (BufReader::new(open(a)?), BufReader::new(open(b)?));
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = fa
            .read(&mut ba)
            .map_err(|e| format!("read {}: {e}", a.display()))?;
        if n == 0 {
            return Ok(fb.read(&mut bb[..1]).map_err(|e| e.to_string())? == 0);
        }
        if fb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}
