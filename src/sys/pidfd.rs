//! Process file descriptors (Linux ≥ 5.3): a descriptor that names one
//! process, not a pid. Once that process has been reaped, sending through
//! the descriptor fails with `ESRCH` even if the pid number now belongs to
//! someone else, so a signal can never reach a process that merely reuses
//! the pid.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// An open pidfd. Close-on-exec (the kernel always sets it for pidfds).
#[derive(Debug)]
pub struct PidFd(OwnedFd);

impl PidFd {
    /// `pidfd_open(pid, 0)`: the process that holds `pid` right now. The
    /// caller must check that it is the incarnation it means (see
    /// `io::pidfd::open_incarnation`).
    pub fn open(pid: u32) -> io::Result<PidFd> {
        let pid = libc::pid_t::try_from(pid)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
        // SAFETY: a plain system call taking two integers and no pointers.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = libc::c_int::try_from(rc)
            .map_err(|_| io::Error::other("pidfd_open returned an out-of-range descriptor"))?;
        // SAFETY: `fd` was just returned by pidfd_open, is open, and nothing else owns it.
        Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// `pidfd_send_signal(fd, sig, NULL, 0)`. `ESRCH` means the process has
    /// been reaped: nothing was sent.
    pub fn send(&self, sig: i32) -> io::Result<()> {
        // SAFETY: the descriptor is open for the life of `self`; a null
        // siginfo asks the kernel to fill it in as kill(2) would.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                sig as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0 as libc::c_uint,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// True once the process has exited (the pidfd polls readable), without
    /// waiting.
    pub fn exited(&self) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: `pfd` is one valid, exclusively borrowed pollfd, matching nfds = 1.
            let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
            if rc >= 0 {
                return Ok(rc > 0 && pfd.revents & (libc::POLLIN | libc::POLLHUP) != 0);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn signals_a_live_child_and_sees_it_exit() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let fd = PidFd::open(child.id()).unwrap();
        assert!(!fd.exited().unwrap());
        fd.send(0).unwrap();
        fd.send(libc::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        assert!(fd.exited().unwrap());
        // Reaped: the descriptor names no process any more.
        let err = fd.send(libc::SIGTERM).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }

    #[test]
    fn core_signal_numbers_are_libc_s() {
        use crate::core::restart::Signal;
        let table = [
            ("HUP", libc::SIGHUP),
            ("INT", libc::SIGINT),
            ("QUIT", libc::SIGQUIT),
            ("ABRT", libc::SIGABRT),
            ("KILL", libc::SIGKILL),
            ("USR1", libc::SIGUSR1),
            ("USR2", libc::SIGUSR2),
            ("PIPE", libc::SIGPIPE),
            ("ALRM", libc::SIGALRM),
            ("TERM", libc::SIGTERM),
            ("CHLD", libc::SIGCHLD),
            ("CONT", libc::SIGCONT),
            ("STOP", libc::SIGSTOP),
            ("TSTP", libc::SIGTSTP),
            ("TTIN", libc::SIGTTIN),
            ("TTOU", libc::SIGTTOU),
            ("URG", libc::SIGURG),
            ("XCPU", libc::SIGXCPU),
            ("WINCH", libc::SIGWINCH),
            ("IO", libc::SIGIO),
            ("PWR", libc::SIGPWR),
            ("SYS", libc::SIGSYS),
        ];
        for (name, number) in table {
            assert_eq!(
                Signal::parse(name).map(Signal::number),
                Ok(number),
                "{name}"
            );
        }
    }

    #[test]
    fn a_pid_nobody_holds_is_esrch() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let err = PidFd::open(pid).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }
}
