//! File ownership and locking for the spool: the effective user, and an
//! exclusive `flock` held as long as the file stays open.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Takes an exclusive `flock` on `file` without waiting. `Ok(false)` when
/// another open file description holds it (another process, usually).
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    // SAFETY: the descriptor is valid for as long as `file` is borrowed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}
