//! The restart sequence allocates nothing per step: trigger, poll, exit,
//! the budget, and the pidfd liveness check and send, counted by a global
//! allocator.

use std::time::{Duration, Instant};

use memory_monitor::core::event::Kind;
use memory_monitor::core::restart::{
    Action, Budget, BudgetSpec, Plan, RestartConfig, Sequence, Triggers,
};
use memory_monitor::io::pidfd::PidFd;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn sequence_steps_and_pidfd_checks_allocate_nothing() {
    let cfg = RestartConfig {
        plan: Plan::parse("TSTP,1s,HUP,TERM,2s,KILL").unwrap(),
        on: Triggers::DEFAULT,
        budget: BudgetSpec::parse("64/1h").unwrap(),
        dry_run: false,
        timeout: Duration::from_secs(5),
    };
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let fd = PidFd::open(child.id()).unwrap();
    let mut budget = Budget::new();
    let t0 = Instant::now();

    let before = counting_alloc::allocations();
    let mut sent = 0u32;
    let mut reports = 0u32;
    for round in 0..70u64 {
        let mut seq = Sequence::new();
        let start = t0 + Duration::from_secs(round * 30);
        seq.trigger(Kind::SlowLeak, start, &cfg, &mut budget);
        for ms in (0..=10_000u64).step_by(250) {
            let now = start + Duration::from_millis(ms);
            assert!(!fd.exited().unwrap());
            while let Some(action) = seq.poll(now, &cfg) {
                match action {
                    Action::Send(_) => {
                        // Signal 0: the liveness check, same syscall path.
                        fd.send(0).unwrap();
                        sent += 1;
                    }
                    _ => reports += 1,
                }
            }
        }
        let _ = seq.exited();
        let _ = seq.abandon();
    }
    let allocs = counting_alloc::allocations() - before;

    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(allocs, 0, "allocations during restart sequences");
    // 64 fit the budget (one every 30 s): TSTP, CONT, HUP, CONT, TERM, CONT,
    // KILL, then CONT on timeout; requested + failed each; then 'exhausted' once.
    assert_eq!(sent, 64 * 8);
    assert_eq!(reports, 64 * 2 + 1);
}
