//! A counting global allocator for the zero-allocation tests and
//! `examples/tick_allocs.rs`: it delegates to `System` unchanged and counts,
//! per thread, the allocations (and bytes) that thread asked for — so the
//! test harness's own threads and other tests running beside it never show
//! up in a measurement. Use it as
//!
//! ```ignore
//! #[path = "common/counting_alloc.rs"]
//! mod counting_alloc;
//! #[global_allocator]
//! static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;
//! let before = counting_alloc::allocations();
//! ```

// A global allocator is an unsafe trait: this one only counts and delegates.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub(crate) struct Counting;

thread_local! {
    // Const-initialised and without a destructor: safe to touch from inside
    // the allocator, also while a thread is being torn down.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + bytes as u64));
}

/// Allocations (and reallocations) made by the calling thread so far.
pub(crate) fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

/// Bytes the calling thread has asked for so far.
#[allow(dead_code)] // only the example reports bytes
pub(crate) fn allocated_bytes() -> u64 {
    BYTES.with(Cell::get)
}

// SAFETY: every method delegates to the system allocator with the caller's
// arguments unchanged; counting touches only thread-local cells.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
