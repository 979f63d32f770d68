//! The key-value files: `memory.stat` (v1 `total_*` names, v2 names),
//! `memory.events` / v1 `memory.oom_control`, and PSI `memory.pressure`.

use super::{parse_u64, scan_lines, Version};

/// The `memory.stat` fields the monitor explains with, in bytes.
/// v1 values are the hierarchical `total_*` ones (they include child cgroups,
/// like v2's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemStat {
    /// v2 `anon`, v1 `total_rss`.
    pub anon: Option<u64>,
    /// v2 `file`, v1 `total_cache`.
    pub file: Option<u64>,
    pub active_file: Option<u64>,
    pub inactive_file: Option<u64>,
    pub shmem: Option<u64>,
    /// v2 `file_mapped`, v1 `total_mapped_file`.
    pub file_mapped: Option<u64>,
    /// v1 `total_swap` (v2 keeps swap in `memory.swap.current`).
    pub swap: Option<u64>,
}

/// Scans complete lines of a `memory.stat` into `out`; returns the bytes
/// consumed (see [`super::scan_lines`]).
pub fn scan_stat(buf: &[u8], at_eof: bool, version: Version, out: &mut MemStat) -> usize {
    scan_lines(buf, at_eof, |line| stat_line(line, version, out))
}

/// Scans a whole `memory.stat` held in memory.
pub fn scan_stat_all(buf: &[u8], version: Version) -> MemStat {
    let mut out = MemStat::default();
    scan_stat(buf, true, version, &mut out);
    out
}

fn stat_line(line: &[u8], version: Version, out: &mut MemStat) {
    let Some((key, value)) = key_value(line) else {
        return;
    };
    let slot = match (version, key) {
        (Version::V2, b"anon") | (Version::V1, b"total_rss") => &mut out.anon,
        (Version::V2, b"file") | (Version::V1, b"total_cache") => &mut out.file,
        (Version::V2, b"active_file") | (Version::V1, b"total_active_file") => &mut out.active_file,
        (Version::V2, b"inactive_file") | (Version::V1, b"total_inactive_file") => {
            &mut out.inactive_file
        }
        (Version::V2, b"shmem") | (Version::V1, b"total_shmem") => &mut out.shmem,
        (Version::V2, b"file_mapped") | (Version::V1, b"total_mapped_file") => &mut out.file_mapped,
        (Version::V1, b"total_swap") => &mut out.swap,
        _ => return,
    };
    *slot = Some(value);
}

/// Memory event counters: v2 `memory.events` (`high`, `max`, `oom`,
/// `oom_kill`), v1 `memory.oom_control` (`oom_kill`, `under_oom`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    pub high: Option<u64>,
    pub max: Option<u64>,
    pub oom: Option<u64>,
    pub oom_kill: Option<u64>,
    /// v1: the cgroup is at its limit and its OOM killer is disabled or busy.
    pub under_oom: Option<bool>,
}

/// Scans `memory.events` or `memory.oom_control` (same `key value` shape).
pub fn scan_events(buf: &[u8], at_eof: bool, out: &mut Events) -> usize {
    scan_lines(buf, at_eof, |line| {
        let Some((key, value)) = key_value(line) else {
            return;
        };
        match key {
            b"high" => out.high = Some(value),
            b"max" => out.max = Some(value),
            b"oom" => out.oom = Some(value),
            b"oom_kill" => out.oom_kill = Some(value),
            b"under_oom" => out.under_oom = Some(value != 0),
            _ => {}
        }
    })
}

/// PSI averages, in hundredths of a percent (the kernel prints two decimals).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pressure {
    pub some_avg10: Option<u32>,
    pub some_avg60: Option<u32>,
    pub full_avg10: Option<u32>,
}

impl Pressure {
    /// `some avg10` in percent.
    pub fn some_avg10_percent(&self) -> Option<f64> {
        self.some_avg10.map(|h| f64::from(h) / 100.0)
    }
}

/// Scans `memory.pressure`: `some avg10=1.23 avg60=… avg300=… total=…` and
/// the same for `full`.
pub fn scan_pressure(buf: &[u8], at_eof: bool, out: &mut Pressure) -> usize {
    scan_lines(buf, at_eof, |line| {
        let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let (avg10, avg60) = match words.next() {
            Some(b"some") => (&mut out.some_avg10, Some(&mut out.some_avg60)),
            Some(b"full") => (&mut out.full_avg10, None),
            _ => return,
        };
        let mut avg60 = avg60;
        for w in words {
            if let Some(v) = w.strip_prefix(b"avg10=") {
                *avg10 = parse_hundredths(v);
            } else if let (Some(v), Some(slot)) = (w.strip_prefix(b"avg60="), avg60.as_mut()) {
                **slot = parse_hundredths(v);
            }
        }
    })
}

/// `12.34` -> 1234; `7` -> 700; at most two decimals.
fn parse_hundredths(s: &[u8]) -> Option<u32> {
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(i) => (s.get(..i)?, s.get(i + 1..)?),
        None => (s, &b""[..]),
    };
    if frac.len() > 2 || (frac.is_empty() && s.contains(&b'.')) {
        return None;
    }
    let whole = u32::try_from(parse_u64(int)?).ok()?;
    let mut cents = if frac.is_empty() {
        0
    } else {
        u32::try_from(parse_u64(frac)?).ok()?
    };
    if frac.len() == 1 {
        cents *= 10;
    }
    whole.checked_mul(100)?.checked_add(cents)
}

/// `key value` with a decimal value; `None` for anything else.
fn key_value(line: &[u8]) -> Option<(&[u8], u64)> {
    let space = line.iter().position(|&b| b == b' ')?;
    let key = line.get(..space)?;
    let value = parse_u64(line.get(space + 1..)?.trim_ascii())?;
    Some((key, value))
}
