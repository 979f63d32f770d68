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
            let p95 = select(copy, i95)?;
            let p50 = match copy.get_mut(..i95) {
                Some(below) if i50 < i95 => select(below, i50)?,
                _ => p95,
            };
            Some((p50, p95))
        });
        self.p50_p95.set(both);
        both
    }

    /// Runs `f` on a stack copy of the live samples, in a frame sized for
    /// them: a window of the usual size (60) is copied into 512 bytes of
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

/// Windows up to this many samples (the default is 60) are copied into a
/// zeroed 512-byte array.
const SMALL: usize = 64;
/// Up to this many, into an 8 KiB frame; beyond, the full capacity.
const MEDIUM: usize = 1024;

/// The ring's two halves, oldest first, as one slice of a zeroed array
/// (`with_copy` sends at most SMALL samples here; more would be cut short).
#[inline(never)]
fn copy_small<R>(older: &[u64], newer: &[u64], f: impl FnOnce(&mut [u64]) -> R) -> R {
    let mut copy = [0u64; SMALL];
    // Plain loops: iterator adapters (`zip`, `chain`, an array's
    // `into_iter`) stay out of line at this opt-level, each one more cold
    // page for the tick.
    let mut n = 0;
    for &v in older {
        let Some(slot) = copy.get_mut(n) else { break };
        *slot = v;
        n += 1;
    }
    for &v in newer {
        let Some(slot) = copy.get_mut(n) else { break };
        *slot = v;
        n += 1;
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
    select(values, rank(values.len(), p).checked_sub(1)?)
}

/// The `k`-th smallest of `v` (0-based), left at `v[k]` with nothing
/// greater before it and nothing smaller after it (`None` if `k` is out of
/// range). Wirth's quickselect: linear on average and a few dozen
/// instructions of code, where the standard library's introselect spans
/// several functions whose cache lines the tick pays for cold after every
/// sleep. After `2·log2(n)` rounds it hands over to `select_nth_unstable`
/// (linear in the worst case), so no sequence of samples makes it quadratic.
pub fn select(v: &mut [u64], k: usize) -> Option<u64> {
    select_within(v, k, 2 * (usize::BITS - v.len().leading_zeros()))
}

/// [`select`] with at most `rounds` of partitioning before the hand-over.
fn select_within(v: &mut [u64], k: usize, mut rounds: u32) -> Option<u64> {
    let n = isize::try_from(v.len()).ok()?;
    let k = isize::try_from(k).ok().filter(|&k| k < n)?;
    // Signed, as in Wirth's text: `j` may step to -1. An index outside `v`
    // cannot happen (each scan stops at the pivot's value at the latest);
    // `get` turns one into `None` rather than a panic.
    let at = |v: &[u64], i: isize| usize::try_from(i).ok().and_then(|i| v.get(i).copied());
    let (mut lo, mut hi) = (0, n - 1);
    while lo < hi {
        if rounds == 0 {
            let (lo, hi) = (usize::try_from(lo).ok()?, usize::try_from(hi).ok()?);
            let k = usize::try_from(k).ok()?;
            return Some(*v.get_mut(lo..=hi)?.select_nth_unstable(k - lo).1);
        }
        rounds -= 1;
        let pivot = at(v, k)?;
        let (mut i, mut j) = (lo, hi);
        while i <= j {
            while at(v, i)? < pivot {
                i += 1;
            }
            while pivot < at(v, j)? {
                j -= 1;
            }
            if i <= j {
                v.swap(usize::try_from(i).ok()?, usize::try_from(j).ok()?);
                i += 1;
                j -= 1;
            }
        }
        // Now lo..=j holds nothing above the pivot, i..=hi nothing below.
        if j < k {
            lo = i;
        }
        if k < i {
            hi = j;
        }
    }
    at(v, k)
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
    fn select_matches_a_sort_on_every_shape() {
        let mut seed = 0x2545_F491;
        let shapes: [&dyn Fn(u64, usize) -> u64; 6] = [
            &|r, _| r % 1_000_000,
            &|r, _| r % 3,
            &|_, i| i as u64,
            &|_, i| 10_000 - i as u64,
            &|_, _| 42,
            // An organ pipe and a sawtooth: classic quickselect killers.
            &|_, i| (i % 64).min(63 - i % 64) as u64,
        ];
        for n in [1, 2, 3, 5, 17, 60, 64, 129, 1000] {
            for shape in &shapes {
                let data: Vec<u64> = (0..n).map(|i| shape(rng(&mut seed), i)).collect();
                let mut sorted = data.clone();
                sorted.sort_unstable();
                for k in [0, n / 2, n * 95 / 100, n - 1] {
                    // Full budget, and the hand-over after 0 or 1 rounds.
                    for rounds in [64, 0, 1] {
                        let mut v = data.clone();
                        let got = select_within(&mut v, k, rounds);
                        assert_eq!(got, Some(sorted[k]), "n {n} k {k} rounds {rounds}");
                        assert!(v[..k].iter().all(|&x| x <= sorted[k]));
                        assert!(v[k..].iter().all(|&x| x >= sorted[k]));
                    }
                }
                assert_eq!(select(&mut data.clone(), n), None);
            }
        }
        assert_eq!(select(&mut [], 0), None);
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
