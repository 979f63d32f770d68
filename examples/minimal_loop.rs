//! The floor for the tick budget of PRODUCT §5: a loop that only `pread`s
//! `/proc/<pid>/status` into a 4 KiB stack buffer and sleeps until the next
//! deadline. Nothing is parsed, logged or allocated per tick. `just bench`
//! runs it beside the real monitor and compares their CPU time per tick.
//!
//! ```text
//! minimal_loop <pid> <interval-ms>        loop until killed
//! minimal_loop --pread-cost <pid> <count> time <count> back-to-back preads
//! ```

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, pid, count] if flag == "--pread-cost" => number(pid, "pid")
            .and_then(|pid| number(count, "count").and_then(|count| pread_cost(pid, count))),
        [pid, interval_ms] => number(pid, "pid").and_then(|pid| {
            number(interval_ms, "interval-ms").and_then(|ms| run(pid, Duration::from_millis(ms)))
        }),
        _ => Err(
            "usage: minimal_loop <pid> <interval-ms> | minimal_loop --pread-cost <pid> <count>"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minimal_loop: {e}");
            ExitCode::FAILURE
        }
    }
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    text.parse().map_err(|e| format!("{what} {text:?}: {e}"))
}

fn open(pid: u64) -> Result<File, String> {
    let path = format!("/proc/{pid}/status");
    File::open(&path).map_err(|e| format!("open {path}: {e}"))
}

/// The loop being compared: pread, sleep to the next deadline, repeat.
fn run(pid: u64, interval: Duration) -> Result<(), String> {
    let file = open(pid)?;
    let mut buf = [0u8; 4096];
    println!(
        "minimal_loop pid={} target={pid} interval_ms={}",
        std::process::id(),
        interval.as_millis()
    );
    let mut deadline = Instant::now();
    loop {
        let n = file
            .read_at(&mut buf, 0)
            .map_err(|e| format!("pread /proc/{pid}/status: {e}"))?;
        std::hint::black_box(buf.get(..n));
        deadline += interval;
        let now = Instant::now();
        match deadline.checked_duration_since(now) {
            Some(left) => std::thread::sleep(left),
            None => deadline = now,
        }
    }
}

/// The bare cost of one pread of the status file, without any sleep.
fn pread_cost(pid: u64, count: u64) -> Result<(), String> {
    let file = open(pid)?;
    let mut buf = [0u8; 4096];
    let mut bytes = 0usize;
    // Warm up the page cache and the kernel paths first.
    for _ in 0..1000 {
        bytes = file
            .read_at(&mut buf, 0)
            .map_err(|e| format!("pread: {e}"))?;
    }
    let start = Instant::now();
    for _ in 0..count {
        bytes = file
            .read_at(&mut buf, 0)
            .map_err(|e| format!("pread: {e}"))?;
        std::hint::black_box(buf.get(..bytes));
    }
    let elapsed = start.elapsed();
    let per_ns = elapsed.as_nanos() / u128::from(count.max(1));
    println!(
        "pread_cost count={count} bytes={bytes} total_ns={} ns_per_pread={per_ns}",
        elapsed.as_nanos()
    );
    Ok(())
}
