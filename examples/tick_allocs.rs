//! Heap allocations per steady-state tick (PRODUCT §5: zero), counted by a
//! global allocator that wraps the system one. A tick here is exactly what
//! the run loop does once a target is watched: `StatusFile::read` into a
//! stack buffer, then `Detector::on_sample`. Also prints the CPU cost of one
//! such tick without the sleep, for `scripts/bench.sh`.
//!
//! ```text
//! tick_allocs [pid] [ticks]   default: this process, 10000 ticks
//! ```

// A counting `#[global_allocator]` cannot be written without `unsafe impl`;
// this bench-only example is the one place outside `sys` that needs it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memory_monitor::core::detector::{Detector, Params};
use memory_monitor::io::procfs::StatusFile;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to the system allocator with the caller's
// arguments unchanged; the counters do not touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as our caller's (non-zero-size layout).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc`/`realloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System`; same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
    let status = StatusFile::open(pid).map_err(|e| format!("open /proc/{pid}/status: {e}"))?;
    let mut detector = Detector::new(Params {
        window_size: WINDOW,
        threshold_bytes: 200 << 20,
        spike_multiplier_micros: 3_000_000,
        spike_cooldown: TICK * WINDOW as u32,
        leak_cooldown: Duration::from_secs(3600),
    });
    let mut buf = [0u8; 4096];
    let mut now = Instant::now();
    let mut tick = |now: Instant, buf: &mut [u8]| -> Result<bool, String> {
        let sample = status
            .read(buf)
            .map_err(|e| format!("read /proc/{pid}/status: {e:?}"))?;
        let bytes = sample
            .rss_anon
            .or(sample.vm_rss)
            .ok_or("no RssAnon nor VmRSS")?;
        Ok(detector.on_sample(now, bytes).is_some())
    };
    // Warm up: fill the window so the baseline is set and every tick after
    // this is a steady-state one.
    for _ in 0..WINDOW * 2 {
        now += TICK;
        tick(now, &mut buf)?;
    }
    let allocs_before = ALLOCS.load(Ordering::SeqCst);
    let bytes_before = ALLOC_BYTES.load(Ordering::SeqCst);
    let mut events = 0u64;
    let start = Instant::now();
    for _ in 0..ticks {
        now += TICK;
        events += u64::from(tick(now, &mut buf)?);
    }
    let elapsed = start.elapsed();
    let allocs = ALLOCS.load(Ordering::SeqCst) - allocs_before;
    let bytes = ALLOC_BYTES.load(Ordering::SeqCst) - bytes_before;
    println!(
        "tick_allocs ticks={ticks} allocations={allocs} allocated_bytes={bytes} events={events} ns_per_tick={}",
        elapsed.as_nanos() / u128::from(ticks)
    );
    Ok(())
}
