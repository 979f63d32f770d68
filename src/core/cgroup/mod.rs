//! Zero-allocation scanners for the memory cgroup files, v1 and v2 (like
//! [`crate::core::status`]): where a process's memory cgroup is
//! (`/proc/<pid>/cgroup`, `mountinfo`), and what it holds (usage, limit,
//! `memory.stat`, events, PSI). The caller owns the buffers; results borrow
//! from them or are plain numbers. Unknown keys and malformed lines are
//! skipped, values that do not parse stay `None`, nothing panics.

mod files;

pub use files::{scan_events, scan_pressure, scan_stat, scan_stat_all, Events, MemStat, Pressure};

/// cgroup v1 (one hierarchy per controller) or v2 (the unified hierarchy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    /// `1` or `2`, as `inspect --format json` prints it.
    pub fn number(self) -> u8 {
        match self {
            Version::V1 => 1,
            Version::V2 => 2,
        }
    }
}

/// v1 reports "no limit" as `LONG_MAX` rounded down to a page:
/// 9223372036854771712. Anything at or above it is no limit.
pub const V1_UNLIMITED: u64 = 9_223_372_036_854_771_712;

/// The memory cgroup paths in one `/proc/<pid>/cgroup`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcCgroup<'a> {
    /// The path of the v1 hierarchy that has the `memory` controller.
    pub v1_memory: Option<&'a [u8]>,
    /// The path in the unified hierarchy (the `0::` line).
    pub v2: Option<&'a [u8]>,
}

/// Scans `/proc/<pid>/cgroup`: lines `hierarchy-id:controllers:path`.
/// The path is everything after the second colon (it may hold colons).
pub fn parse_proc_cgroup(buf: &[u8]) -> ProcCgroup<'_> {
    let mut out = ProcCgroup::default();
    for line in complete_lines(buf) {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !path.starts_with(b"/") {
            continue;
        }
        if id == b"0" && controllers.is_empty() {
            out.v2 = Some(path);
        } else if controllers.split(|&b| b == b',').any(|c| c == b"memory") {
            out.v1_memory = Some(path);
        }
    }
    out
}

/// One cgroup file system mount from `mountinfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mount<'a> {
    pub version: Version,
    /// The cgroup shown at the mount point (field 4), e.g. `/` or a
    /// container's own cgroup for a bind mount.
    pub root: &'a [u8],
    /// Where it is mounted (field 5), octal escapes (`\040`) as the kernel wrote them.
    pub point: &'a [u8],
}

/// The cgroup mounts in `mountinfo` that matter here: v1 hierarchies with
/// the `memory` controller and cgroup2 mounts, in file order. Hybrid hosts
/// have both.
pub fn cgroup_mounts(buf: &[u8]) -> impl Iterator<Item = Mount<'_>> {
    complete_lines(buf).filter_map(parse_mount)
}

fn parse_mount(line: &[u8]) -> Option<Mount<'_>> {
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let root = fields.nth(3)?;
    let point = fields.next()?;
    // Optional fields end at a lone "-"; then fstype, source, super options.
    let mut fields = fields.skip_while(|&f| f != b"-").skip(1);
    let fstype = fields.next()?;
    let _source = fields.next()?;
    let options = fields.next()?;
    let version = match fstype {
        b"cgroup2" => Version::V2,
        b"cgroup" if options.split(|&b| b == b',').any(|o| o == b"memory") => Version::V1,
        _ => return None,
    };
    Some(Mount {
        version,
        root,
        point,
    })
}

/// The part of `path` (from `/proc/<pid>/cgroup`) below a mount whose root
/// is `mount_root`: `Some(b"")` when the path is the root itself, `None`
/// when the path is outside the mount. Compared component by component, so
/// `/a/bc` is not below `/a/b`.
pub fn below_root<'a>(mount_root: &[u8], path: &'a [u8]) -> Option<&'a [u8]> {
    let root = mount_root.strip_suffix(b"/").unwrap_or(mount_root);
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() || rest == b"/" {
        return Some(b"");
    }
    rest.strip_prefix(b"/")
}

/// A single-number file (`memory.current`, `memory.usage_in_bytes`,
/// `memory.failcnt`, `memory.swap.current`).
pub fn parse_value(buf: &[u8]) -> Option<u64> {
    parse_u64(first_line(buf)?)
}

/// A limit file: `memory.max` / `memory.high` (`max` = none) or
/// `memory.limit_in_bytes` (at or above [`V1_UNLIMITED`] = none).
/// `Some(None)` is "no limit"; `None` is unreadable.
pub fn parse_limit(buf: &[u8]) -> Option<Option<u64>> {
    let line = first_line(buf)?;
    if line == b"max" {
        return Some(None);
    }
    let v = parse_u64(line)?;
    Some((v < V1_UNLIMITED).then_some(v))
}

fn first_line(buf: &[u8]) -> Option<&[u8]> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    Some(buf.get(..end)?.trim_ascii())
}

/// Decimal digits only, no sign, no overflow.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &d in s {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// The newline-terminated lines of `buf` (a final partial line is dropped:
/// it may be a truncated read).
pub(crate) fn complete_lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    buf.get(..end)
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
}

/// Feeds the complete lines of `buf` to `f` and returns the bytes consumed
/// (through the last newline); with `at_eof` a final line without a newline
/// is fed too. Lets a reader resume a file larger than its buffer.
pub(crate) fn scan_lines(buf: &[u8], at_eof: bool, mut f: impl FnMut(&[u8])) -> usize {
    let end = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    for line in complete_lines(buf) {
        f(line);
    }
    let tail = buf.get(end..).unwrap_or_default();
    if at_eof && !tail.is_empty() {
        f(tail);
        return buf.len();
    }
    end
}

#[cfg(test)]
mod tests;
