//! Unix-domain stream sockets for the heap-dump client: connect with a
//! timeout, send everything, receive with a timeout. The socket stays
//! non-blocking for its whole life and `poll` does all the waiting, so no call
//! here can block longer than the deadline it was given.

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// Pause before retrying a connect that a full listen backlog refused
/// (`EAGAIN`): a Unix socket gives no readiness event for that case.
const BACKLOG_RETRY: Duration = Duration::from_millis(10);

/// Connects a new `SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK` socket to
/// `path`, waiting at most `timeout` (a server busy with another client keeps
/// its backlog full; that counts against the timeout). A timeout comes back
/// as [`io::ErrorKind::TimedOut`]; a missing socket file as `NotFound`.
pub fn connect(path: &Path, timeout: Duration) -> io::Result<OwnedFd> {
    let (addr, len) = sockaddr(path)?;
    let deadline = deadline_after(timeout);
    let fd = socket()?;
    loop {
        // SAFETY: `addr` is a fully initialised sockaddr_un that outlives the
        // call and `len` does not exceed its size.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                std::ptr::from_ref(&addr).cast::<libc::sockaddr>(),
                len,
            )
        };
        if rc == 0 {
            return Ok(fd);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EINPROGRESS) => {
                wait(fd.as_fd(), libc::POLLOUT, deadline)?;
                return socket_error(fd.as_fd()).map(|()| fd);
            }
            Some(libc::EAGAIN) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(timed_out("connect"));
                }
                thread::sleep(left.min(BACKLOG_RETRY));
            }
            _ => return Err(err),
        }
    }
}

/// Sends all of `data`, waiting at most `timeout` in total. `MSG_NOSIGNAL`:
/// a peer that went away is an `EPIPE` error, never a SIGPIPE.
pub fn send_all(fd: BorrowedFd<'_>, mut data: &[u8], timeout: Duration) -> io::Result<()> {
    let deadline = deadline_after(timeout);
    while !data.is_empty() {
        wait(fd, libc::POLLOUT, deadline)?;
        // SAFETY: `data` is valid for reads of `data.len()` bytes during the call.
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                data.as_ptr().cast::<libc::c_void>(),
                data.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        match usize::try_from(n) {
            Ok(sent) => data = data.get(sent..).unwrap_or_default(),
            Err(_) => retry_or(io::Error::last_os_error())?,
        }
    }
    Ok(())
}

/// Receives up to `buf.len()` bytes, waiting at most `timeout` for the first
/// byte to arrive. `Ok(0)` is end of stream; no data within `timeout` is
/// [`io::ErrorKind::TimedOut`].
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
    let deadline = deadline_after(timeout);
    loop {
        wait(fd, libc::POLLIN, deadline)?;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes during the call.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast::<libc::c_void>(),
                buf.len(),
                0,
            )
        };
        match usize::try_from(n) {
            Ok(got) => return Ok(got),
            Err(_) => retry_or(io::Error::last_os_error())?,
        }
    }
}

/// `EINTR` and `EAGAIN` mean "poll again"; anything else is the answer.
fn retry_or(err: io::Error) -> io::Result<()> {
    match err.kind() {
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => Ok(()),
        _ => Err(err),
    }
}

fn socket() -> io::Result<OwnedFd> {
    let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: a plain system call with constant arguments and no pointers.
    let fd = unsafe { libc::socket(libc::AF_UNIX, kind, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2), is open, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Builds the address; a path that does not fit `sun_path` (107 bytes plus
/// the terminating NUL) or holds a NUL byte is `InvalidInput`.
fn sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    let bytes = path.as_os_str().as_bytes();
    let mut addr = libc::sockaddr_un {
        sun_family: libc::AF_UNIX as libc::sa_family_t,
        sun_path: [0; 108],
    };
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path is longer than 107 bytes or contains a NUL byte",
        ));
    }
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = libc::c_char::from_ne_bytes([*src]);
    }
    // Fits: offset (2) + at most 107 bytes + NUL is the size of sockaddr_un.
    let len = offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + 1;
    let len = libc::socklen_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "socket path too long"))?;
    Ok((addr, len))
}

/// The pending error of a socket whose non-blocking connect finished.
fn socket_error(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut err: libc::c_int = 0;
    let mut len = libc::socklen_t::try_from(size_of::<libc::c_int>()).unwrap_or(4);
    // SAFETY: `err` and `len` are valid for writes and `len` holds the size of `err`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            std::ptr::from_mut(&mut err).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if err != 0 {
        return Err(io::Error::from_raw_os_error(err));
    }
    Ok(())
}

/// Waits until `fd` is ready for `events` (or has an error or hang-up, which
/// the following call reports) or `deadline` passes.
fn wait(fd: BorrowedFd<'_>, events: libc::c_short, deadline: Instant) -> io::Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out("waiting for the socket"));
        }
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid, exclusively borrowed pollfd, matching nfds = 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, poll_ms(left)) };
        if rc > 0 {
            return Ok(());
        }
        if rc < 0 {
            retry_or(io::Error::last_os_error())?;
        }
    }
}

/// Milliseconds for poll(2), rounded up so a sub-millisecond rest still waits.
fn poll_ms(left: Duration) -> libc::c_int {
    let ms = left.as_nanos().div_ceil(1_000_000);
    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
}

/// `now + timeout`, or a year from now when that does not fit an `Instant`.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what}: timed out"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_or_nul_paths_are_invalid_input() {
        let long = Path::new("/tmp").join("x".repeat(200));
        let err = connect(&long, Duration::from_millis(10)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let nul = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a\0b"));
        let err = connect(nul, Duration::from_millis(10)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn missing_socket_is_not_found() {
        let err =
            connect(Path::new("/nonexistent-dir/x.sock"), Duration::from_secs(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn poll_ms_rounds_up_and_saturates() {
        assert_eq!(poll_ms(Duration::from_micros(1)), 1);
        assert_eq!(poll_ms(Duration::from_millis(300)), 300);
        assert_eq!(poll_ms(Duration::from_secs(u64::MAX)), libc::c_int::MAX);
    }
}
