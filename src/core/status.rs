//! Zero-allocation scanner for `/proc/<pid>/status`.
//!
//! The caller owns the buffer. A file larger than the buffer is read in
//! pieces: [`scan`] consumes whole lines only and says how far it got, so the
//! reader can continue from there. Unknown keys and malformed lines are
//! skipped; fields an old kernel does not have stay `None`.

/// Memory fields of one status read, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusSample {
    pub rss_anon: Option<u64>,
    pub rss_file: Option<u64>,
    pub rss_shmem: Option<u64>,
    pub vm_rss: Option<u64>,
    pub vm_hwm: Option<u64>,
    pub vm_swap: Option<u64>,
}

/// Scans the complete lines of `buf` into `out`. Returns the number of bytes
/// consumed (up to and including the last newline). With `at_eof`, a final
/// line without a newline is scanned too.
pub fn scan(buf: &[u8], at_eof: bool, out: &mut StatusSample) -> usize {
    let mut consumed = 0;
    let mut rest = buf;
    loop {
        let (line, next, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        if !complete {
            if at_eof && !line.is_empty() {
                scan_line(line, out);
                consumed += line.len();
            }
            return consumed;
        }
        scan_line(line, out);
        consumed += line.len() + 1;
        rest = next;
    }
}

/// Scans a whole status file held in memory.
pub fn scan_all(buf: &[u8]) -> StatusSample {
    let mut out = StatusSample::default();
    scan(buf, true, &mut out);
    out
}

fn scan_line(line: &[u8], out: &mut StatusSample) {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return;
    };
    let (key, value) = (&line[..colon], &line[colon + 1..]);
    let slot = match key {
        b"RssAnon" => &mut out.rss_anon,
        b"RssFile" => &mut out.rss_file,
        b"RssShmem" => &mut out.rss_shmem,
        b"VmRSS" => &mut out.vm_rss,
        b"VmHWM" => &mut out.vm_hwm,
        b"VmSwap" => &mut out.vm_swap,
        _ => return,
    };
    if let Some(v) = parse_kb(value) {
        *slot = Some(v);
    }
}

/// `"\t  123456 kB"` -> 123456 × 1024. `None` for anything else.
fn parse_kb(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    let (digits, unit) = match value.iter().position(|b| !b.is_ascii_digit()) {
        Some(i) => (&value[..i], value[i..].trim_ascii()),
        None => (value, &b""[..]),
    };
    if digits.is_empty() || !(unit == b"kB" || unit.is_empty()) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if unit.is_empty() {
        Some(n)
    } else {
        n.checked_mul(1024)
    }
}

/// The fields of `/proc/<pid>/stat` the loop needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Field 3: `R`, `S`, `Z` (zombie), ...
    pub state: u8,
    /// Field 4.
    pub ppid: u32,
    /// Field 22: with the pid, identifies one incarnation.
    pub starttime: u64,
}

impl Stat {
    /// A zombie (or a dead task): it has exited, its memory is gone.
    pub fn exited(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after the last `)`.
pub fn parse_stat(stat: &[u8]) -> Option<Stat> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    // After ')' come fields 3.. separated by single spaces.
    let mut fields = stat
        .get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let ppid = u32::try_from(number(fields.next()?)?).ok()?;
    // Field 22 is the 18th after field 4.
    let starttime = number(fields.nth(17)?)?;
    Some(Stat {
        state,
        ppid,
        starttime,
    })
}

/// Field 22 of `/proc/<pid>/stat` (the process start time in clock ticks).
pub fn parse_stat_starttime(stat: &[u8]) -> Option<u64> {
    parse_stat(stat).map(|s| s.starttime)
}

fn number(field: &[u8]) -> Option<u64> {
    let field = field.trim_ascii();
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in field {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: [(&str, &[u8]); 3] = [
        (
            "linux-6.18 (captured)",
            include_bytes!("../../tests/fixtures/proc/status-6.18.txt"),
        ),
        (
            "linux-4.19 layout",
            include_bytes!("../../tests/fixtures/proc/status-4.19.txt"),
        ),
        (
            "linux-3.10 layout (no Rss* split)",
            include_bytes!("../../tests/fixtures/proc/status-3.10.txt"),
        ),
    ];

    #[test]
    fn real_kernel_files() {
        let s = scan_all(FIXTURES[0].1);
        assert_eq!(s.rss_anon, Some(55_700 * 1024));
        assert_eq!(s.rss_file, Some(6_704 * 1024));
        assert_eq!(s.rss_shmem, Some(0));
        assert_eq!(s.vm_rss, Some(62_404 * 1024));
        assert_eq!(s.vm_hwm, Some(62_404 * 1024));
        assert_eq!(s.vm_swap, Some(0));
        assert_eq!(
            scan_all(FIXTURES[1].1),
            s,
            "4.19 layout has the same fields"
        );

        let old = scan_all(FIXTURES[2].1);
        assert_eq!(old.rss_anon, None, "3.10 has no RssAnon");
        assert_eq!(old.vm_rss, Some(62_404 * 1024));
        assert_eq!(old.vm_swap, Some(0));
    }

    #[test]
    fn every_truncated_prefix_is_safe_and_never_invents_values() {
        for (name, file) in FIXTURES {
            let full = scan_all(file);
            for n in 0..=file.len() {
                let mut part = StatusSample::default();
                let used = scan(&file[..n], false, &mut part);
                assert!(used <= n, "{name}: consumed past the end");
                for (got, want) in [
                    (part.rss_anon, full.rss_anon),
                    (part.vm_rss, full.vm_rss),
                    (part.vm_hwm, full.vm_hwm),
                ] {
                    assert!(got.is_none() || got == want, "{name} prefix {n}");
                }
            }
        }
    }

    #[test]
    fn resumes_across_small_buffers() {
        let file = FIXTURES[0].1;
        let want = scan_all(file);
        for chunk in [16, 64, 100, 4096] {
            let mut got = StatusSample::default();
            let mut off = 0;
            while off < file.len() {
                let end = (off + chunk).min(file.len());
                let used = scan(&file[off..end], end == file.len(), &mut got);
                // A line longer than the chunk is skipped, like the reader does.
                off += if used == 0 { end - off } else { used };
            }
            if chunk >= 64 {
                assert_eq!(got, want, "chunk {chunk}");
            }
        }
    }

    #[test]
    fn stat_starttime_after_a_hostile_comm() {
        let stat = b"4242 (a) b (c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 12 3 0 0 20 0 1 0 987654 1000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(parse_stat_starttime(stat), Some(987_654));
        for n in 0..stat.len() {
            let _ = parse_stat_starttime(&stat[..n]);
        }
        assert_eq!(parse_stat_starttime(b"1 (x) S 1"), None);
        assert_eq!(parse_stat_starttime(b""), None);
        let s = parse_stat(stat).unwrap();
        assert_eq!((s.state, s.ppid, s.exited()), (b'S', 1, false));
        let zombie = b"77 (z) Z 5 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0";
        assert!(parse_stat(zombie).unwrap().exited());
    }

    #[test]
    fn malformed_values_are_skipped() {
        let s = scan_all(
            b"RssAnon: lots kB\nVmRSS:\t99999999999999999999 kB\nVmHWM: 12 MB\nVmSwap: 7\n::\n\n",
        );
        assert_eq!(s.rss_anon, None);
        assert_eq!(s.vm_rss, None);
        assert_eq!(s.vm_hwm, None);
        assert_eq!(s.vm_swap, Some(7));
    }
}
