//! `/proc` readers. The status file of a target stays open and is `pread`
//! each tick into a caller-owned buffer: once that process incarnation is
//! gone the read fails (ESRCH), so the descriptor is the identity and a
//! reused pid cannot fool us.

use std::cell::Cell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::core::status::{self, Stat, StatusSample};

/// Why a status read produced no sample.
#[derive(Debug)]
pub enum ReadError {
    /// The process incarnation behind the descriptor has ended (ESRCH), or
    /// it is a zombie with no memory left to report.
    Gone,
    Io(io::Error),
}

/// An open `/proc/<pid>/status`.
pub struct StatusFile {
    file: File,
    /// Where the memory block began in the last read
    /// ([`status::scan_resuming`]).
    hint: Cell<usize>,
}

impl StatusFile {
    pub fn open(pid: u32) -> io::Result<StatusFile> {
        Ok(StatusFile {
            file: File::open(format!("/proc/{pid}/status"))?,
            hint: Cell::new(0),
        })
    }

    /// Reads and scans the file without allocating. One `pread` when the
    /// file fits in `buf` (a short read from procfs is the whole file);
    /// larger files are read in pieces, whole lines at a time.
    pub fn read(&self, buf: &mut [u8]) -> Result<StatusSample, ReadError> {
        let mut sample = StatusSample::default();
        let mut offset: u64 = 0;
        loop {
            let n = match self.file.read_at(buf, offset) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(ReadError::Gone),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e)),
            };
            let at_eof = n < buf.len();
            let chunk = buf.get(..n).unwrap_or_default();
            let used = if offset == 0 {
                let mut hint = self.hint.get();
                let used = status::scan_resuming(chunk, at_eof, &mut sample, &mut hint);
                self.hint.set(hint);
                used
            } else {
                status::scan(chunk, at_eof, &mut sample)
            };
            if at_eof || sample.complete() {
                break;
            }
            // A line longer than the whole buffer is skipped, not looped on.
            offset += if used == 0 { n as u64 } else { used as u64 };
        }
        if sample.rss_anon.is_none() && sample.vm_rss.is_none() {
            return Err(ReadError::Gone);
        }
        Ok(sample)
    }
}

/// State, parent and start time from `/proc/<pid>/stat`.
pub fn stat(pid: u32) -> io::Result<Stat> {
    let text = std::fs::read(format!("/proc/{pid}/stat"))?;
    status::parse_stat(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat: unexpected format"),
        )
    })
}

/// Field 22 of `/proc/<pid>/stat`: with the pid, identifies one incarnation.
pub fn starttime(pid: u32) -> io::Result<u64> {
    stat(pid).map(|s| s.starttime)
}

/// The short command name (`comm`, at most 15 bytes).
pub fn comm(pid: u32) -> io::Result<String> {
    let mut s = std::fs::read_to_string(format!("/proc/{pid}/comm"))?;
    if s.ends_with('\n') {
        s.pop();
    }
    Ok(s)
}

/// The file name of the executable, without ` (deleted)`.
pub fn exe_name(pid: u32) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = link.file_name()?.to_str()?;
    Some(name.strip_suffix(" (deleted)").unwrap_or(name).to_string())
}

/// The file name of argv[0].
pub fn argv0_name(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|&b| b == 0).next()?;
    let name = Path::new(std::str::from_utf8(argv0).ok()?)
        .file_name()?
        .to_str()?;
    Some(name.to_string())
}

/// The best name for the heap-dump socket: exe file name, then argv[0], then comm.
pub fn socket_name(pid: u32) -> Option<String> {
    exe_name(pid)
        .or_else(|| argv0_name(pid))
        .or_else(|| comm(pid).ok())
}

/// Every pid under `/proc` (processes only, not threads).
pub fn pids() -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        if let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        {
            out.push(pid);
        }
    }
    Ok(out)
}

pub fn status_path(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/status"))
}
