//! What grew, in words: the breakdown of a process's memory (anon heap vs
//! file cache vs shmem vs swap, and jemalloc's live heap vs its resident
//! pages) and a one-line verdict for a human.

use crate::core::status::StatusSample;
use crate::core::units::human_bytes as h;

/// jemalloc counters, when the target's socket answered `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heap {
    pub allocated: u64,
    pub resident: u64,
}

/// A one-line verdict on where the memory is.
pub fn verdict(s: &StatusSample, heap: Option<Heap>) -> String {
    let anon = s.rss_anon.unwrap_or(0);
    let file = s.rss_file.unwrap_or(0);
    let shmem = s.rss_shmem.unwrap_or(0);
    let swap = s.vm_swap.unwrap_or(0);
    let rss = s.vm_rss.unwrap_or(anon + file + shmem).max(1);
    if s.rss_anon.is_none() {
        return format!(
            "RSS {} (this kernel does not split anon from file pages)",
            h(rss)
        );
    }
    let mut out = if file > anon && file > shmem {
        format!(
            "mostly file-backed pages ({} of {}): page cache and mapped files, not a heap leak",
            h(file),
            h(rss)
        )
    } else if shmem > anon {
        format!(
            "mostly shared memory ({} of {}): tmpfs or shm segments, not the heap",
            h(shmem),
            h(rss)
        )
    } else {
        format!(
            "mostly anonymous memory ({} of {}): the heap and stacks",
            h(anon),
            h(rss)
        )
    };
    if swap > 0 {
        out.push_str(&format!("; {} swapped out", h(swap)));
    }
    if let Some(heap) = heap {
        let frag = heap.resident.saturating_sub(heap.allocated);
        if heap.resident > 0 && frag.saturating_mul(100) / heap.resident >= 30 {
            out.push_str(&format!(
                "; jemalloc holds {} resident for {} live: {} is fragmentation or cached pages, not live objects",
                h(heap.resident),
                h(heap.allocated),
                h(frag)
            ));
        } else {
            out.push_str(&format!(
                "; jemalloc live heap {} of {} resident",
                h(heap.allocated),
                h(heap.resident)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(anon: u64, file: u64, shmem: u64, swap: u64) -> StatusSample {
        StatusSample {
            rss_anon: Some(anon),
            rss_file: Some(file),
            rss_shmem: Some(shmem),
            vm_rss: Some(anon + file + shmem),
            vm_hwm: Some(anon + file + shmem),
            vm_swap: Some(swap),
        }
    }

    #[test]
    fn verdicts() {
        let mib = 1 << 20;
        assert!(verdict(&sample(900 * mib, 100 * mib, 0, 0), None)
            .starts_with("mostly anonymous memory (900.0 MiB of 1000.0 MiB)"));
        assert!(verdict(&sample(100 * mib, 900 * mib, 0, 0), None).contains("not a heap leak"));
        assert!(
            verdict(&sample(10 * mib, 1, 500 * mib, 0), None).starts_with("mostly shared memory")
        );
        assert!(verdict(&sample(1, 0, 0, 5 * mib), None).ends_with("; 5.0 MiB swapped out"));
        let frag = verdict(
            &sample(900 * mib, 0, 0, 0),
            Some(Heap {
                allocated: 300 * mib,
                resident: 900 * mib,
            }),
        );
        assert!(frag.contains("600.0 MiB is fragmentation"), "{frag}");
        let live = verdict(
            &sample(900 * mib, 0, 0, 0),
            Some(Heap {
                allocated: 850 * mib,
                resident: 900 * mib,
            }),
        );
        assert!(
            live.ends_with("jemalloc live heap 850.0 MiB of 900.0 MiB resident"),
            "{live}"
        );
        assert!(verdict(
            &StatusSample {
                vm_rss: Some(mib),
                ..StatusSample::default()
            },
            None
        )
        .contains("does not split"));
    }
}
