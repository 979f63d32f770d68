//! Idle RSS of the shipped monitor after it has worked (PRODUCT §5: idle RSS
//! ≤ 2 MiB): it uploads N dumps of M MiB to a local S3 (s3s-fs), catches K
//! spikes of a real jemalloc target (capture, spool, upload), sends their
//! alerts to a Slack stand-in and a Standard Webhooks receiver
//! (tests/common/hook_server.py), serves a few `/metrics` scrapes, then sits
//! idle; the figures are read from `/proc/<monitor>/status` three times:
//! `started` (5 s in: start-up and the seeded uploads done, no spike yet),
//! `after_work` (right after the last alert and the scrapes) and
//! `after_idle` (`idle_secs` later, with one more scrape halfway: the
//! figure the budget is about).
//!
//! ```text
//! idle_rss [dumps] [dump_mib] [spikes] [idle_secs]     default: 3 50 2 10
//! ```
//! The monitor is `$MEMORY_MONITOR_RELEASE` (default: the musl release
//! build), the target `$DEMO_TARGET` (default `target/demo/demo-target`).
//! Needs `s3s-fs` and `python3` (`just setup`).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

use flate2::write::GzEncoder;
use flate2::Compression;
use memory_monitor::config::SpoolConfig;
use memory_monitor::core::spool_meta::Meta;
use memory_monitor::io::spool::Spool;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Children killed on drop.
struct Kids(Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn path_from(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| Path::new(ROOT).join(default), PathBuf::from)
}

fn status_kib(pid: u32, key: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Fills the spool with `n` gzip dumps of `mib` MiB each (stored blocks).
fn seed(spool_dir: &Path, n: u32, mib: u64) -> Result<(), String> {
    let spool = Spool::open(&SpoolConfig {
        dir: spool_dir.to_path_buf(),
        max_bytes: 64 << 30,
    })
    .map_err(|e| format!("spool: {e}"))?;
    let block: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for i in 0..n {
        let w = spool
            .begin(1, "spike", SystemTime::now())
            .map_err(|e| format!("spool: {e}"))?;
        let mut gz = GzEncoder::new(w, Compression::none());
        for _ in 0..mib {
            gz.write_all(&block).map_err(|e| e.to_string())?;
        }
        let w = gz.finish().map_err(|e| e.to_string())?;
        let meta = Meta {
            key: format!("rss/seeded-{i}.pprof"),
            pod: "rss".into(),
            target: "seeded".into(),
            pid: 1,
            reason: "spike".into(),
            unix_ms: 1,
            rss_anon_bytes: None,
            baseline_bytes: None,
            jemalloc: None,
            bytes: 0,
            sha256: None,
        };
        w.commit(meta).map_err(|e| format!("commit: {e}"))?;
    }
    Ok(())
}

fn scrape(port: u16) -> usize {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out.len()
}

fn spooled_files(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".pprof"))
            .count()
    })
}

/// `<phase>_kib=VmRSS <phase>_anon_kib=RssAnon <phase>_file_kib=RssFile`
/// (plus `hwm_kib` after idle); with `IDLE_RSS_SMAPS=<path>`, the monitor's
/// smaps at this phase is copied to `<path>.<phase>` and which thread's
/// stack is which to `<path>.<phase>.threads` (`syscall` ends with the
/// stack pointer).
fn reading(pid: u32, phase: &str) -> String {
    if let Some(out) = std::env::var_os("IDLE_RSS_SMAPS") {
        let out = format!("{}.{phase}", Path::new(&out).display());
        let _ = fs::copy(format!("/proc/{pid}/smaps"), &out);
        let mut threads = String::new();
        for t in fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = t.path();
            let comm = fs::read_to_string(p.join("comm")).unwrap_or_default();
            let sc = fs::read_to_string(p.join("syscall")).unwrap_or_default();
            threads.push_str(&format!("{} {}", comm.trim(), sc));
        }
        let _ = fs::write(format!("{out}.threads"), threads);
    }
    let hwm = if phase == "after_idle" {
        format!(" hwm_kib={}", status_kib(pid, "VmHWM"))
    } else {
        String::new()
    };
    format!(
        "{phase}_kib={} {phase}_anon_kib={} {phase}_file_kib={}{hwm}",
        status_kib(pid, "VmRSS"),
        status_kib(pid, "RssAnon"),
        status_kib(pid, "RssFile"),
    )
}

