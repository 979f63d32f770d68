//! The kernel's real behaviour: a process in a small v1 memory cgroup
//! allocates past the limit and the kernel OOM-kills it. The cgroup reader
//! finds the cgroup from `/proc/<pid>/cgroup` and mountinfo, reads usage,
//! limit and `memory.stat` right, and sees the `oom_kill` counter move.

#[path = "common/cgroup.rs"]
mod cgroup_util;
mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use memory_monitor::core::cgroup::Version;
use memory_monitor::io::cgroup::{locate, CgroupFiles, Roots};

const MIB: u64 = 1 << 20;

#[test]
fn a_real_oom_kill_moves_the_counter_the_reader_sees() {
    let Some(cg) = cgroup_util::child("oom") else {
        return;
    };
    cg.set_limit(64 * MIB);
    let dir = common::scratch("cgoom");
    let exe = common::named_target(&dir, &common::unique_name("mmoom", 12));
    let mut child = cg.spawn(
        &exe,
        &[
            "--base-mb",
            "16",
            "--leak-mb-per-sec",
            "100",
            "--leak-after-secs",
            "2",
        ],
    );
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("demo-target pid="), "{ready:?}");
    let pid = child.id();

    let found = locate(pid, &Roots::default()).expect("locate the target's cgroup");
    assert_eq!(
        (found.version, found.path.as_str()),
        (Version::V1, cg.path.as_str())
    );
    // Through the target's own view of the mounts: /proc/<pid>/root/...
    let own_view =
        std::path::Path::new(&format!("/proc/{pid}/root")).join(cg.dir.strip_prefix("/").unwrap());
    assert_eq!(found.dir, own_view);
    let mut files = CgroupFiles::open(found).unwrap();
    let r = *files.read_full().unwrap();
    assert_eq!(r.limit, Some(64 * MIB));
    let usage = r.usage.unwrap();
    assert!((16 * MIB..=64 * MIB).contains(&usage), "usage {usage}");
    let anon = r.stat.unwrap().anon.unwrap();
    assert!(anon >= 15 * MIB, "total_rss {anon}");
    assert_eq!(r.events.oom_kill, Some(0));
    assert_eq!(r.failcnt, Some(0));

    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < until, "not OOM-killed within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.signal(), Some(9), "killed by the kernel: {status:?}");
    let after = files.read_events_now().unwrap();
    assert_eq!(after.events.oom_kill, Some(1));
    assert_eq!(cg.oom_kills(), 1);
    files.read_full().unwrap();
    assert!(files.last().failcnt.unwrap() > 0);
}
