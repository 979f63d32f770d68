//! Heap allocations per steady-state tick (PRODUCT §5: zero), counted by a
//! global allocator that wraps the system one. A tick here is the run
//! loop's own `Monitor::step` once the target is watched: capture outcomes,
//! `StatusFile::read` into a stack buffer, the target's lifecycle and its
//! detector. Also prints the CPU cost of one such tick without the sleep,
//! for `just bench`.
//!
//! ```text
//! tick_allocs [pid] [ticks]   default: this process, 10000 ticks
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use memory_monitor::config::{self, Source};
use memory_monitor::run::Monitor;

#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

const WINDOW: usize = 60;
const TICK: Duration = Duration::from_millis(20);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pid = match args.first().map(|s| s.parse::<u32>()) {
        None => std::process::id(),
        Some(Ok(pid)) => pid,
        Some(Err(e)) => return fail(&format!("pid {:?}: {e}", args[0])),
    };
    let ticks = match args.get(1).map(|s| s.parse::<u64>()) {
        None => 10_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return fail(&format!("ticks {:?}: want a positive integer", args[1])),
    };
    match measure(pid, ticks) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("tick_allocs: {msg}");
    ExitCode::FAILURE
}

fn measure(pid: u32, ticks: u64) -> Result<(), String> {
    let pid_text = pid.to_string();
    let window = WINDOW.to_string();
    let env = move |k: &str| -> Option<String> {
        let v = match k {
            "TARGET_PID" => pid_text.as_str(),
            "CHECK_INTERVAL" => "20ms",
            "MEMORY_CHANGE_THRESHOLD" => "200MB",
            "DUMP_COOLDOWN" => "1h",
            "INITIAL_DELAY" => "0s",
            "BASELINE_SETTLE" => "0s",
            "HISTORY_WINDOW_SIZE" => window.as_str(),
            _ => return None,
        };
        Some(v.to_string())
    };
    let src = Source::new(&env);
    let config = config::parse(&src, "tick-allocs").map_err(|e| format!("config: {e:?}"))?;
    // No spool: dumps are impossible and handled at once; logs go to stderr.
    let mut monitor = Monitor::new(config, None, Box::new(|_| {}));
    let mut buf = [0u8; 4096];
    let mut now = Instant::now();
    // Warm up: find the target, fill the window so the baseline is set and
    // every tick after this is a steady-state one.
    for _ in 0..WINDOW * 2 {
        now += TICK;
        monitor.step(now, &mut buf);
    }
    if monitor.watching() != 1 {
        return Err(format!("pid {pid}: not watched after the warm-up"));
    }
    let allocs_before = counting_alloc::allocations();
    let bytes_before = counting_alloc::allocated_bytes();
    let start = Instant::now();
    for _ in 0..ticks {
        now += TICK;
        monitor.step(now, &mut buf);
    }
    let elapsed = start.elapsed();
    let allocs = counting_alloc::allocations() - allocs_before;
    let bytes = counting_alloc::allocated_bytes() - bytes_before;
    println!(
        "tick_allocs ticks={ticks} allocations={allocs} allocated_bytes={bytes} watching={} ns_per_tick={}",
        monitor.watching(),
        elapsed.as_nanos() / u128::from(ticks)
    );
    Ok(())
}
