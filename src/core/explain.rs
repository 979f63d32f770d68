//! What grew, in words: the breakdown of a process's memory (anon heap vs
//! file cache vs shmem vs swap, the cgroup's usage, limit, working set and
//! file pages, jemalloc's live heap vs its resident pages), the change since
//! the baseline, and a verdict with its [`VerdictCode`].

use std::fmt::Write as _;

use crate::core::event::{CgroupView, VerdictCode};
use crate::core::status::StatusSample;
use crate::core::units::human_bytes as h;

/// jemalloc counters, when the target's socket answered `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heap {
    pub allocated: u64,
    pub resident: u64,
}

impl Heap {
    /// resident ≫ allocated: at least 30 % of the resident pages hold no
    /// live object (fragmentation, dirty pages jemalloc has not returned).
    pub fn retains(self) -> bool {
        let idle = self.resident.saturating_sub(self.allocated);
        self.resident > 0 && u128::from(idle) * 100 >= u128::from(self.resident) * 30
    }
}

/// Growth below this is no growth (the verdict is `steady`).
const STEADY_BYTES: i128 = 4 << 20;

/// Everything an explanation is made from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inputs<'a> {
    pub now: StatusSample,
    /// The status when the baseline was taken (events); `None` for one
    /// reading (`inspect`).
    pub base: Option<StatusSample>,
    pub cgroup: Option<&'a CgroupView>,
    pub cgroup_base: Option<&'a CgroupView>,
    pub heap: Option<Heap>,
}

/// The verdict and its code.
pub fn explain(i: &Inputs<'_>) -> (VerdictCode, String) {
    let s = &i.now;
    let Some(anon) = s.rss_anon else {
        let rss = s.vm_rss.unwrap_or(0);
        return (
            VerdictCode::Unknown,
            format!(
                "RSS {} (this kernel does not split anon from file pages)",
                h(rss)
            ),
        );
    };
    let (code, mut out) = match i.base {
        Some(base) => growth(i, &base),
        None => composition(i, anon),
    };
    if let Some(cg) = i.cgroup.filter(|_| i.base.is_none()) {
        if let (Some(file), Some(anon)) = (cg.file_bytes, cg.anon_bytes) {
            if file > anon {
                let _ = write!(
                    out,
                    "; its cgroup holds {} of page cache (anon {}): usage counts it, the heap does not",
                    h(file),
                    h(anon)
                );
            }
        }
    }
    let swap = s.vm_swap.unwrap_or(0);
    if swap > 0 {
        let _ = write!(out, "; {} swapped out", h(swap));
    }
    if let Some(heap) = i.heap {
        if heap.retains() {
            let _ = write!(
                out,
                "; jemalloc holds {} resident for {} live: {} is fragmentation or cached pages, not live objects",
                h(heap.resident),
                h(heap.allocated),
                h(heap.resident.saturating_sub(heap.allocated))
            );
        } else {
            let _ = write!(
                out,
                "; jemalloc live heap {} of {} resident",
                h(heap.allocated),
                h(heap.resident)
            );
        }
    }
    (code, out)
}

/// One reading: where the memory is.
fn composition(i: &Inputs<'_>, anon: u64) -> (VerdictCode, String) {
    let s = &i.now;
    let file = s.rss_file.unwrap_or(0);
    let shmem = s.rss_shmem.unwrap_or(0);
    let rss = s.vm_rss.unwrap_or(anon + file + shmem).max(1);
    if file > anon && file >= shmem {
        return (
            VerdictCode::PageCache,
            format!(
                "page cache and mapped files, not a heap leak: mostly file-backed pages ({} of {})",
                h(file),
                h(rss)
            ),
        );
    }
    if shmem > anon {
        return (
            VerdictCode::PageCache,
            format!(
                "mostly shared memory ({} of {}): tmpfs or shm segments, not the heap",
                h(shmem),
                h(rss)
            ),
        );
    }
    if i.heap.is_some_and(Heap::retains) {
        return (
            VerdictCode::AllocatorRetention,
            format!(
                "allocator retention (resident ≫ allocated): mostly anonymous memory ({} of {})",
                h(anon),
                h(rss)
            ),
        );
    }
    (
        VerdictCode::Unknown,
        format!(
            "mostly anonymous memory ({} of {}): the heap and stacks; one reading cannot tell growth",
            h(anon),
            h(rss)
        ),
    )
}

