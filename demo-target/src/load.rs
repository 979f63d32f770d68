//! The memory the demo holds: a base block, a slow steady leak and spikes.
//!
//! Every allocation is filled with a non-zero byte so each page is really
//! touched and `RssAnon` grows (a zeroed `vec!` could be served by untouched
//! fresh mmap pages). Each kind of memory has its own `#[inline(never)]`
//! allocation function, so the heap profile shows which path holds what.

use std::time::Duration;

const MIB: usize = 1024 * 1024;

/// Spike memory is allocated in chunks above jemalloc's `oversize_threshold`
/// (8 MiB by default): those go to the dedicated "oversize" arena, which
/// purges eagerly, so freeing a spike really gives the pages back to the OS.
const SPIKE_CHUNK: usize = 16 * MIB;

/// Fill byte: non-zero so the kernel cannot keep pages shared/zero.
const FILL: u8 = 0xA5;

/// Allocates `bytes`, touching every page.
#[inline(never)]
fn touched(bytes: usize) -> Vec<u8> {
    vec![FILL; bytes]
}

/// The base block allocated at startup.
#[inline(never)]
fn base_alloc(bytes: usize) -> Vec<u8> {
    touched(bytes)
}

/// One step of the slow leak (a distinct call path in the profile).
#[inline(never)]
fn leak_step(bytes: usize) -> Vec<u8> {
    touched(bytes)
}

/// One chunk of a spike (a distinct call path in the profile).
#[inline(never)]
fn spike_chunk(bytes: usize) -> Vec<u8> {
    touched(bytes)
}

/// What the process holds on purpose.
pub struct Load {
    _base: Vec<u8>,
    leaked: Vec<Vec<u8>>,
    leaked_bytes: usize,
    spikes: Vec<Vec<u8>>,
    spike_bytes: usize,
}

impl Load {
    /// Allocates the base block of `base_mb` MiB.
    pub fn new(base_mb: usize) -> Load {
        Load {
            _base: base_alloc(base_mb.saturating_mul(MIB)),
            leaked: Vec::new(),
            leaked_bytes: 0,
            spikes: Vec::new(),
            spike_bytes: 0,
        }
    }

    /// Bytes leaked so far.
    pub fn leaked_bytes(&self) -> usize {
        self.leaked_bytes
    }

    /// Bytes currently held by spikes.
    pub fn spike_bytes(&self) -> usize {
        self.spike_bytes
    }

    /// Grows the leak so the total matches `mb_per_sec` × `leaking_for`.
    /// Driven by elapsed time, so it does not drift with tick jitter.
    /// Returns the bytes added by this call.
    pub fn leak_to(&mut self, mb_per_sec: f64, leaking_for: Duration) -> usize {
        let target = mb_per_sec * leaking_for.as_secs_f64() * MIB as f64;
        // `as` saturates for out-of-range floats; the flag parser only
        // admits finite, non-negative rates.
        let target = target as usize;
        let step = target.saturating_sub(self.leaked_bytes);
        if step == 0 {
            return 0;
        }
        self.leaked.push(leak_step(step));
        self.leaked_bytes += step;
        step
    }

    /// Adds one spike of `mb` MiB, allocated at once.
    pub fn spike(&mut self, mb: usize) {
        let mut left = mb.saturating_mul(MIB);
        while left > 0 {
            let n = left.min(SPIKE_CHUNK);
            self.spikes.push(spike_chunk(n));
            self.spike_bytes += n;
            left -= n;
        }
    }

    /// Frees every spike; the oversize arena hands the pages straight back
    /// to the OS (see `SPIKE_CHUNK`), so RSS drops. Returns the bytes freed.
    pub fn release_spikes(&mut self) -> usize {
        let freed = self.spike_bytes;
        self.spikes = Vec::new();
        self.spike_bytes = 0;
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leak_follows_elapsed_time() {
        let mut load = Load::new(0);
        assert_eq!(load.leak_to(1.0, Duration::from_millis(500)), MIB / 2);
        assert_eq!(load.leak_to(1.0, Duration::from_millis(500)), 0);
        assert_eq!(load.leak_to(1.0, Duration::from_secs(1)), MIB / 2);
        assert_eq!(load.leaked_bytes(), MIB);
    }

    #[test]
    fn spike_is_chunked_and_released() {
        let mut load = Load::new(1);
        load.spike(40);
        assert_eq!(load.spike_bytes(), 40 * MIB);
        assert_eq!(load.spikes.len(), 3);
        assert!(load.spikes.iter().all(|c| c.iter().all(|&b| b == FILL)));
        assert_eq!(load.release_spikes(), 40 * MIB);
        assert_eq!(load.spike_bytes(), 0);
    }
}
