//! The sliding window: a fixed `heapless` ring of compile-time capacity with a
//! runtime size, and nearest-rank percentiles by O(n) selection on a stack
//! copy — never a sort, never an allocation.

use std::cell::Cell;

use heapless::Deque;

/// Compile-time capacity of every window; HISTORY_WINDOW_SIZE may not exceed it.
pub const CAPACITY: usize = 4096;

pub struct Window {
    samples: Deque<u64, CAPACITY>,
    size: usize,
    /// P50 and P95 of the samples as they are, once computed: every reader
    /// of a tick (the detector before and after its push, the metrics, the
    /// verdict) shares one selection. Cleared by every change.
    p50_p95: Cell<Option<(u64, u64)>>,
}

impl Window {
    /// `size` is clamped to `1..=CAPACITY`; config validation rejects
    /// anything outside that range before it gets here.
    pub fn new(size: usize) -> Window {
        Window {
            samples: Deque::new(),
            size: size.clamp(1, CAPACITY),
            p50_p95: Cell::new(None),
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
        let dropped = if self.samples.len() >= self.size {
            self.samples.pop_front()
        } else {
            None
        };
        // The same value in as out leaves the same samples, in another
        // order: the percentiles stand (a quiet process often reads the
        // same RssAnon tick after tick).
        if dropped != Some(bytes) {
            self.p50_p95.set(None);
        }
        // Cannot fail: there is room after the pop above (size <= CAPACITY).
        let _ = self.samples.push_back(bytes);
    }

    pub fn clear(&mut self) {
        self.p50_p95.set(None);
        self.samples.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = &u64> {
        self.samples.iter()
    }

    /// Nearest-rank percentile: `index = ceil(n·p/100)` clamped to `[1, n]`.
    /// `None` for an empty window.
    pub fn percentile(&self, p: u32) -> Option<u64> {
        match p {
            50 => self.p50_p95().map(|(p50, _)| p50),
            95 => self.p50_p95().map(|(_, p95)| p95),
            _ => self.with_copy(|copy| select_percentile(copy, p)),
        }
    }

    /// P50 and P95, from one copy of the window and at most once between
    /// two changes.
    pub fn p50_p95(&self) -> Option<(u64, u64)> {
        if let Some(both) = self.p50_p95.get() {
            return Some(both);
        }
        let both = self.with_copy(|copy| {
            let n = copy.len();
            if n == 0 {
                return None;
            }
            let (i50, i95) = (rank(n, 50).checked_sub(1)?, rank(n, 95).checked_sub(1)?);
            // P95 first: the P50 rank is no higher, so it is selected among
            // the samples the first selection left below the P95 only.
            let (below, &mut p95, _) = copy.select_nth_unstable(i95);
            let p50 = if i50 < below.len() {
                *below.select_nth_unstable(i50).1
            } else {
                p95
            };
            Some((p50, p95))
        });
        self.p50_p95.set(both);
        both
    }

    /// Runs `f` on a stack copy of the live samples, in a frame sized for
    /// them: a window of the usual size (60) is one `memcpy` into 1 KiB of
    /// stack, and a larger one is never zeroed. Returning the copy by value
    /// instead cost a 32 KiB `memcpy` and eight cold stack pages per call,
    /// twice a tick: a third of the tick's CPU after each sleep.
    fn with_copy<R>(&self, f: impl FnOnce(&mut [u64]) -> R) -> R {
        let (older, newer) = self.samples.as_slices();
        let n = older.len() + newer.len();
        if n <= SMALL {
            copy_small(older, newer, f)
        } else if n <= MEDIUM {
            copy_into::<MEDIUM, R>(older, newer, f)
        } else {
            copy_into::<CAPACITY, R>(older, newer, f)
        }
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

/// Windows up to this many samples are copied into a zeroed 1 KiB array.
const SMALL: usize = 128;
/// Up to this many, into an 8 KiB frame; beyond, the full capacity.
const MEDIUM: usize = 1024;

/// The ring's two halves, oldest first, as one slice of a zeroed array.
#[inline(never)]
fn copy_small<R>(older: &[u64], newer: &[u64], f: impl FnOnce(&mut [u64]) -> R) -> R {
    let mut copy = [0u64; SMALL];
    let n = older.len() + newer.len();
    let Some((a, rest)) = copy.split_at_mut_checked(older.len()) else {
        // Cannot happen: `with_copy` sends at most SMALL samples here.
        return copy_into::<CAPACITY, R>(older, newer, f);
    };
    a.copy_from_slice(older);
    match rest.get_mut(..newer.len()) {
        Some(b) => b.copy_from_slice(newer),
        None => return copy_into::<CAPACITY, R>(older, newer, f),
    }
    f(copy.get_mut(..n).unwrap_or_default())
}

/// The same into a `heapless::Vec` that lives in this frame only: nothing
/// beyond the samples is written. Not inlined, so the frame (and its
/// stack probes) exists only while the copy is used.
#[inline(never)]
fn copy_into<const N: usize, R>(
    older: &[u64],
    newer: &[u64],
    f: impl FnOnce(&mut [u64]) -> R,
) -> R {
    let mut copy = heapless::Vec::<u64, N>::new();
    // Cannot fail: `with_copy` picks an `N` that holds every sample.
    let _ = copy.extend_from_slice(older);
    let _ = copy.extend_from_slice(newer);
    f(&mut copy)
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
        for size in [
            1,
            2,
            3,
            19,
            20,
            21,
            60,
            100,
            SMALL,
            SMALL + 1,
            1000,
            CAPACITY,
        ] {
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
    fn cached_percentiles_follow_every_change() {
        let mut w = Window::new(3);
        assert_eq!(w.p50_p95(), None);
        w.push(10);
        assert_eq!(w.p50_p95(), Some((10, 10)));
        w.push(30);
        assert_eq!(w.percentile(95), Some(30), "push clears the cache");
        w.clear();
        assert_eq!(w.p50_p95(), None, "clear clears the cache");
        // Few distinct values: the same value often leaves and enters.
        let mut seed = 7;
        for size in [1, 3, 60] {
            let mut w = Window::new(size);
            let mut all = Vec::new();
            for i in 0..500 {
                let v = rng(&mut seed) % 3;
                w.push(v);
                all.push(v);
                let live = &all[all.len().saturating_sub(size)..];
                let want = (reference(live, 50), reference(live, 95));
                assert_eq!(w.p50_p95(), Some(want), "size {size}, push {i}");
            }
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
