//! Client for the target's heap-dump socket (PRODUCT §2). `dump\n` makes the
//! server write a gzipped pprof and close; `stats\n` makes it write jemalloc
//! counters as JSON. The reply is streamed through one fixed stack buffer into
//! the caller's writer, so a dump of any size costs the same memory here.
//! Everything is bounded: connect timeout, a per-read idle timeout (which
//! also covers a server that accepts and never writes), an overall deadline
//! against a server that trickles bytes, and a size cap.

use std::fmt;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::CaptureConfig;
use crate::core::event::{CaptureFailure, CaptureOutcome};
pub use crate::core::jemalloc::JemallocStats;
use crate::io::spool::SpoolError;
use crate::sys::unix;

/// The one buffer a capture uses, on the stack.
pub const BUF_BYTES: usize = 64 * 1024;
/// Cap on a `stats` reply.
pub const STATS_MAX_BYTES: u64 = 64 * 1024;
/// A `stats` reply (small JSON) must be complete within this.
pub const STATS_TIMEOUT: Duration = Duration::from_secs(10);
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// `/tmp/heap_dump_<name>.sock`, where `name` is the file name of the
/// target's executable (not its 15-byte `comm`).
pub fn default_socket_path(exe_file_name: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/heap_dump_{exe_file_name}.sock"))
}

/// `HEAP_DUMP_SOCKET` when set, else [`default_socket_path`].
pub fn socket_path(cfg: &CaptureConfig, exe_file_name: &str) -> PathBuf {
    match &cfg.socket_override {
        Some(path) => path.clone(),
        None => default_socket_path(exe_file_name),
    }
}

/// Which bound a capture hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Send,
    /// No byte within `read_timeout` (including none at all after the request).
    Idle,
    /// The whole reply took longer than the overall deadline.
    Total,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Send => "sending the request",
            Stage::Idle => "waiting for data",
            Stage::Total => "reading the whole reply",
        })
    }
}

#[derive(Debug)]
pub enum CaptureError {
    /// The socket file does not exist: the target runs without profiling.
    NoSocket(PathBuf),
    Connect {
        path: PathBuf,
        source: io::Error,
    },
    Timeout {
        path: PathBuf,
        stage: Stage,
        after: Duration,
    },
    /// The reply went past the cap; what was written so far must be dropped.
    TooLarge {
        path: PathBuf,
        max_bytes: u64,
    },
    /// The server closed without a byte: the dump (or command) failed.
    Empty,
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// Writing the reply to the output (the spool file) failed; a full spool
    /// shows up here as an `io::Error` wrapping `spool::SpoolError::Full`.
    Spool(io::Error),
    /// The `stats` reply is not the JSON we expect.
    BadStats(String),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::NoSocket(path) => write!(
                f,
                "heap profiling not enabled in the target (no socket at {})",
                path.display()
            ),
            CaptureError::Connect { path, source } => {
                write!(f, "heap-dump socket {}: connect: {source}", path.display())
            }
            CaptureError::Timeout { path, stage, after } => write!(
                f,
                "heap-dump socket {}: {stage}: timed out after {} ms",
                path.display(),
                after.as_millis()
            ),
            CaptureError::TooLarge { path, max_bytes } => write!(
                f,
                "heap-dump socket {}: reply exceeds the {max_bytes}-byte cap, capture dropped",
                path.display()
            ),
            CaptureError::Empty => {
                f.write_str("heap-dump socket: empty reply (the target failed to produce it)")
            }
            CaptureError::Io { path, source } => {
                write!(f, "heap-dump socket {}: {source}", path.display())
            }
            CaptureError::Spool(source) => write!(f, "heap dump: writing the spool file: {source}"),
            CaptureError::BadStats(reason) => write!(f, "heap-dump stats reply: {reason}"),
        }
    }
}

impl CaptureError {
    /// The capture outcome this error means (NAMES.md "Capture outcomes").
    pub fn outcome(&self) -> CaptureOutcome {
        let failed = CaptureOutcome::Failed;
        match self {
            CaptureError::NoSocket(_) => CaptureOutcome::NoSocket,
            CaptureError::Connect { source, .. } => match source.kind() {
                io::ErrorKind::ConnectionRefused => failed(CaptureFailure::ConnectRefused),
                _ => failed(CaptureFailure::Io),
            },
            CaptureError::Timeout { stage, .. } => failed(match stage {
                Stage::Connect | Stage::Send => CaptureFailure::ConnectTimeout,
                Stage::Idle => CaptureFailure::IdleTimeout,
                Stage::Total => CaptureFailure::TotalTimeout,
            }),
            CaptureError::TooLarge { .. } => failed(CaptureFailure::TooBig),
            CaptureError::Empty => failed(CaptureFailure::Empty),
            CaptureError::Spool(e) if spool_full(e) => failed(CaptureFailure::SpoolFull),
            CaptureError::Io { .. } | CaptureError::Spool(_) | CaptureError::BadStats(_) => {
                failed(CaptureFailure::Io)
            }
        }
    }
}

/// A write error that is the spool refusing more bytes.
fn spool_full(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<SpoolError>())
        .is_some_and(|s| matches!(s, SpoolError::Full { .. }))
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Connect { source, .. }
            | CaptureError::Io { source, .. }
            | CaptureError::Spool(source) => Some(source),
            _ => None,
        }
    }
}

/// What a successful dump produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Captured {
    pub bytes: u64,
    /// The reply starts with the gzip magic `1f 8b`. A dump without it is kept
    /// (it is still evidence) but flagged.
    pub gzip_ok: bool,
}

