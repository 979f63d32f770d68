use super::*;

macro_rules! fixture {
    ($path:literal) => {
        (
            $path,
            include_bytes!(concat!("../../../tests/fixtures/cgroup/", $path)) as &[u8],
        )
    };
}

const V1_STAT: (&str, &[u8]) = fixture!("v1/memory.stat");
const V2_STAT: (&str, &[u8]) = fixture!("v2/memory.stat");
const V2_EVENTS: (&str, &[u8]) = fixture!("v2/memory.events");
const V2_THROTTLED: (&str, &[u8]) = fixture!("v2/memory.events.throttled");
const V1_OOM: (&str, &[u8]) = fixture!("v1/memory.oom_control.after-kill");
const V1_OOM_BEFORE: (&str, &[u8]) = fixture!("v1/memory.oom_control");
const PSI_IDLE: (&str, &[u8]) = fixture!("v2/memory.pressure-6.18");
const PSI_BUSY: (&str, &[u8]) = fixture!("v2/memory.pressure.busy");
const V1_CGROUP: (&str, &[u8]) = fixture!("v1/proc-pid-cgroup.txt");
const V2_CGROUP: (&str, &[u8]) = fixture!("v2/proc-pid-cgroup.txt");
const V1_MOUNTS: (&str, &[u8]) = fixture!("v1/mountinfo-hybrid.txt");
const V2_MOUNTS: (&str, &[u8]) = fixture!("v2/mountinfo-v2.txt");
const VALUES: [(&str, &[u8]); 9] = [
    fixture!("v1/memory.usage_in_bytes"),
    fixture!("v1/memory.limit_in_bytes"),
    fixture!("v1/memory.limit_in_bytes.unlimited"),
    fixture!("v1/memory.failcnt"),
    fixture!("v1/memory.failcnt.after-kill"),
    fixture!("v2/memory.max"),
    fixture!("v2/memory.max.limited"),
    fixture!("v2/memory.high"),
    fixture!("v2/memory.current"),
];

const MIB: u64 = 1 << 20;

#[test]
fn v1_files_captured_here() {
    let s = scan_stat_all(V1_STAT.1, Version::V1);
    assert_eq!(s.anon, Some(28_045_312));
    assert_eq!(s.file, Some(25_169_920));
    assert_eq!(s.inactive_file, Some(25_169_920));
    assert_eq!(s.active_file, Some(0));
    assert_eq!(s.file_mapped, Some(25_165_824));
    assert_eq!((s.shmem, s.swap), (Some(0), Some(0)));
    // v1 names are not v2 names: a v1 file read as v2 finds nothing.
    assert_eq!(scan_stat_all(V1_STAT.1, Version::V2).anon, None);

    assert_eq!(parse_value(VALUES[0].1), Some(53_927_936));
    assert_eq!(parse_limit(VALUES[1].1), Some(Some(64 * MIB)));
    assert_eq!(
        parse_limit(VALUES[2].1),
        Some(None),
        "page-rounded LONG_MAX"
    );
    assert_eq!(parse_limit(b"9223372036854775807\n"), Some(None));
    assert_eq!(parse_value(VALUES[4].1), Some(3226));

    let mut e = Events::default();
    scan_events(V1_OOM.1, true, &mut e);
    assert_eq!(
        (e.oom_kill, e.under_oom, e.high),
        (Some(1), Some(false), None)
    );
    let mut before = Events::default();
    scan_events(V1_OOM_BEFORE.1, true, &mut before);
    assert_eq!(before.oom_kill, Some(0));
}

