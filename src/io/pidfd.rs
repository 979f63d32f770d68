//! A pidfd bound to one incarnation (pid + starttime), the only way the
//! monitor ever signals a target.
//!
//! Why the order is a proof: the pidfd opened at T1 names the process P that
//! held the pid at T1. If `/proc/<pid>/stat` read at T2 shows the
//! incarnation's starttime and P has still not exited at T3, P held the pid
//! for the whole of T1..T3 (a pid is only reused after its holder is
//! reaped), so the stat read at T2 was P's own: P is the incarnation. A
//! reused pid is therefore refused here, and afterwards the kernel refuses
//! (`ESRCH`) any signal once P is gone.

use std::fmt;
use std::io;

use crate::io::procfs;
pub use crate::sys::pidfd::PidFd;

/// Why no pidfd could be bound to an incarnation.
#[derive(Debug)]
pub enum BindError {
    /// `pidfd_open` failed: `ENOSYS` on kernels before 5.3 or under a
    /// seccomp profile that forbids it, `ESRCH` when the process is gone.
    Open(io::Error),
    /// The pid belongs to another process now (or is gone).
    Reused,
    Stat(io::Error),
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::Open(e) => write!(f, "pidfd_open: {e}"),
            BindError::Reused => f.write_str("pidfd_open: the pid now belongs to another process"),
            BindError::Stat(e) => write!(f, "pidfd_open: reading the start time: {e}"),
        }
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BindError::Open(e) | BindError::Stat(e) => Some(e),
            BindError::Reused => None,
        }
    }
}

/// A pidfd for `pid`, only if it is the incarnation that started at
/// `starttime` (clock ticks since boot, field 22 of `/proc/<pid>/stat`).
pub fn open_incarnation(pid: u32, starttime: u64) -> Result<PidFd, BindError> {
    let fd = PidFd::open(pid).map_err(BindError::Open)?;
    match procfs::starttime(pid) {
        Ok(t) if t == starttime => {}
        Ok(_) => return Err(BindError::Reused),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BindError::Reused),
        Err(e) => return Err(BindError::Stat(e)),
    }
    match fd.exited() {
        Ok(false) => Ok(fd),
        Ok(true) => Err(BindError::Reused),
        Err(e) => Err(BindError::Open(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn binds_only_the_incarnation_it_was_asked_for() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let start = procfs::starttime(pid).unwrap();
        assert!(matches!(
            open_incarnation(pid, start + 1),
            Err(BindError::Reused)
        ));
        let fd = open_incarnation(pid, start).unwrap();
        fd.send(libc::SIGKILL).unwrap();
        child.wait().unwrap();
        assert!(matches!(
            open_incarnation(pid, start),
            Err(BindError::Open(_) | BindError::Reused)
        ));
    }
}
