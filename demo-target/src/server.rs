//! The heap-dump socket server (one connection at a time, one command line).

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a client may take to send its command line.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may stall while we write a reply.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest command line accepted (longer = unknown command).
const MAX_LINE: usize = 64;

/// Whether jemalloc was started with `prof:true` (the socket exists only then).
pub fn profiling_enabled() -> bool {
    jemalloc_pprof::PROF_CTL.is_some()
}

/// `/tmp/heap_dump_<exe file name>.sock`, the name the monitor looks for.
pub fn default_socket_path() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let name = exe
        .file_name()
        .ok_or_else(|| format!("current_exe {}: no file name", exe.display()))?
        .to_string_lossy();
    // The kernel appends " (deleted)" when the binary was replaced on disk.
    let name = name.strip_suffix(" (deleted)").unwrap_or(&name);
    Ok(PathBuf::from(format!("/tmp/heap_dump_{name}.sock")))
}

/// Removes a stale socket file and binds a fresh listener at `path`.
pub fn bind(path: &Path) -> Result<UnixListener, String> {
    match std::fs::remove_file(path) {
        Ok(()) => eprintln!("demo-target: removed stale socket {}", path.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("remove stale socket {}: {e}", path.display())),
    }
    UnixListener::bind(path).map_err(|e| format!("bind {}: {e}", path.display()))
}

/// Serves connections forever, one at a time; runs on its own thread.
pub fn serve(listener: UnixListener) {
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                if let Err(e) = handle(stream) {
                    eprintln!("demo-target: socket client: {e}");
                }
            }
            Err(e) => {
                eprintln!("demo-target: accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn handle(mut stream: UnixStream) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let line = read_line(&mut stream).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(e.kind(), format!("no command within {READ_TIMEOUT:?}"))
        }
        _ => io::Error::new(e.kind(), format!("reading command: {e}")),
    })?;
    match line.as_deref() {
        Some(b"dump") => match dump() {
            Ok(pprof) => {
                eprintln!("demo-target: dump: {} bytes", pprof.len());
                stream.write_all(&pprof)
            }
            // Close with an empty reply: the protocol's "dump failed".
            Err(e) => {
                eprintln!("demo-target: dump failed: {e}");
                Ok(())
            }
        },
        Some(b"stats") => match stats() {
            Ok(s) => stream.write_all(s.to_string().as_bytes()),
            Err(e) => {
                eprintln!("demo-target: stats failed: {e}");
                Ok(())
            }
        },
        // Unknown command (or none): close without a reply.
        _ => Ok(()),
    }
}

/// Reads up to the first `\n` (or EOF). `None` if the line is too long.
fn read_line(stream: &mut UnixStream) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::with_capacity(MAX_LINE);
    let mut byte = [0u8; 1];
    loop {
        if stream.read(&mut byte)? == 0 || byte[0] == b'\n' {
            break;
        }
        if line.len() == MAX_LINE {
            return Ok(None);
        }
        line.push(byte[0]);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// A gzipped pprof protobuf of the live heap (jemalloc_pprof gzips it).
fn dump() -> Result<Vec<u8>, String> {
    let ctl = jemalloc_pprof::PROF_CTL
        .as_ref()
        .ok_or("jemalloc profiling is not enabled")?;
    // No tokio runtime exists in this process, so blocking_lock cannot panic.
    let mut ctl = ctl.blocking_lock();
    ctl.dump_pprof().map_err(|e| format!("{e:#}"))
}

/// jemalloc's global counters, read after an epoch advance.
struct Stats {
    allocated: usize,
    active: usize,
    resident: usize,
    mapped: usize,
    retained: usize,
    metadata: usize,
}

fn stats() -> Result<Stats, tikv_jemalloc_ctl::Error> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance()?;
    Ok(Stats {
        allocated: stats::allocated::read()?,
        active: stats::active::read()?,
        resident: stats::resident::read()?,
        mapped: stats::mapped::read()?,
        retained: stats::retained::read()?,
        metadata: stats::metadata::read()?,
    })
}

/// Pretty JSON, one counter per line.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{{")?;
        writeln!(f, "  \"allocated\": {},", self.allocated)?;
        writeln!(f, "  \"active\": {},", self.active)?;
        writeln!(f, "  \"resident\": {},", self.resident)?;
        writeln!(f, "  \"mapped\": {},", self.mapped)?;
        writeln!(f, "  \"retained\": {},", self.retained)?;
        writeln!(f, "  \"metadata\": {}", self.metadata)?;
        writeln!(f, "}}")
    }
}
