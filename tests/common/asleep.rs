//! For the allocation tests: wait until a freshly spawned `sleep` is
//! blocked in its sleep. Right after spawn it is still loading and
//! initialising (its RssAnon then jumps, which the monitor rightly reports,
//! and a report allocates); on a busy CPU it may not run at all for a while.

use std::time::{Duration, Instant};

/// Waits until `pid` is blocked in x86_64 nanosleep (35) or
/// clock_nanosleep (230): the first field of `/proc/<pid>/syscall`.
pub(crate) fn wait_asleep(pid: u32) {
    let asleep = || {
        std::fs::read_to_string(format!("/proc/{pid}/syscall"))
            .is_ok_and(|s| matches!(s.split(' ').next(), Some("35" | "230")))
    };
    let until = Instant::now() + Duration::from_secs(20);
    while !asleep() {
        assert!(Instant::now() < until, "pid {pid} never went to sleep");
        std::thread::sleep(Duration::from_millis(20));
    }
}
