//! The cgroup part of a healthy tick allocates nothing: re-reading the kept
//! open files (stat included), the rules and the metric choice, proven with
//! a counting global allocator on this machine's real cgroup.

#[path = "common/cgroup.rs"]
mod cgroup_util;

use std::time::{Duration, Instant};

use memory_monitor::core::cgroup_rules::{select, Metric, RuleConfig, Rules};
use memory_monitor::core::status::StatusSample;
use memory_monitor::io::cgroup::{locate, CgroupFiles, Roots};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn reading_the_cgroup_and_running_the_rules_allocates_nothing() {
    // Our own cgroup: the test needs a readable memory cgroup, like the others.
    let Some(cg) = cgroup_util::child("alloc") else {
        return;
    };
    let mut child = cg.spawn(std::path::Path::new("sleep"), &["30"]);
    std::thread::sleep(Duration::from_millis(100));
    let found = locate(child.id(), &Roots::default()).expect("locate");
    let mut files = CgroupFiles::open(found).expect("open");
    let mut rules = Rules::new(RuleConfig {
        oom_kill: true,
        memory_high: true,
        psi_threshold: Some(1000),
        pre_oom_percent: Some(90),
        oom_kill_cooldown: Duration::ZERO,
        memory_high_cooldown: Duration::from_secs(60),
        memory_pressure_cooldown: Duration::from_secs(60),
    });
    let status = StatusSample {
        rss_anon: Some(1 << 20),
        ..StatusSample::default()
    };
    let t0 = Instant::now();
    let before = counting_alloc::allocations();
    let mut reads = 0;
    for tick in 0..2000u64 {
        // 10 ticks a second: the files are read on every tenth.
        let now = t0 + Duration::from_millis(100 * tick);
        if files.refresh(now, tick % 20 == 0).expect("read") {
            reads += 1;
        }
        let r = *files.last();
        let fired = rules.on_reading(now, &r);
        assert!(fired.len() <= 3);
        let bytes = select(Metric::CgroupWorkingSet, &status, Some(&r)).unwrap_or(0);
        let _ = rules.pre_oom(bytes, r.limit);
    }
    let allocs = counting_alloc::allocations() - before;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(allocs, 0, "allocations in 2000 ticks");
    assert_eq!(reads, 200, "at most once a second");
    assert!(files.last().usage.is_some() && files.last().stat.is_some());
}
