//! The running monitor against the kernel's real memory cgroups: a real OOM
//! kill is reported as `oom-kill` within about a second, `PRE_OOM_DUMP`
//! spools a `pre-oom` dump before the kill, and the phantom leak (page cache
//! growth) raises no slow leak with the default metric.

#[path = "common/cgroup.rs"]
mod cgroup_util;
mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;

const MIB: u64 = 1 << 20;
const PROFILING: &str = "prof:true,prof_active:true,lg_prof_sample:19";

fn ready(child: &mut Child) {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(!line.is_empty(), "child said nothing");
}

fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn wait_killed(child: &mut Child) -> Instant {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert_eq!(s.signal(), Some(9), "OOM-killed: {s:?}");
            return Instant::now();
        }
        assert!(Instant::now() < until, "not OOM-killed within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_real_oom_kill_is_reported_within_a_second_and_no_false_leak_follows() {
    let Some(cg) = cgroup_util::child("oomev") else {
        return;
    };
    cg.set_limit(96 * MIB);
    let dir = scratch("cgoomev");
    let name = unique_name("mmoomev", 12);
    let exe = named_target(&dir, &name);
    let spool = dir.join("spool");
    let m = monitor(&[
        ("BINARY_NAME", &name),
        ("SPOOL_DIR", spool.to_str().unwrap()),
        ("PRE_OOM_DUMP", "60%"),
        ("METRICS_ADDR", "127.0.0.1:0"),
    ]);
    let mut first = cg.spawn_env(
        &exe,
        &[
            "--base-mb",
            "16",
            "--leak-mb-per-sec",
            "40",
            "--leak-after-secs",
            "5",
        ],
        &[("MALLOC_CONF", PROFILING)],
    );
    ready(&mut first);
    let pid = first.id();
    m.wait_for("watching", Duration::from_secs(20), |l| {
        l.contains(" event=watching ")
    });
    let killed = wait_killed(&mut first);
    let line = m.wait_for("oom-kill", Duration::from_secs(10), |l| {
        l.contains(" event=oom-kill ")
    });
    let reported = Instant::now();
    // Generous for a contended machine; the loop reads the counter the tick
    // the target vanishes.
    assert!(
        reported - killed < Duration::from_secs(3),
        "oom-kill after {:?}: {line}",
        reported - killed
    );
    assert_eq!(field(&line, "target"), Some(name.as_str()), "{line}");
    assert_eq!(
        field(&line, "pid"),
        Some(pid.to_string().as_str()),
        "{line}"
    );
    assert_eq!(field(&line, "limit"), Some((96 * MIB).to_string().as_str()));
    let last: u64 = field(&line, "last_rss_anon").unwrap().parse().unwrap();
    let peak: u64 = field(&line, "peak_vm_hwm").unwrap().parse().unwrap();
    assert!(last >= 16 * MIB && peak >= last, "{line}");

    // Counted in the metrics (the notifier hears of it the same way).
    let listening = m.wait_for("metrics", Duration::from_secs(5), |l| {
        l.contains(" event=metrics-listening ")
    });
    let addr = field(&listening, "addr").unwrap().to_string();
    let metrics = scrape(&addr);
    let want = format!("memory_monitor_oom_kills_total{{target=\"{name}\"}} 1");
    assert!(metrics.contains(&want), "{want} in:\n{metrics}");

    // PRE_OOM_DUMP: the pre-oom dump was spooled before the kill.
    let pre = m.events("pre-oom");
    assert_eq!(pre.len(), 1, "{:#?}", m.lines());
    let dumps: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-pre-oom.pprof"))
        .collect();
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    let all = m.lines();
    let at = |needle: &str| all.iter().position(|l| l.contains(needle)).unwrap();
    assert!(at(" event=pre-oom ") < at(" event=oom-kill "));

    // The restart that follows starts a fresh window: no false leak.
    let mut second = cg.spawn(&exe, &["--base-mb", "16"]);
    ready(&mut second);
    m.wait_for("restart", Duration::from_secs(10), |l| {
        l.contains(" event=restart ")
    });
    std::thread::sleep(Duration::from_secs(3));
    for kind in ["slow-leak", "spike", "oom-kill"] {
        let n = if kind == "oom-kill" { 1 } else { 0 };
        assert_eq!(m.events(kind).len(), n, "{kind}: {:#?}", m.lines());
    }
    let _ = second.kill();
    let _ = second.wait();
}

