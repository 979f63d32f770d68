//! Zero heap allocations per steady-state tick, proven with a counting
//! global allocator: status pread + scan, window push, percentiles, detect.

// A global allocator is an unsafe trait: this test file is the one place outside `sys`
// that needs it, and only delegates to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memory_monitor::core::detector::{Detector, Params};
use memory_monitor::core::window::CAPACITY;
use memory_monitor::io::procfs::StatusFile;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: delegates to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_steady_state_tick_allocates_nothing() {
    // A real process whose memory moves, so the detector sees changing values.
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let status = StatusFile::open(child.id()).unwrap();
    let own = StatusFile::open(std::process::id()).unwrap();
    for window_size in [60, CAPACITY] {
        let mut detector = Detector::new(Params {
            window_size,
            threshold_bytes: 1 << 20,
            spike_multiplier_micros: 3_000_000,
            spike_cooldown: Duration::from_secs(60),
            leak_cooldown: Duration::from_secs(600),
        });
        let mut buf = [0u8; 4096];
        let t0 = Instant::now();
        // Warm up until the window is full and the baseline is set.
        for i in 0..window_size as u64 + 5 {
            let s = status.read(&mut buf).map_err(|_| ()).unwrap();
            detector.on_sample(t0 + Duration::from_millis(i), s.rss_anon.unwrap());
        }
        assert!(detector.baseline().is_some());
        let before = ALLOCS.load(Ordering::SeqCst);
        let mut events = 0;
        for i in 0..2_000u64 {
            let s = status.read(&mut buf).map_err(|_| ()).unwrap();
            let o = own.read(&mut buf).map_err(|_| ()).unwrap();
            // Alternate between two real processes' memory so rules get exercised.
            let bytes = if i % 500 == 499 {
                o.vm_rss.unwrap() * 50
            } else {
                s.rss_anon.unwrap()
            };
            events += usize::from(
                detector
                    .on_sample(t0 + Duration::from_secs(1000 + i), bytes)
                    .is_some(),
            );
        }
        let after = ALLOCS.load(Ordering::SeqCst);
        assert_eq!(
            after - before,
            0,
            "allocations in 2000 ticks (window {window_size})"
        );
        assert!(events > 0, "the spikes were detected");
    }
    let _ = child.kill();
    let _ = child.wait();
}