fn run(dumps: u32, mib: u64, spikes: u32, idle: Duration) -> Result<String, String> {
    let monitor = path_from(
        "MEMORY_MONITOR_RELEASE",
        "target/x86_64-unknown-linux-musl/release/memory-monitor",
    );
    let demo = path_from("DEMO_TARGET", "target/demo/demo-target");
    for p in [&monitor, &demo] {
        if !p.exists() {
            return Err(format!(
                "{} is not built (just build / just demo-target)",
                p.display()
            ));
        }
    }
    let work = std::env::temp_dir().join(format!("mm-idle-rss-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    let (s3root, spool) = (work.join("s3"), work.join("spool"));
    fs::create_dir_all(s3root.join("dumps")).map_err(|e| e.to_string())?;
    seed(&spool, dumps, mib)?;
    let mut kids = Kids(Vec::new());
    let s3_port = free_port()?;
    kids.0.push(
        Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &s3_port.to_string()])
            .args([
                "--access-key",
                "RSSKEY",
                "--secret-key",
                "RSSSECRET0123456789",
            ])
            .arg(&s3root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("s3s-fs (just setup): {e}"))?,
    );
    let mut hook = Command::new("python3")
        .arg(Path::new(ROOT).join("tests/common/hook_server.py"))
        .arg(work.join("hooks.jsonl"))
        .arg("ok")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    let mut line = String::new();
    if let Some(out) = hook.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    kids.0.push(hook);
    let hook_port: u16 = line
        .trim()
        .parse()
        .map_err(|_| "hook server port".to_string())?;
    let name = format!("rsst{}", std::process::id() % 100_000);
    let exe = work.join(&name);
    fs::copy(&demo, &exe).map_err(|e| e.to_string())?;
    let mut target = Command::new(&exe)
        .args(["--base-mb", "16", "--spike-mb", "96"])
        .env(
            "MALLOC_CONF",
            "prof:true,prof_active:true,lg_prof_sample:19",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("demo target: {e}"))?;
    let mut ready = String::new();
    if let Some(out) = target.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut ready);
    }
    let target_pid = target.id();
    kids.0.push(target);
    let metrics_port = free_port()?;
    let hooks = |p: &str| format!("http://127.0.0.1:{hook_port}{p}");
    // IDLE_RSS_LOG=<path>: the monitor's log lines go there.
    let log = match std::env::var_os("IDLE_RSS_LOG") {
        Some(p) => Stdio::from(fs::File::create(p).map_err(|e| format!("IDLE_RSS_LOG: {e}"))?),
        None => Stdio::null(),
    };
    let mon = Command::new(&monitor)
        .env_clear()
        .envs([
            ("BINARY_NAME", name.as_str()),
            ("CHECK_INTERVAL", "200ms"),
            ("MEMORY_CHANGE_THRESHOLD", "1GiB"),
            ("INITIAL_DELAY", "0s"),
            ("BASELINE_SETTLE", "1s"),
            ("DUMP_COOLDOWN", "1h"),
            ("HISTORY_WINDOW_SIZE", "10"),
            ("SPIKE_MULTIPLIER", "2"),
            ("POD_NAME", "rss"),
            ("SPOOL_DIR", spool.to_str().unwrap_or_default()),
            ("S3_BUCKET", "dumps"),
            ("S3_PATH_PREFIX", "rss/"),
            (
                "AWS_ENDPOINT_URL_S3",
                &format!("http://127.0.0.1:{s3_port}"),
            ),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "RSSKEY"),
            ("AWS_SECRET_ACCESS_KEY", "RSSSECRET0123456789"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("SLACK_API_TOKEN", "xoxb-rss"),
            ("SLACK_API_URL", &hooks("/api")),
            ("WEBHOOK_URL", &hooks("/hook")),
            ("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            ("METRICS_ADDR", &format!("127.0.0.1:{metrics_port}")),
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("monitor: {e}"))?;
    let mon_pid = mon.id();
    kids.0.push(mon);
    let start = Instant::now();
    // Window full and baseline taken, then one spike after another.
    sleep(Duration::from_secs(5));
    let started = reading(mon_pid, "started");
    let alerts = || fs::read_to_string(work.join("hooks.jsonl")).map_or(0, |t| t.lines().count());
    let kill = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, &target_pid.to_string()])
            .status();
    };
    let until = Instant::now() + Duration::from_secs(600);
    let (mut uploaded, mut scraped, mut after_work) = (0, 0, String::new());
    for i in 1..=spikes as usize {
        kill("-USR1");
        // Caught, captured, uploaded, both alerts out.
        while (spooled_files(&spool) > 0 || alerts() < 2 * i) && Instant::now() < until {
            sleep(Duration::from_millis(200));
        }
        if i == spikes as usize {
            uploaded = fs::read_dir(s3root.join("dumps/rss")).map_or(0, |d| d.count());
            scraped = (0..5).map(|_| scrape(metrics_port)).sum();
            // Right after the work, before the monitor's quiet spell ends.
            after_work = reading(mon_pid, "after_work");
        }
        kill("-USR2");
        if i < spikes as usize {
            // Back to the base, then past the spike cooldown (window x interval).
            sleep(Duration::from_secs(4));
        }
    }
    // Idle, as in production: ticks, and Prometheus scraping now and then
    // (its code is part of the idle working set).
    sleep(idle / 2);
    scraped += scrape(metrics_port);
    sleep(idle - idle / 2);
    let busy = start.elapsed().as_secs();
    let after_idle = reading(mon_pid, "after_idle");
    let figures = format!(
        "{after_idle} {started} {after_work} uploaded_objects={uploaded} alerts={} \
         scraped_bytes={scraped} seconds={busy} (dumps={dumps}x{mib}MiB spikes={spikes} idle={}s)",
        alerts(),
        idle.as_secs(),
    );
    drop(kids);
    let _ = fs::remove_dir_all(&work);
    Ok(figures)
}

fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let arg = |i: usize, d: u64| args.get(i).copied().unwrap_or(d);
    let dumps = u32::try_from(arg(0, 3)).unwrap_or(3);
    let spikes = u32::try_from(arg(2, 2)).unwrap_or(2);
    match run(dumps, arg(1, 50), spikes, Duration::from_secs(arg(3, 10))) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("idle_rss: {e}");
            ExitCode::FAILURE
        }
    }
}