#[test]
fn v2_files() {
    let s = scan_stat_all(V2_STAT.1, Version::V2);
    assert_eq!(s.anon, Some(20_705_280));
    assert_eq!(
        (s.file, s.inactive_file, s.shmem),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(s.swap, None, "v2 keeps swap out of memory.stat");

    let mut e = Events::default();
    scan_events(V2_EVENTS.1, true, &mut e);
    assert_eq!(
        (e.high, e.max, e.oom, e.oom_kill),
        (Some(0), Some(148), Some(1), Some(1))
    );
    let mut t = Events::default();
    scan_events(V2_THROTTLED.1, true, &mut t);
    assert_eq!((t.high, t.oom_kill), (Some(3021), Some(0)));

    assert_eq!(parse_limit(VALUES[5].1), Some(None), "max");
    assert_eq!(parse_limit(VALUES[6].1), Some(Some(20 * MIB)));
    assert_eq!(parse_limit(VALUES[7].1), Some(None));
    assert_eq!(parse_value(VALUES[8].1), Some(20 * MIB));

    let mut p = Pressure::default();
    scan_pressure(PSI_BUSY.1, true, &mut p);
    assert_eq!(
        (p.some_avg10, p.some_avg60, p.full_avg10),
        (Some(1234), Some(321), Some(1001))
    );
    assert_eq!(p.some_avg10_percent(), Some(12.34));
    let mut idle = Pressure::default();
    scan_pressure(PSI_IDLE.1, true, &mut idle);
    assert_eq!((idle.some_avg10, idle.full_avg10), (Some(71), Some(4)));
}

#[test]
fn where_the_cgroup_is() {
    let v1 = parse_proc_cgroup(V1_CGROUP.1);
    assert_eq!(
        v1.v1_memory,
        Some(&b"/process_api/fcf2bfa7ec587fcf4986de7565db8466/fixture"[..])
    );
    assert_eq!(v1.v2, Some(&b"/"[..]));
    let v2 = parse_proc_cgroup(V2_CGROUP.1);
    assert_eq!(v2.v1_memory, None);
    assert_eq!(v2.v2, Some(&b"/user.slice/user-1000.slice/dans-slice"[..]));
    let odd = parse_proc_cgroup(b"0::/a:b\n4:cpu,memory:/x\n5:memory\n::\n");
    assert_eq!(
        (odd.v2, odd.v1_memory),
        (Some(&b"/a:b"[..]), Some(&b"/x"[..]))
    );

    let hybrid: Vec<_> = cgroup_mounts(V1_MOUNTS.1).collect();
    assert_eq!(
        hybrid,
        [
            Mount {
                version: Version::V1,
                root: b"/",
                point: b"/sys/fs/cgroup/memory"
            },
            Mount {
                version: Version::V2,
                root: b"/",
                point: b"/sys/fs/cgroup/unified"
            }
        ]
    );
    let pure: Vec<_> = cgroup_mounts(V2_MOUNTS.1).collect();
    assert_eq!(pure.len(), 1);
    assert_eq!(pure[0].point, b"/sys/fs/cgroup");

    assert_eq!(below_root(b"/", b"/a/b"), Some(&b"a/b"[..]));
    assert_eq!(below_root(b"/a", b"/a/b"), Some(&b"b"[..]));
    assert_eq!(below_root(b"/a/b", b"/a/b"), Some(&b""[..]));
    assert_eq!(below_root(b"/a/b", b"/a/bc"), None);
    assert_eq!(below_root(b"/x", b"/a"), None);
    assert_eq!(below_root(b"/", b"/"), Some(&b""[..]));
}

/// Every prefix of every fixture: no panic, and nothing read from a
/// prefix disagrees with the whole file (a cut line is never a value).
#[test]
fn every_truncated_prefix_is_safe_and_never_invents_values() {
    for (name, file) in [V1_STAT, V2_STAT] {
        let version = if name.starts_with("v1") {
            Version::V1
        } else {
            Version::V2
        };
        let full = scan_stat_all(file, version);
        for n in 0..=file.len() {
            let mut part = MemStat::default();
            let used = scan_stat(&file[..n], false, version, &mut part);
            assert!(used <= n);
            for (got, want) in [
                (part.anon, full.anon),
                (part.file, full.file),
                (part.inactive_file, full.inactive_file),
                (part.active_file, full.active_file),
                (part.shmem, full.shmem),
                (part.swap, full.swap),
            ] {
                assert!(got.is_none() || got == want, "{name} prefix {n}");
            }
        }
    }
    for (name, file) in [V2_EVENTS, V2_THROTTLED, V1_OOM, V1_OOM_BEFORE] {
        let mut full = Events::default();
        scan_events(file, true, &mut full);
        for n in 0..=file.len() {
            let mut part = Events::default();
            assert!(scan_events(&file[..n], false, &mut part) <= n);
            for (got, want) in [(part.oom_kill, full.oom_kill), (part.high, full.high)] {
                assert!(got.is_none() || got == want, "{name} prefix {n}");
            }
        }
    }
    for (name, file) in [PSI_IDLE, PSI_BUSY] {
        let mut full = Pressure::default();
        scan_pressure(file, true, &mut full);
        for n in 0..=file.len() {
            let mut part = Pressure::default();
            assert!(scan_pressure(&file[..n], false, &mut part) <= n);
            assert!(part.some_avg10.is_none() || part.some_avg10 == full.some_avg10);
            assert!(part.full_avg10.is_none() || part.full_avg10 == full.full_avg10);
            let _ = name;
        }
    }
    for (name, file) in VALUES {
        for n in 0..file.len() {
            // No newline yet: the number may be cut, so it is not a value.
            assert_eq!(parse_value(&file[..n]), None, "{name} prefix {n}");
            assert_eq!(parse_limit(&file[..n]), None, "{name} prefix {n}");
        }
    }
    for (name, file) in [V1_CGROUP, V2_CGROUP] {
        let full = parse_proc_cgroup(file);
        for n in 0..=file.len() {
            let part = parse_proc_cgroup(&file[..n]);
            assert!(part.v2.is_none() || part.v2 == full.v2, "{name} prefix {n}");
            assert!(part.v1_memory.is_none() || part.v1_memory == full.v1_memory);
        }
    }
    for (name, file) in [V1_MOUNTS, V2_MOUNTS] {
        let full: Vec<_> = cgroup_mounts(file).collect();
        for n in 0..=file.len() {
            let part: Vec<_> = cgroup_mounts(&file[..n]).collect();
            assert!(full.starts_with(&part), "{name} prefix {n}");
        }
    }
}

#[test]
fn resumes_across_small_buffers() {
    let (_, file) = V2_STAT;
    let want = scan_stat_all(file, Version::V2);
    for chunk in [40, 64, 100, 4096] {
        let mut got = MemStat::default();
        let mut off = 0;
        while off < file.len() {
            let end = (off + chunk).min(file.len());
            let used = scan_stat(&file[off..end], end == file.len(), Version::V2, &mut got);
            off += if used == 0 { end - off } else { used };
        }
        assert_eq!(got, want, "chunk {chunk}");
    }
}

#[test]
fn malformed_values_are_skipped() {
    let s = scan_stat_all(
        b"anon -1\nfile 99999999999999999999\nshmem 12 kB\ninactive_file 7\nanon\n \n",
        Version::V2,
    );
    assert_eq!((s.anon, s.file, s.shmem), (None, None, None));
    assert_eq!(s.inactive_file, Some(7));
    let mut p = Pressure::default();
    scan_pressure(
        b"some avg10=1.234 avg60=x total=1\nfull avg10=.5\nsome\n",
        true,
        &mut p,
    );
    assert_eq!(
        (p.some_avg10, p.some_avg60, p.full_avg10),
        (None, None, None)
    );
    let mut p = Pressure::default();
    scan_pressure(b"some avg10=4294967295.00\nfull avg10=7.5\n", true, &mut p);
    assert_eq!((p.some_avg10, p.full_avg10), (None, Some(750)));
    assert_eq!(parse_limit(b"-1\n"), None);
    assert_eq!(parse_limit(b"\n"), None);
    assert_eq!(parse_value(b" 42 \n"), Some(42));
}