/// Connects, sends `dump\n` and streams the reply into `out` until EOF.
pub fn dump_to(
    path: &Path,
    cfg: &CaptureConfig,
    out: &mut impl Write,
) -> Result<Captured, CaptureError> {
    dump_within(path, cfg, cfg.total_timeout, out)
}

/// Sends `stats\n` and parses the JSON reply (at most [`STATS_MAX_BYTES`],
/// within [`STATS_TIMEOUT`]).
pub fn stats(path: &Path, cfg: &CaptureConfig) -> Result<JemallocStats, CaptureError> {
    let mut reply = Vec::new();
    let limits = Limits {
        max_bytes: STATS_MAX_BYTES,
        total: STATS_TIMEOUT,
    };
    request(path, cfg, b"stats\n", limits, &mut reply)?;
    parse_stats(&reply)
}

/// Parses a `stats` reply ([`crate::core::jemalloc::parse_stats`]).
pub fn parse_stats(reply: &[u8]) -> Result<JemallocStats, CaptureError> {
    crate::core::jemalloc::parse_stats(reply).map_err(CaptureError::BadStats)
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max_bytes: u64,
    total: Duration,
}

fn dump_within(
    path: &Path,
    cfg: &CaptureConfig,
    total: Duration,
    out: &mut impl Write,
) -> Result<Captured, CaptureError> {
    let limits = Limits {
        max_bytes: cfg.max_bytes,
        total,
    };
    let (bytes, head) = request(path, cfg, b"dump\n", limits, out)?;
    Ok(Captured {
        bytes,
        gzip_ok: bytes >= 2 && head == GZIP_MAGIC,
    })
}

/// Sends `command` and copies the reply to `out`. Returns the byte count and
/// the first two bytes (zero-filled when shorter). An empty reply is an error.
fn request(
    path: &Path,
    cfg: &CaptureConfig,
    command: &[u8],
    limits: Limits,
    out: &mut impl Write,
) -> Result<(u64, [u8; 2]), CaptureError> {
    let fd = unix::connect(path, cfg.connect_timeout).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => CaptureError::NoSocket(path.to_path_buf()),
        io::ErrorKind::TimedOut => timeout(path, Stage::Connect, cfg.connect_timeout),
        _ => CaptureError::Connect {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    unix::send_all(fd.as_fd(), command, cfg.connect_timeout).map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut => timeout(path, Stage::Send, cfg.connect_timeout),
        _ => io_error(path, e),
    })?;
    let started = Instant::now();
    let mut buf = [0u8; BUF_BYTES];
    let mut head = [0u8; 2];
    let mut bytes: u64 = 0;
    loop {
        let left = limits.total.saturating_sub(started.elapsed());
        let (wait, stage) = if left < cfg.read_timeout {
            (left, Stage::Total)
        } else {
            (cfg.read_timeout, Stage::Idle)
        };
        let got = match unix::recv(fd.as_fd(), &mut buf, wait) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                let after = if stage == Stage::Total {
                    limits.total
                } else {
                    wait
                };
                return Err(timeout(path, stage, after));
            }
            Err(e) => return Err(io_error(path, e)),
        };
        // recv never returns more than the buffer length.
        let chunk = buf.get(..got).unwrap_or_default();
        let total = u64::try_from(chunk.len())
            .ok()
            .and_then(|n| bytes.checked_add(n))
            .filter(|&t| t <= limits.max_bytes)
            .ok_or_else(|| CaptureError::TooLarge {
                path: path.to_path_buf(),
                max_bytes: limits.max_bytes,
            })?;
        remember_head(&mut head, bytes, chunk);
        out.write_all(chunk).map_err(CaptureError::Spool)?;
        bytes = total;
    }
    if bytes == 0 {
        return Err(CaptureError::Empty);
    }
    out.flush().map_err(CaptureError::Spool)?;
    Ok((bytes, head))
}

/// Keeps the first two bytes of the stream, which may arrive split.
fn remember_head(head: &mut [u8; 2], offset: u64, chunk: &[u8]) {
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    for (dst, src) in head.iter_mut().skip(skip).zip(chunk) {
        *dst = *src;
    }
}

fn timeout(path: &Path, stage: Stage, after: Duration) -> CaptureError {
    CaptureError::Timeout {
        path: path.to_path_buf(),
        stage,
        after,
    }
}

fn io_error(path: &Path, source: io::Error) -> CaptureError {
    CaptureError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;
    use std::thread;

    use super::*;

    #[test]
    fn gzip_magic_split_across_reads_is_seen() {
        let mut head = [0u8; 2];
        remember_head(&mut head, 0, &[0x1f]);
        remember_head(&mut head, 1, &[0x8b, 0x08]);
        remember_head(&mut head, 3, &[0x00]);
        assert_eq!(head, GZIP_MAGIC);
    }

    #[test]
    fn default_path_uses_the_exe_file_name() {
        let long = "a-service-name-longer-than-15";
        assert_eq!(
            default_socket_path(long),
            PathBuf::from("/tmp/heap_dump_a-service-name-longer-than-15.sock")
        );
    }

    #[test]
    fn total_deadline_stops_a_trickling_server() {
        let dir = std::env::temp_dir().join(format!("mm-hd-trickle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("t.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // One byte every 50 ms: never idle for the 1 s read timeout.
            while conn.write_all(&[0x1f]).is_ok() {
                thread::sleep(Duration::from_millis(50));
            }
        });
        let cfg = CaptureConfig {
            socket_override: None,
            max_bytes: 1 << 20,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_secs(600),
        };
        let started = Instant::now();
        let err =
            dump_within(&sock, &cfg, Duration::from_millis(400), &mut io::sink()).unwrap_err();
        assert!(
            matches!(
                err,
                CaptureError::Timeout {
                    stage: Stage::Total,
                    ..
                }
            ),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_millis(900));
        server.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
