//! Metrics on: a steady-state tick (`Monitor::step` with a registry, the
//! heartbeat, per-target gauges, window percentiles once a second) still
//! allocates nothing; a scrape may, in its own thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use memory_monitor::config::{self, Source};
use memory_monitor::core::metrics::{ProcessStats, Registry};
use memory_monitor::run::{Monitor, Telling};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn a_steady_state_tick_with_metrics_allocates_nothing() {
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let env = move |k: &str| -> Option<String> {
        let v = match k {
            "TARGET_PID" => pid.as_str(),
            "CHECK_INTERVAL" => "250ms",
            "MEMORY_CHANGE_THRESHOLD" => "1GB",
            "DUMP_COOLDOWN" => "10m",
            "INITIAL_DELAY" => "0s",
            "BASELINE_SETTLE" => "0s",
            "HISTORY_WINDOW_SIZE" => "60",
            // As in tests/alloc.rs: a parallel test's OOM kill in the shared
            // cgroup would be a real event (which allocates).
            "DISABLE_EVENTS" => "oom-kill,memory-high,memory-pressure",
            _ => return None,
        };
        Some(v.to_string())
    };
    let src = Source::new(&env);
    let config = config::parse(&src, "alloc-test").unwrap();
    let t0 = Instant::now();
    let registry = Arc::new(Registry::new(t0, Duration::from_millis(250)));
    let tell = Telling::new(&config, None, Some(Arc::clone(&registry)));
    let mut m = Monitor::new(config, None, Box::new(|_| {})).with_telling(tell);
    let mut buf = [0u8; 4096];
    let at = |i: u64| t0 + Duration::from_millis(250 * i);
    for i in 0..70 {
        m.step(at(i), &mut buf);
    }
    assert_eq!(m.watching(), 1);
    let before = counting_alloc::allocations();
    for i in 70..2_070u64 {
        m.step(at(i), &mut buf);
    }
    let after = counting_alloc::allocations();
    assert_eq!(
        after - before,
        0,
        "allocations in 2000 ticks with metrics on"
    );
    // The series are there and fresh.
    let text = registry.render(&ProcessStats::default());
    let pid = child.id();
    assert!(
        text.contains(&format!("pid=\"{pid}\",kind=\"rss_anon\"}}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("pid=\"{pid}\",quantile=\"0.5\"}}")),
        "{text}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
