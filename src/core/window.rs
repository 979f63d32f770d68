//! The sliding window: a fixed `heapless` ring of compile-time capacity with a
//! runtime size, and nearest-rank percentiles by O(n) selection on a stack
//! copy — never a sort, never an allocation.

use heapless::Deque;

/// Compile-time capacity of every window; HISTORY_WINDOW_SIZE may not exceed it.
pub const CAPACITY: usize = 4096;

pub struct Window {
    samples: Deque<u64, CAPACITY>,
    size: usize,
}

impl Window {
    /// `size` is clamped to `1..=CAPACITY`; config validation rejects
    /// anything outside that range before it gets here.
    pub fn new(size: usize) -> Window {
        Window {
            samples: Deque::new(),
            size: size.clamp(1, CAPACITY),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.samples.len() >= self.size
    }

    /// Adds a sample, dropping the oldest once the window holds `size`.
    pub fn push(&mut self, bytes: u64) {
        if self.samples.len() >= self.size {
            self.samples.pop_front();
        }
        // Cannot fail: there is room after the pop above (size <= CAPACITY).
        let _ = self.samples.push_back(bytes);
    }

    pub fn clear(&mut self) {
        self.samples.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = &u64> {
        self.samples.iter()
    }

    /// Nearest-rank percentile: `index = ceil(n·p/100)` clamped to `[1, n]`.
    /// `None` for an empty window.
    pub fn percentile(&self, p: u32) -> Option<u64> {
        select_percentile(&mut self.stack_copy(), p)
    }

    /// P50 and P95 from one copy of the window.
    pub fn p50_p95(&self) -> Option<(u64, u64)> {
        let mut copy = self.stack_copy();
        let p95 = select_percentile(&mut copy, 95)?;
        let p50 = select_percentile(&mut copy, 50)?;
        Some((p50, p95))
    }

    /// The live samples copied onto the stack. Only `len` slots are written:
    /// zeroing a whole `[u64; CAPACITY]` (32 KiB) each tick would touch 8
    /// cold stack pages after every sleep, for nothing.
    fn stack_copy(&self) -> heapless::Vec<u64, CAPACITY> {
        let mut copy = heapless::Vec::new();
        for &v in &self.samples {
            // Cannot fail: the ring never holds more than CAPACITY samples.
            let _ = copy.push(v);
        }
        copy
    }

    /// Least-squares slope of the samples against their tick index, in bytes
    /// per tick; `None` with fewer than two samples.
    pub fn slope_per_tick(&self) -> Option<f64> {
        let n = self.samples.len();
        if n < 2 {
            return None;
        }
        let nf = n as f64;
        let mean_x = (nf - 1.0) / 2.0;
        let mean_y = self.samples.iter().map(|&v| v as f64).sum::<f64>() / nf;
        let (mut num, mut den) = (0.0, 0.0);
        for (i, &v) in self.samples.iter().enumerate() {
            let dx = i as f64 - mean_x;
            num += dx * (v as f64 - mean_y);
            den += dx * dx;
        }
        Some(num / den)
    }
}

/// The nearest-rank rank for `n` samples: `ceil(n·p/100)` clamped to `[1, n]`.
pub fn rank(n: usize, p: u32) -> usize {
    let r = (n.saturating_mul(p as usize)).div_ceil(100);
    r.clamp(1, n.max(1))
}

/// Selects the nearest-rank percentile in place (reorders `values`).
pub fn select_percentile(values: &mut [u64], p: u32) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let idx = rank(values.len(), p) - 1;
    let (_, v, _) = values.select_nth_unstable(idx);
    Some(*v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(values: &[u64], p: u32) -> u64 {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let idx = ((n as f64 * p as f64 / 100.0).ceil() as usize).clamp(1, n);
        sorted[idx - 1]
    }

    /// xorshift64*: deterministic random data without a crate.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed >> 12;
        *seed ^= *seed << 25;
        *seed ^= *seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[test]
    fn percentiles_match_a_sort_based_reference() {
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        for size in [1, 2, 3, 19, 20, 21, 60, 100, 1000, CAPACITY] {
            let mut w = Window::new(size);
            let mut all = Vec::new();
            for _ in 0..size + size / 2 {
                let v = rng(&mut seed) % 1000;
                w.push(v);
                all.push(v);
            }
            let live = &all[all.len() - size..];
            for p in [0, 1, 5, 50, 95, 99, 100] {
                assert_eq!(
                    w.percentile(p),
                    Some(reference(live, p)),
                    "size {size} p{p}"
                );
            }
            let (p50, p95) = w.p50_p95().unwrap();
            assert_eq!((p50, p95), (reference(live, 50), reference(live, 95)));
        }
    }

    #[test]
    fn ranks_follow_the_contract() {
        assert_eq!(rank(10, 50), 5);
        assert_eq!(rank(10, 95), 10);
        assert_eq!(
            rank(19, 95),
            19,
            "P95 of fewer than 20 samples is the maximum"
        );
        assert_eq!(rank(20, 95), 19);
        assert_eq!(rank(60, 95), 57);
        assert_eq!(rank(7, 0), 1);
        assert_eq!(rank(1, 50), 1);
    }

    #[test]
    fn empty_and_full() {
        let mut w = Window::new(3);
        assert_eq!(w.percentile(50), None);
        assert!(!w.is_full());
        for v in [5, 1, 9, 7] {
            w.push(v);
        }
        assert!(w.is_full());
        assert_eq!(w.len(), 3);
        assert_eq!(w.iter().copied().collect::<Vec<_>>(), vec![1, 9, 7]);
        assert_eq!(w.percentile(50), Some(7));
    }

    #[test]
    fn slope_of_a_line() {
        let mut w = Window::new(10);
        for i in 0..10 {
            w.push(1000 + 50 * i);
        }
        assert!((w.slope_per_tick().unwrap() - 50.0).abs() < 1e-9);
    }
}