/// Grows a file mapping in steps: STEP MiB written, read twice (so the
/// kernel moves the pages to the active list: the working set grows),
/// mapped and touched every half second up to TOTAL MiB; anon stays flat.
const GROWER: &str = r#"
import mmap, os, sys, time
path, total, step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
maps = []
buf = bytearray(1 << 20)
print("ready", flush=True)
for i in range(total // step):
    p = "%s.%d" % (path, i)
    with open(p, "wb") as f:
        for _ in range(step):
            f.write(os.urandom(1 << 20))
    for _ in range(2):
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass
    f = open(p, "rb")
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    s = 0
    for off in range(0, len(m), 4096):
        s += m[off]
    maps.append((f, m))
    time.sleep(0.5)
time.sleep(60)
"#;

/// The monitor's log, the working set before and after, and the recorded
/// samples (`--record`).
fn phantom(metric: &str) -> (Monitor, u64, u64, String) {
    let cg = cgroup_util::child(&format!("phantom{}", metric.len())).expect("checked");
    let dir = scratch("cgphantom");
    let mut child = cg.spawn(
        Path::new("python3"),
        &["-c", GROWER, dir.join("f").to_str().unwrap(), "320", "32"],
    );
    ready(&mut child);
    let pid = child.id().to_string();
    let m = monitor(&[
        ("TARGET_PID", &pid),
        ("MEMORY_METRIC", metric),
        ("MEMORY_CHANGE_THRESHOLD", "64MiB"),
        ("SPOOL_DIR", dir.join("spool").to_str().unwrap()),
        ("RECORD_FILE", dir.join("trace.csv").to_str().unwrap()),
    ]);
    // The kubelet's working set: usage - inactive file.
    let ws = || {
        let usage: u64 = cg.read("memory.usage_in_bytes").trim().parse().unwrap();
        let stat = cg.read("memory.stat");
        let inactive: u64 = stat
            .lines()
            .find_map(|l| l.strip_prefix("total_inactive_file "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        usage.saturating_sub(inactive)
    };
    let start = ws();
    // Until the file pages are in (CPU is shared here: no fixed sleep),
    // then a little longer for the monitor to see them.
    let until = Instant::now() + Duration::from_secs(60);
    while ws() < start + 250 * MIB && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let end = ws();
    let _ = child.kill();
    let _ = child.wait();
    let trace = std::fs::read_to_string(dir.join("trace.csv")).unwrap_or_default();
    (m, start, end, trace)
}

#[test]
fn the_phantom_leak_is_no_slow_leak_with_the_default_metric() {
    if cgroup_util::child("phantomprobe").is_none() {
        return;
    }
    let (m, start, end, _) = phantom("rss_anon");
    assert!(
        end > start + 200 * MIB,
        "the working set grew: {start} -> {end}"
    );
    assert_eq!(
        m.events("slow-leak"),
        Vec::<String>::new(),
        "{:#?}",
        m.lines()
    );
    // The same growth through the working set is a slow leak: the test can fail.
    let (m, _, _, trace) = phantom("cgroup_working_set");
    // The trace records the watched metric, so replay sees what run saw.
    let last: u64 = trace
        .lines()
        .last()
        .and_then(|l| l.split(',').nth(1))
        .and_then(|b| b.parse().ok())
        .unwrap_or(0);
    assert!(last > 200 * MIB, "recorded working set {last}: {trace}");
    let leak = m.wait_for("slow-leak", Duration::from_secs(10), |l| {
        l.contains(" event=slow-leak ")
    });
    assert!(
        leak.contains("page cache"),
        "verdict names the page cache: {leak}"
    );
}
