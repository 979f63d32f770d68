use super::*;

const MIB: u64 = 1 << 20;

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

fn one(s: StatusSample, heap: Option<Heap>) -> (VerdictCode, String) {
    explain(&Inputs {
        now: s,
        heap,
        ..Inputs::default()
    })
}

fn cgroup(file: u64, anon: u64) -> CgroupView {
    CgroupView {
        path: "/pods/a".into(),
        version: 2,
        usage_bytes: Some(file + anon),
        limit_bytes: Some(2048 * MIB),
        working_set_bytes: Some(anon + file / 2),
        anon_bytes: Some(anon),
        file_bytes: Some(file),
        ..CgroupView::default()
    }
}

#[test]
fn one_reading_names_where_the_memory_is() {
    let (code, text) = one(sample(900 * MIB, 100 * MIB, 0, 0), None);
    assert_eq!(code, VerdictCode::Unknown);
    assert!(
        text.starts_with("mostly anonymous memory (900.0 MiB of 1000.0 MiB)"),
        "{text}"
    );
    let (code, text) = one(sample(100 * MIB, 900 * MIB, 0, 0), None);
    assert_eq!(code, VerdictCode::PageCache);
    assert!(
        text.starts_with("page cache and mapped files, not a heap leak"),
        "{text}"
    );
    let (code, text) = one(sample(10 * MIB, 1, 500 * MIB, 0), None);
    assert_eq!(code, VerdictCode::PageCache);
    assert!(text.starts_with("mostly shared memory"), "{text}");
    assert!(one(sample(1, 0, 0, 5 * MIB), None)
        .1
        .ends_with("; 5.0 MiB swapped out"));

    let retained = Heap {
        allocated: 300 * MIB,
        resident: 900 * MIB,
    };
    let (code, text) = one(sample(900 * MIB, 0, 0, 0), Some(retained));
    assert_eq!(code, VerdictCode::AllocatorRetention);
    assert!(
        text.starts_with("allocator retention (resident ≫ allocated)"),
        "{text}"
    );
    assert!(text.contains("600.0 MiB is fragmentation"), "{text}");
    let live = Heap {
        allocated: 850 * MIB,
        resident: 900 * MIB,
    };
    let (code, text) = one(sample(900 * MIB, 0, 0, 0), Some(live));
    assert_eq!(code, VerdictCode::Unknown);
    assert!(
        text.ends_with("jemalloc live heap 850.0 MiB of 900.0 MiB resident"),
        "{text}"
    );

    let (code, text) = one(
        StatusSample {
            vm_rss: Some(MIB),
            ..StatusSample::default()
        },
        None,
    );
    assert_eq!(code, VerdictCode::Unknown);
    assert!(text.contains("does not split"));

    // The process is its heap; its cgroup is mostly page cache: both said.
    let cg = cgroup(1500 * MIB, 100 * MIB);
    let (code, text) = explain(&Inputs {
        now: sample(100 * MIB, 10 * MIB, 0, 0),
        cgroup: Some(&cg),
        ..Inputs::default()
    });
    assert_eq!(code, VerdictCode::Unknown);
    assert!(text.starts_with("mostly anonymous memory"), "{text}");
    assert!(
        text.contains("its cgroup holds 1.5 GiB of page cache (anon 100.0 MiB)"),
        "{text}"
    );
}

#[test]
fn since_the_baseline_says_what_grew() {
    let base = sample(200 * MIB, 50 * MIB, 0, 0);
    let at = |now: StatusSample, heap, cg: Option<(&CgroupView, &CgroupView)>| {
        explain(&Inputs {
            now,
            base: Some(base),
            cgroup: cg.map(|c| c.0),
            cgroup_base: cg.map(|c| c.1),
            heap,
        })
    };
    let (code, text) = at(sample(600 * MIB, 50 * MIB, 0, 0), None, None);
    assert_eq!(code, VerdictCode::HeapGrowth);
    assert_eq!(
        text,
        "heap growth: anon +400.0 MiB, file pages +0 B (process) / +0 B (cgroup) since the baseline"
    );
    let (code, text) = at(sample(210 * MIB, 450 * MIB, 0, 0), None, None);
    assert_eq!(code, VerdictCode::PageCache, "{text}");
    // Only the cgroup's page cache grew (another process's reads).
    let (was, now) = (cgroup(100 * MIB, 200 * MIB), cgroup(900 * MIB, 210 * MIB));
    let (code, text) = at(sample(201 * MIB, 50 * MIB, 0, 0), None, Some((&now, &was)));
    assert_eq!(code, VerdictCode::PageCache, "{text}");
    assert!(text.contains("+800.0 MiB (cgroup)"), "{text}");
    let (code, _) = at(sample(201 * MIB, 51 * MIB, 0, 0), None, None);
    assert_eq!(code, VerdictCode::Steady);
    // A swapped-out heap still grew.
    let (code, _) = at(sample(100 * MIB, 50 * MIB, 0, 300 * MIB), None, None);
    assert_eq!(code, VerdictCode::HeapGrowth);
    let retained = Heap {
        allocated: 200 * MIB,
        resident: 600 * MIB,
    };
    let (code, _) = at(sample(600 * MIB, 50 * MIB, 0, 0), Some(retained), None);
    assert_eq!(code, VerdictCode::AllocatorRetention);
}

#[test]
fn breakdown_line() {
    let cg = cgroup(300 * MIB, 100 * MIB);
    let was = cgroup(100 * MIB, 100 * MIB);
    let line = breakdown(&Inputs {
        now: sample(100 * MIB, 300 * MIB, 0, 0),
        base: Some(sample(100 * MIB, 100 * MIB, 0, 0)),
        cgroup: Some(&cg),
        cgroup_base: Some(&was),
        heap: None,
    });
    assert_eq!(
        line,
        "anon 100.0 MiB (+0 B), file 300.0 MiB (+200.0 MiB), shmem 0 B (+0 B), swap 0 B (+0 B); \
         cgroup v2 /pods/a: limit 2.0 GiB, usage 400.0 MiB (+200.0 MiB), \
         working set 250.0 MiB (+100.0 MiB), file 300.0 MiB (+200.0 MiB)"
    );
    let bare = breakdown(&Inputs {
        now: StatusSample {
            vm_rss: Some(1),
            ..StatusSample::default()
        },
        ..Inputs::default()
    });
    assert_eq!(bare, "anon n/a, file n/a, shmem n/a, swap n/a");
}