/// Since the baseline: what grew.
fn growth(i: &Inputs<'_>, base: &StatusSample) -> (VerdictCode, String) {
    let d = |now: Option<u64>, was: Option<u64>| -> i128 {
        i128::from(now.unwrap_or(0)) - i128::from(was.unwrap_or(0))
    };
    let s = &i.now;
    let anon = d(s.rss_anon, base.rss_anon) + d(s.vm_swap, base.vm_swap);
    let proc_file = d(s.rss_file, base.rss_file) + d(s.rss_shmem, base.rss_shmem);
    let cg_file = match (i.cgroup, i.cgroup_base) {
        (Some(now), Some(was)) => d(now.file_bytes, was.file_bytes),
        _ => 0,
    };
    let file = proc_file.max(cg_file);
    let changes = format!(
        "anon {}, file pages {} (process) / {} (cgroup) since the baseline",
        signed(anon),
        signed(proc_file),
        signed(cg_file)
    );
    if anon < STEADY_BYTES && file < STEADY_BYTES {
        return (VerdictCode::Steady, format!("steady: {changes}"));
    }
    if file > anon {
        return (
            VerdictCode::PageCache,
            format!("page cache and mapped files, not a heap leak: {changes}"),
        );
    }
    if i.heap.is_some_and(Heap::retains) {
        return (
            VerdictCode::AllocatorRetention,
            format!("allocator retention (resident ≫ allocated): {changes}"),
        );
    }
    (VerdictCode::HeapGrowth, format!("heap growth: {changes}"))
}

/// The breakdown as one line: process pages with the change since the
/// baseline, and the cgroup's view where readable.
pub fn breakdown(i: &Inputs<'_>) -> String {
    let s = &i.now;
    let b = i.base.unwrap_or_default();
    let mut out = String::new();
    for (name, now, was) in [
        ("anon", s.rss_anon, b.rss_anon),
        ("file", s.rss_file, b.rss_file),
        ("shmem", s.rss_shmem, b.rss_shmem),
        ("swap", s.vm_swap, b.vm_swap),
    ] {
        let sep = if out.is_empty() { "" } else { ", " };
        match (now, i.base.and(was)) {
            (Some(v), Some(w)) => {
                let change = i128::from(v) - i128::from(w);
                let _ = write!(out, "{sep}{name} {} ({})", h(v), signed(change));
            }
            (Some(v), None) => {
                let _ = write!(out, "{sep}{name} {}", h(v));
            }
            (None, _) => {
                let _ = write!(out, "{sep}{name} n/a");
            }
        }
    }
    if let Some(cg) = i.cgroup {
        let limit = cg
            .limit_bytes
            .map_or_else(|| "no limit".to_string(), |l| format!("limit {}", h(l)));
        let _ = write!(out, "; cgroup v{} {}: {limit}", cg.version, cg.path);
        for (name, now, was) in [
            (
                "usage",
                cg.usage_bytes,
                i.cgroup_base.and_then(|c| c.usage_bytes),
            ),
            (
                "working set",
                cg.working_set_bytes,
                i.cgroup_base.and_then(|c| c.working_set_bytes),
            ),
            (
                "file",
                cg.file_bytes,
                i.cgroup_base.and_then(|c| c.file_bytes),
            ),
        ] {
            match (now, was) {
                (Some(v), Some(w)) => {
                    let change = i128::from(v) - i128::from(w);
                    let _ = write!(out, ", {name} {} ({})", h(v), signed(change));
                }
                (Some(v), None) => {
                    let _ = write!(out, ", {name} {}", h(v));
                }
                (None, _) => {}
            }
        }
    }
    out
}

/// `+1.0 MiB`, `-3.0 KiB`, `+0 B`.
fn signed(bytes: i128) -> String {
    let sign = if bytes < 0 { '-' } else { '+' };
    let abs = u64::try_from(bytes.unsigned_abs()).unwrap_or(u64::MAX);
    format!("{sign}{}", h(abs))
}

/// A one-line verdict on one reading (kept for callers without a baseline).
pub fn verdict(s: &StatusSample, heap: Option<Heap>) -> String {
    explain(&Inputs {
        now: *s,
        heap,
        ..Inputs::default()
    })
    .1
}

#[cfg(test)]
mod tests;
