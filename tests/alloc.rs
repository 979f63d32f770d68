//! Zero heap allocations per steady-state tick, proven with a counting
//! global allocator on the real tick path: `Monitor::step` (capture
//! outcomes, status pread + scan, the target's lifecycle, window push,
//! percentiles, detect) against a real process.

use std::time::{Duration, Instant};

use memory_monitor::config::{self, Source};
use memory_monitor::core::window::CAPACITY;
use memory_monitor::run::Monitor;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// A monitor on `pid` with the given window, no spool (dumps are
/// impossible, handled at once), no delay and no settle.
fn monitor(pid: u32, window: usize) -> Monitor {
    monitor_on(("TARGET_PID", pid.to_string()), window)
}

/// The same, finding its target by `spec` (`TARGET_PID` or `BINARY_NAME`).
fn monitor_on(spec: (&'static str, String), window: usize) -> Monitor {
    let window = window.to_string();
    let env = move |k: &str| -> Option<String> {
        let v = match k {
            k if k == spec.0 => spec.1.as_str(),
            "CHECK_INTERVAL" => "1s",
            "MEMORY_CHANGE_THRESHOLD" => "1GB",
            "DUMP_COOLDOWN" => "10m",
            "INITIAL_DELAY" => "0s",
            "BASELINE_SETTLE" => "0s",
            "HISTORY_WINDOW_SIZE" => window.as_str(),
            // The target shares this machine's cgroup: an OOM kill in a
            // parallel test's child cgroup counts there too, and a real
            // event is reported (and allocates). Reads go on all the same.
            "DISABLE_EVENTS" => "oom-kill,memory-high,memory-pressure",
            _ => return None,
        };
        Some(v.to_string())
    };
    let src = Source::new(&env);
    let config = config::parse(&src, "alloc-test").unwrap();
    Monitor::new(config, None, Box::new(|_| {}))
}

/// Waits until `pid`'s memory stops moving (it is still exec'ing right
/// after spawn: a jump then would be a real spike event, whose log line
/// allocates).
fn settled(pid: u32) {
    let rss = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("RssAnon:"))
            .map(str::to_owned)
    };
    let mut last = rss();
    let mut same = 0;
    while same < 3 {
        std::thread::sleep(Duration::from_millis(50));
        let now = rss();
        same = if now == last && now.is_some() {
            same + 1
        } else {
            0
        };
        last = now;
    }
}

#[test]
fn a_steady_state_tick_allocates_nothing() {
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    settled(child.id());
    for window_size in [60, CAPACITY] {
        let mut m = monitor(child.id(), window_size);
        let mut buf = [0u8; 4096];
        let t0 = Instant::now();
        let at = |i: u64| t0 + Duration::from_secs(i);
        // Found, baseline dump (impossible: no spool), settled, window full.
        let warm_up = window_size as u64 + 5;
        for i in 0..warm_up {
            m.step(at(i), &mut buf);
        }
        assert_eq!(m.watching(), 1, "the target is watched");
        let before = counting_alloc::allocations();
        for i in 0..2_000u64 {
            m.step(at(warm_up + i), &mut buf);
        }
        let after = counting_alloc::allocations();
        assert_eq!(
            after - before,
            0,
            "allocations in 2000 ticks (window {window_size})"
        );
        assert_eq!(m.watching(), 1, "still watched: every tick sampled it");
    }
    let _ = child.kill();
    let _ = child.wait();
    ticks_between_rescans_allocate_nothing();
}

/// Found by name, a target is rescanned for every 30 s (a new match may
/// appear): the ticks in between allocate nothing, the rescan tick does its
/// scan and tracks nothing twice. (Part of the one test above: the counter
/// is process-wide, so a parallel test's allocations would count.)
fn ticks_between_rescans_allocate_nothing() {
    let dir = std::env::temp_dir().join(format!("mm-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("mmalloc{}", std::process::id() % 100_000);
    let exe = dir.join(&name);
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let mut child = std::process::Command::new(&exe).arg("30").spawn().unwrap();
    settled(child.id());
    let mut m = monitor_on(("BINARY_NAME", name), 60);
    let mut buf = [0u8; 4096];
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    for i in 0..70 {
        m.step(at(i), &mut buf);
    }
    assert_eq!(m.watching(), 1);
    let before = counting_alloc::allocations();
    // 70 ms .. 29.9 s: no rescan is due.
    for i in 0..2_000u64 {
        m.step(at(70 + i * 14), &mut buf);
    }
    assert_eq!(counting_alloc::allocations() - before, 0, "between rescans");
    let before = counting_alloc::allocations();
    m.step(at(30_000), &mut buf);
    assert!(counting_alloc::allocations() > before, "the rescan ran");
    assert_eq!(m.watching(), 1, "found again, not tracked twice");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
