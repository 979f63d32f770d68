//! Finding and reading a memory cgroup through `PROC_ROOT` / `CGROUP_ROOT`
//! on directory trees laid out like real hosts, with files as real kernels
//! print them (`tests/fixtures/cgroup/`): a cgroup v2 host, a Kubernetes
//! container in its own cgroup namespace (seen through the target's own
//! `/proc/<pid>/root`), and a hybrid host (v1 memory, PSI from the unified
//! hierarchy). This machine has no v2 memory controller: the v2 reader is
//! proven here, on the kernel's formats.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use memory_monitor::core::cgroup::Version;
use memory_monitor::core::cgroup_rules::{RuleConfig, Rules};
use memory_monitor::core::event::Kind;
use memory_monitor::io::cgroup::{locate, CgroupFiles, Roots};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cgroup");

fn put(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn fixture(name: &str) -> String {
    fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap()
}

/// A v2 cgroup directory filled from the fixtures.
fn v2_dir(dir: &Path, max: &str, events: &str) {
    put(&dir.join("memory.current"), &fixture("v2/memory.current"));
    put(&dir.join("memory.max"), &fixture(max));
    put(&dir.join("memory.high"), &fixture("v2/memory.high"));
    put(&dir.join("memory.stat"), &fixture("v2/memory.stat"));
    put(&dir.join("memory.events"), &fixture(events));
    put(
        &dir.join("memory.pressure"),
        &fixture("v2/memory.pressure.busy"),
    );
    put(&dir.join("cgroup.type"), "domain\n");
}

fn roots(proc_root: PathBuf) -> Roots {
    Roots {
        proc_root,
        cgroup_root: None,
    }
}

#[test]
fn a_v2_container_seen_through_its_own_root() {
    let tmp = common::scratch("cglayout-k8s");
    let proc_root = tmp.join("proc");
    // The monitor sees the target's cgroup by its full path; inside its
    // own mount namespace the target has that cgroup mounted at
    // /sys/fs/cgroup (cgroup namespace: the mount's root is that cgroup).
    put(
        &proc_root.join("77/cgroup"),
        "0::/kubepods/burstable/pod1/c1\n",
    );
    put(
        &proc_root.join("77/mountinfo"),
        "1 0 253:1 / / rw - ext4 /dev/vda1 rw\n\
         9 1 0:30 /kubepods/burstable/pod1/c1 /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw,nsdelegate\n",
    );
    put(
        &proc_root.join("self/mountinfo"),
        "1 0 253:1 / / rw - ext4 /dev/vda1 rw\n",
    );
    let dir = proc_root.join("77/root/sys/fs/cgroup");
    v2_dir(&dir, "v2/memory.max.limited", "v2/memory.events");

    let found = locate(77, &roots(proc_root)).unwrap();
    assert_eq!(found.version, Version::V2);
    assert_eq!(found.path, "/kubepods/burstable/pod1/c1");
    assert_eq!(found.dir, dir);
    assert_eq!(found.psi_dir.as_deref(), Some(dir.as_path()));

    let mut files = CgroupFiles::open(found).unwrap();
    let r = *files.read_full().unwrap();
    assert_eq!(r.usage, Some(20 << 20));
    assert_eq!(r.limit, Some(20 << 20));
    assert_eq!(r.high_limit, None, "memory.high is max");
    assert_eq!(r.stat.unwrap().anon, Some(20_705_280));
    assert_eq!(r.working_set(), Some(20 << 20), "no inactive file");
    assert_eq!((r.events.oom_kill, r.events.max), (Some(1), Some(148)));
    assert_eq!(r.pressure.some_avg10, Some(1234));

    // The kernel counts a throttle event: memory-high fires on the next read.
    let mut rules = Rules::new(RuleConfig {
        memory_high: true,
        oom_kill: true,
        ..RuleConfig::default()
    });
    let t0 = Instant::now();
    assert!(rules.on_reading(t0, &r).is_empty());
    put(
        &dir.join("memory.events"),
        &fixture("v2/memory.events.throttled"),
    );
    // Kept-open files see new contents (sysfs would; a regular file too).
    assert!(files.refresh(t0, false).unwrap());
    let r = *files.last();
    let fired: Vec<Kind> = rules.on_reading(t0, &r).iter().map(|f| f.kind).collect();
    assert_eq!(fired, [Kind::MemoryHigh], "{r:?}");
    assert!(!files
        .refresh(t0 + Duration::from_millis(500), false)
        .unwrap());
}

#[test]
fn a_v2_host_by_our_own_mounts_and_cgroup_root() {
    let tmp = common::scratch("cglayout-v2");
    let proc_root = tmp.join("proc");
    put(
        &proc_root.join("5/cgroup"),
        &fixture("v2/proc-pid-cgroup.txt"),
    );
    // The target's own view is not readable (another user): our mounts.
    let host = tmp.join("host");
    let mountinfo = fixture("v2/mountinfo-v2.txt").replace(
        " /sys/fs/cgroup ",
        &format!(" {}/sys/fs/cgroup ", host.display()),
    );
    put(&proc_root.join("self/mountinfo"), &mountinfo);
    let dir = host.join("sys/fs/cgroup/user.slice/user-1000.slice/dans-slice");
    v2_dir(&dir, "v2/memory.max", "v2/memory.events");
    let found = locate(5, &roots(proc_root.clone())).unwrap();
    assert_eq!(found.dir, dir);
    let r = *CgroupFiles::open(found).unwrap().read_full().unwrap();
    assert_eq!(r.limit, None, "max is no limit");

    // CGROUP_ROOT replaces the mounts.
    let found = locate(
        5,
        &Roots {
            proc_root: proc_root.clone(),
            cgroup_root: Some(host.join("sys/fs/cgroup")),
        },
    )
    .unwrap();
    assert_eq!(found.dir, dir);
    // A CGROUP_ROOT that does not hold it: not found, never a wrong dir.
    let missing = locate(
        5,
        &Roots {
            proc_root,
            cgroup_root: Some(tmp.join("nowhere")),
        },
    );
    assert!(missing.is_err());
}

#[test]
fn a_hybrid_host_reads_v1_memory_and_the_unified_psi() {
    let tmp = common::scratch("cglayout-hybrid");
    let proc_root = tmp.join("proc");
    let host = tmp.join("host");
    put(&proc_root.join("9/cgroup"), "4:memory:/app\n0::/app\n");
    let mountinfo = fixture("v1/mountinfo-hybrid.txt").replace(
        " /sys/fs/cgroup/",
        &format!(" {}/sys/fs/cgroup/", host.display()),
    );
    put(&proc_root.join("self/mountinfo"), &mountinfo);
    let v1 = host.join("sys/fs/cgroup/memory/app");
    for f in [
        "memory.usage_in_bytes",
        "memory.limit_in_bytes",
        "memory.stat",
        "memory.oom_control",
        "memory.failcnt",
    ] {
        put(&v1.join(f), &fixture(&format!("v1/{f}")));
    }
    let unified = host.join("sys/fs/cgroup/unified/app");
    put(
        &unified.join("memory.pressure"),
        &fixture("v2/memory.pressure.busy"),
    );
    put(&unified.join("cgroup.type"), "domain\n");
    let found = locate(9, &roots(proc_root.clone())).unwrap();
    assert_eq!((found.version, found.dir.clone()), (Version::V1, v1));
    assert_eq!(found.psi_dir, Some(unified.clone()));
    let r = *CgroupFiles::open(found).unwrap().read_full().unwrap();
    assert_eq!(r.limit, Some(64 << 20));
    assert_eq!(r.stat.unwrap().file, Some(25_169_920));
    assert_eq!(r.pressure.some_avg10, Some(1234));
    assert_eq!(r.failcnt, Some(12));

    // The unified root (no cgroup.type) is host-wide pressure: not used.
    fs::remove_file(unified.join("cgroup.type")).unwrap();
    assert_eq!(locate(9, &roots(proc_root)).unwrap().psi_dir, None);
}
