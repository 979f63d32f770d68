//! The target's memory cgroup: found once per incarnation, its files kept
//! open and `pread` at most once a second (the tick stays cheap). Decisions
//! (parsing, rules) live in `core::cgroup` and `core::cgroup_rules`.
//!
//! Finding it: `/proc/<pid>/cgroup` names the path (v1 `memory` line, else
//! the v2 `0::` line). `CGROUP_ROOT` replaces the mount points when set;
//! otherwise the target's own view comes first (`/proc/<pid>/root` +
//! the mounts in `/proc/<pid>/mountinfo`: a sidecar in its own cgroup
//! namespace cannot see the target's cgroup under its own /sys/fs/cgroup),
//! then our own mounts (`/proc/self/mountinfo`). `PROC_ROOT` replaces `/proc`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::core::cgroup::{self as scan, Events, MemStat, Pressure, Version};
use crate::core::cgroup_rules::Reading;
use crate::io::log;

/// cgroup files are read at most this often.
pub const READ_EVERY: Duration = Duration::from_secs(1);
/// Limits rarely change: a healthy tick re-reads them at most this often.
pub const LIMITS_EVERY: Duration = Duration::from_secs(30);

/// Where to look (`PROC_ROOT`, `CGROUP_ROOT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub proc_root: PathBuf,
    pub cgroup_root: Option<PathBuf>,
}

impl Default for Roots {
    fn default() -> Roots {
        Roots {
            proc_root: PathBuf::from("/proc"),
            cgroup_root: None,
        }
    }
}

/// A process's memory cgroup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub version: Version,
    /// As in `/proc/<pid>/cgroup`.
    pub path: String,
    pub dir: PathBuf,
    /// The v2 directory whose `memory.pressure` is the target's own (not the
    /// host-wide root's); on a hybrid host this is the unified hierarchy.
    pub psi_dir: Option<PathBuf>,
}

/// Finds the memory cgroup directory of `pid`.
pub fn locate(pid: u32, roots: &Roots) -> io::Result<Located> {
    let proc_pid = roots.proc_root.join(pid.to_string());
    let text = std::fs::read(proc_pid.join("cgroup"))?;
    let found = scan::parse_proc_cgroup(&text);
    let (version, path) = match (found.v1_memory, found.v2) {
        (Some(p), _) => (Version::V1, p),
        (None, Some(p)) => (Version::V2, p),
        (None, None) => return Err(not_found(pid, "no memory cgroup in /proc/<pid>/cgroup")),
    };
    let marker = match version {
        Version::V1 => "memory.usage_in_bytes",
        Version::V2 => "memory.current",
    };
    let dir = candidates(&proc_pid, roots, version, path)
        .into_iter()
        .find(|d| d.join(marker).exists())
        .ok_or_else(|| {
            not_found(
                pid,
                "its memory cgroup is not visible here (set CGROUP_ROOT?)",
            )
        })?;
    let psi_dir = match (version, found.v2) {
        (Version::V2, _) => Some(dir.clone()),
        (Version::V1, Some(v2)) => candidates(&proc_pid, roots, Version::V2, v2)
            .into_iter()
            .find(|d| d.join("memory.pressure").exists()),
        (Version::V1, None) => None,
    }
    // The root cgroup (no `cgroup.type`) reports host-wide pressure.
    .filter(|d| d.join("cgroup.type").exists());
    Ok(Located {
        version,
        path: String::from_utf8_lossy(path).into_owned(),
        dir,
        psi_dir,
    })
}

fn candidates(proc_pid: &Path, roots: &Roots, version: Version, path: &[u8]) -> Vec<PathBuf> {
    let rel = String::from_utf8_lossy(path.strip_prefix(b"/").unwrap_or(path)).into_owned();
    if let Some(root) = &roots.cgroup_root {
        let sub = match version {
            Version::V1 => "memory",
            Version::V2 => "unified",
        };
        return vec![root.join(&rel), root.join(sub).join(&rel)];
    }
    let mut out = Vec::new();
    let views = [
        (proc_pid.join("mountinfo"), Some(proc_pid.join("root"))),
        (roots.proc_root.join("self/mountinfo"), None),
    ];
    for (mountinfo, prefix) in views {
        let Ok(text) = std::fs::read(&mountinfo) else {
            continue;
        };
        for m in scan::cgroup_mounts(&text).filter(|m| m.version == version) {
            let Some(below) = scan::below_root(m.root, path) else {
                continue;
            };
            let point = unescape(m.point);
            let mut dir = match &prefix {
                Some(p) => p.join(point.trim_start_matches('/')),
                None => PathBuf::from(point),
            };
            if !below.is_empty() {
                dir.push(String::from_utf8_lossy(below).as_ref());
            }
            out.push(dir);
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let octal = raw
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|d| (b'0'..=b'7').contains(d)));
        match (b, octal) {
            (b'\\', Some(o)) => {
                let v = o.iter().fold(0u32, |n, d| n * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The target's cgroup files, or `None` after one log line saying why:
/// monitoring goes on from `/proc` alone (a sidecar often cannot see the
/// target's cgroup).
pub fn attach(pid: u32, target: &str, roots: &Roots) -> Option<CgroupFiles> {
    match locate(pid, roots).and_then(CgroupFiles::open) {
        Ok(files) => {
            let l = &files.located;
            log::info(
                "cgroup",
                &[
                    ("target", &target),
                    ("pid", &pid),
                    ("version", &l.version.number()),
                    ("path", &l.path),
                    ("dir", &l.dir.display()),
                    ("psi", &l.psi_dir.is_some()),
                ],
            );
            Some(files)
        }
        Err(e) => {
            log::warn(
                "cgroup-unavailable",
                &[
                    ("target", &target),
                    ("pid", &pid),
                    ("error", &e),
                    ("why", &"memory cgroup not readable: monitoring /proc only"),
                ],
            );
            None
        }
    }
}

fn not_found(pid: u32, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("pid {pid}: {why}"))
}

/// The open files of one memory cgroup.
pub struct CgroupFiles {
    pub located: Located,
    usage: File,
    limit: Option<File>,
    high: Option<File>,
    stat: Option<File>,
    /// v2 `memory.events`, v1 `memory.oom_control`.
    events: Option<File>,
    failcnt: Option<File>,
    pressure: Option<File>,
    swap: Option<File>,
    buf: Box<[u8]>,
    last_read: Option<Instant>,
    limits_read: Option<Instant>,
    /// Read `memory.pressure` on every refresh (a PSI rule is on).
    psi: bool,
    reading: Reading,
}

/// What one read covers.
#[derive(Debug, Clone, Copy)]
struct Depth {
    limits: bool,
    psi: bool,
    stat: bool,
    /// failcnt, swap.
    extras: bool,
}

impl CgroupFiles {
    /// Opens what exists; only the usage file is required.
    pub fn open(located: Located) -> io::Result<CgroupFiles> {
        let dir = &located.dir;
        let opt = |name: &str| File::open(dir.join(name)).ok();
        let v1 = located.version == Version::V1;
        let pick = |v1_name: &str, v2_name: &str| opt(if v1 { v1_name } else { v2_name });
        Ok(CgroupFiles {
            usage: File::open(dir.join(if v1 {
                "memory.usage_in_bytes"
            } else {
                "memory.current"
            }))?,
            limit: pick("memory.limit_in_bytes", "memory.max"),
            high: (!v1).then(|| opt("memory.high")).flatten(),
            stat: opt("memory.stat"),
            events: pick("memory.oom_control", "memory.events"),
            failcnt: v1.then(|| opt("memory.failcnt")).flatten(),
            pressure: located
                .psi_dir
                .as_ref()
                .and_then(|d| File::open(d.join("memory.pressure")).ok()),
            swap: (!v1).then(|| opt("memory.swap.current")).flatten(),
            buf: vec![0u8; 4096].into_boxed_slice(),
            last_read: None,
            limits_read: None,
            psi: true,
            reading: Reading {
                version: Some(located.version),
                ..Reading::default()
            },
            located,
        })
    }

    /// Whether every refresh reads `memory.pressure` (default on; off when
    /// no rule needs it: one `pread` less per second).
    pub fn watch_psi(&mut self, on: bool) {
        self.psi = on;
    }

    /// The last reading (possibly stale by up to [`READ_EVERY`]).
    pub fn last(&self) -> &Reading {
        &self.reading
    }

    /// Reads the files unless they were read less than [`READ_EVERY`] ago;
    /// `Ok(true)` when this call read them. `memory.stat` only `with_stat`.
    /// No allocation.
    pub fn refresh(&mut self, now: Instant, with_stat: bool) -> io::Result<bool> {
        if self
            .last_read
            .is_some_and(|t| now.saturating_duration_since(t) < READ_EVERY)
        {
            return Ok(false);
        }
        self.last_read = Some(now);
        let limits = self
            .limits_read
            .is_none_or(|t| now.saturating_duration_since(t) >= LIMITS_EVERY);
        if limits {
            self.limits_read = Some(now);
        }
        self.read(Depth {
            limits,
            psi: self.psi,
            stat: with_stat,
            extras: false,
        })?;
        Ok(true)
    }

    /// Reads the event counters now, whatever the rate limit (the target
    /// vanished: was it an OOM kill?).
    pub fn read_events_now(&mut self) -> io::Result<&Reading> {
        if let Some(f) = &self.events {
            let mut e = Events::default();
            read_lines(f, &mut self.buf, |chunk, eof| {
                scan::scan_events(chunk, eof, &mut e)
            })?;
            self.reading.events = e;
        }
        Ok(&self.reading)
    }

    /// Everything, `memory.stat` included (an event needs the breakdown).
    pub fn read_full(&mut self) -> io::Result<&Reading> {
        self.read(Depth {
            limits: true,
            psi: true,
            stat: true,
            extras: true,
        })?;
        Ok(&self.reading)
    }

    fn read(&mut self, d: Depth) -> io::Result<()> {
        let buf = &mut self.buf;
        let r = &mut self.reading;
        r.usage = scan::parse_value(pread(&self.usage, buf)?);
        if let (true, Some(f)) = (d.limits, &self.limit) {
            r.limit = scan::parse_limit(pread(f, buf)?).flatten();
        }
        if let (true, Some(f)) = (d.limits, &self.high) {
            r.high_limit = scan::parse_limit(pread(f, buf)?).flatten();
        }
        if let (true, Some(f)) = (d.extras, &self.failcnt) {
            r.failcnt = scan::parse_value(pread(f, buf)?);
        }
        if let (true, Some(f)) = (d.extras, &self.swap) {
            r.swap = scan::parse_value(pread(f, buf)?);
        }
        if let Some(f) = &self.events {
            let mut e = Events::default();
            read_lines(f, buf, |chunk, eof| scan::scan_events(chunk, eof, &mut e))?;
            r.events = e;
        }
        if let (true, Some(f)) = (d.psi, &self.pressure) {
            let mut p = Pressure::default();
            read_lines(f, buf, |chunk, eof| scan::scan_pressure(chunk, eof, &mut p))?;
            r.pressure = p;
        }
        if let (true, Some(f)) = (d.stat, &self.stat) {
            let version = self.located.version;
            let mut s = MemStat::default();
            read_lines(f, buf, |chunk, eof| {
                scan::scan_stat(chunk, eof, version, &mut s)
            })?;
            r.stat = Some(s);
        }
        Ok(())
    }
}

/// One `pread` from the start (these files are far smaller than `buf`).
fn pread<'b>(file: &File, buf: &'b mut [u8]) -> io::Result<&'b [u8]> {
    let n = loop {
        match file.read_at(buf, 0) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    Ok(buf.get(..n).unwrap_or_default())
}

/// Reads a line-oriented file in `buf`-sized pieces, whole lines at a time.
fn read_lines(
    file: &File,
    buf: &mut [u8],
    mut scan: impl FnMut(&[u8], bool) -> usize,
) -> io::Result<()> {
    let mut offset = 0u64;
    loop {
        let n = match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        let at_eof = n < buf.len();
        let used = scan(buf.get(..n).unwrap_or_default(), at_eof);
        if at_eof {
            return Ok(());
        }
        // A line longer than the whole buffer is skipped, not looped on.
        offset += if used == 0 { n as u64 } else { used as u64 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape(br"/sys/fs/cgroup/a\040b"), "/sys/fs/cgroup/a b");
        assert_eq!(unescape(br"/x\134y\0"), "/x\\y\\0");
    }

    #[test]
    fn finds_and_reads_our_own_cgroup() {
        // Whatever this machine has: our own process always has a cgroup,
        // but a machine without a memory controller has no memory cgroup.
        let me = std::process::id();
        let found = match locate(me, &Roots::default()) {
            Ok(found) => found,
            Err(e) if std::env::var_os("MEMORY_MONITOR_REQUIRE_CGROUP").is_none() => {
                eprintln!("skipped: no readable memory cgroup here: {e}");
                return;
            }
            Err(e) => panic!("MEMORY_MONITOR_REQUIRE_CGROUP is set: {e}"),
        };
        assert!(
            found.dir.ends_with(found.path.trim_start_matches('/')),
            "{found:?}"
        );
        let mut files = CgroupFiles::open(found).expect("open what locate found");
        assert!(files.refresh(Instant::now(), true).expect("read"));
        assert!(!files.refresh(Instant::now(), true).expect("too soon"));
        let r = files.last();
        assert!(r.usage.is_some_and(|u| u > 0), "{r:?}");
        assert!(r.stat.is_some_and(|s| s.anon.is_some()), "{r:?}");
    }
}
