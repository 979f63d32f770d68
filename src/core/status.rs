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

impl StatusSample {
    /// Whether the memory block has been read to its end. Every kernel
    /// prints `VmSwap` after the other five fields (`VmHWM`, `VmRSS`, then
    /// since 4.5 `RssAnon`, `RssFile`, `RssShmem`), so nothing after it is
    /// needed: signals, capabilities and CPU lists are more than half the
    /// file.
    pub fn complete(&self) -> bool {
        self.vm_swap.is_some()
    }
}

/// Scans the complete lines of `buf` into `out`, stopping after the line
/// that makes it [`complete`](StatusSample::complete). Returns the number of
/// bytes consumed (up to and including the last newline scanned). With
/// `at_eof`, a final line without a newline is scanned too.
pub fn scan(buf: &[u8], at_eof: bool, out: &mut StatusSample) -> usize {
    scan_lines(buf, at_eof, out).0
}

/// [`scan`] from where the memory block began in the previous read of the
/// same file (`hint`, 0 at first), when the line there is still `VmHWM`:
/// the first wanted key in every kernel's layout, after a dozen lines of
/// names, ids, groups and namespaces that are skipped. Any other line there
/// (the `State` line changed length, say) means a scan from the start.
/// Leaves in `hint` where `VmHWM` was found this time.
pub fn scan_resuming(buf: &[u8], at_eof: bool, out: &mut StatusSample, hint: &mut usize) -> usize {
    let start = match (
        hint.checked_sub(1).and_then(|i| buf.get(i)),
        buf.get(*hint..),
    ) {
        (Some(b'\n'), Some([b'V', b'm', b'H', b'W', b'M', b':', ..])) => *hint,
        _ => 0,
    };
    let (used, hwm) = scan_lines(buf.get(start..).unwrap_or_default(), at_eof, out);
    *hint = hwm.map_or(0, |at| start + at);
    start + used
}

/// [`scan`], and where the `VmHWM` line starts in `buf` if it was seen.
fn scan_lines(buf: &[u8], at_eof: bool, out: &mut StatusSample) -> (usize, Option<usize>) {
    let mut consumed = 0;
    let mut hwm = None;
    let mut rest = buf;
    loop {
        let Some(i) = find_byte(rest, b'\n') else {
            if at_eof && !rest.is_empty() {
                if scan_line(rest, out) {
                    hwm = Some(consumed);
                }
                consumed += rest.len();
            }
            return (consumed, hwm);
        };
        if scan_line(rest.get(..i).unwrap_or_default(), out) {
            hwm = Some(consumed);
        }
        consumed += i + 1;
        if out.complete() {
            return (consumed, hwm);
        }
        rest = rest.get(i + 1..).unwrap_or_default();
    }
}

/// The index of the first `byte` in `s`, eight bytes at a time: the scan
/// runs after every sleep, and a byte-wise search was most of its work.
fn find_byte(s: &[u8], byte: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(byte);
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(w);
        // Zero where the byte matched; the lowest flagged byte is the
        // first match (a borrow can only flag bytes above a real zero).
        let x = u64::from_le_bytes(bytes) ^ pattern;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == byte).map(|i| at + i)
}

/// Scans a whole status file held in memory.
pub fn scan_all(buf: &[u8]) -> StatusSample {
    let mut out = StatusSample::default();
    scan(buf, true, &mut out);
    out
}

/// Scans one line into `out`; true when it was the `VmHWM` line. Like the
/// rest of the scan it calls nothing out of line (no `memcmp`, no trim): it
/// runs after every sleep, when each function it calls is a cold page.
fn scan_line(line: &[u8], out: &mut StatusSample) -> bool {
    // Every wanted key starts with `V` or `R`: most lines end here.
    if !matches!(line.first(), Some(b'V' | b'R')) {
        return false;
    }
    let Some(colon) = find_byte(line, b':') else {
        return false;
    };
    let (Some(key), Some(value)) = (line.get(..colon), line.get(colon + 1..)) else {
        return false;
    };
    let key = (key.len(), word(key));
    let slot = match key {
        RSS_ANON => &mut out.rss_anon,
        RSS_FILE => &mut out.rss_file,
        RSS_SHMEM => &mut out.rss_shmem,
        VM_RSS => &mut out.vm_rss,
        VM_HWM => &mut out.vm_hwm,
        VM_SWAP => &mut out.vm_swap,
        _ => return false,
    };
    if let Some(v) = parse_kb(value) {
        *slot = Some(v);
    }
    key == VM_HWM
}

/// A key as (length, its first eight bytes as a little-endian word): six
/// word comparisons instead of six calls to `memcmp`. Every wanted key is
/// at most eight bytes, so equal pairs mean equal keys.
const fn word(key: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < key.len() && i < 8 {
        w |= (key[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

const fn key(name: &[u8]) -> (usize, u64) {
    (name.len(), word(name))
}

const RSS_ANON: (usize, u64) = key(b"RssAnon");
const RSS_FILE: (usize, u64) = key(b"RssFile");
const RSS_SHMEM: (usize, u64) = key(b"RssShmem");
const VM_RSS: (usize, u64) = key(b"VmRSS");
const VM_HWM: (usize, u64) = key(b"VmHWM");
const VM_SWAP: (usize, u64) = key(b"VmSwap");

/// `"\t  123456 kB"` -> 123456 × 1024: ASCII whitespace around the number
/// and the unit, the unit `kB` or none. `None` for anything else.
fn parse_kb(value: &[u8]) -> Option<u64> {
    let mut rest = trim_start(value);
    let mut n: u64 = 0;
    let mut digits = 0;
    while let [d @ b'0'..=b'9', tail @ ..] = rest {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        digits += 1;
        rest = tail;
    }
    if digits == 0 {
        return None;
    }
    rest = trim_start(rest);
    while let [head @ .., b] = rest {
        if !b.is_ascii_whitespace() {
            break;
        }
        rest = head;
    }
    match rest {
        [] => Some(n),
        [b'k', b'B'] => n.checked_mul(1024),
        _ => None,
    }
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b, tail @ ..] = s {
        if !b.is_ascii_whitespace() {
            break;
        }
        s = tail;
    }
    s
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
    fn finds_bytes_like_a_plain_search() {
        let text: Vec<u8> = (0..200u32)
            .map(|i| b"ab:\n\x80\xff\0x"[(i * 7 % 8) as usize])
            .collect();
        for start in 0..text.len() {
            for end in start..text.len().min(start + 40) {
                let s = &text[start..end];
                for byte in [b'\n', b':', 0x80, 0xff, 0, b'z'] {
                    assert_eq!(find_byte(s, byte), s.iter().position(|&b| b == byte));
                }
            }
        }
    }

    #[test]
    fn stops_after_the_memory_block() {
        for (name, file) in FIXTURES {
            let mut s = StatusSample::default();
            let used = scan(file, true, &mut s);
            let text = std::str::from_utf8(file).unwrap();
            let swap = text.find("VmSwap:").unwrap();
            let end = swap + text[swap..].find('\n').unwrap() + 1;
            assert_eq!(used, end, "{name}: stopped right after VmSwap");
            assert!(end < file.len() / 2, "{name}: most of the file skipped");
            assert_eq!(s, scan_all(file), "{name}");
        }
        // Without VmSwap (malformed or an unknown layout) the scan goes on.
        let s = scan_all(b"VmSwap: x kB\nVmRSS:\t8 kB\nRssAnon:\t4 kB\n");
        assert_eq!(
            (s.vm_rss, s.rss_anon, s.vm_swap),
            (Some(8192), Some(4096), None)
        );
    }

    #[test]
    fn resumes_where_the_memory_block_was() {
        for (name, file) in FIXTURES {
            let text = std::str::from_utf8(file).unwrap();
            let block = text.find("\nVmHWM:").unwrap() + 1;
            let mut hint = 0;
            let mut s = StatusSample::default();
            let used = scan_resuming(file, true, &mut s, &mut hint);
            assert_eq!((s, hint), (scan_all(file), block), "{name}: first read");
            let mut again = StatusSample::default();
            assert_eq!(scan_resuming(file, true, &mut again, &mut hint), used);
            assert_eq!((again, hint), (s, block), "{name}: resumed");
            // The process went from running to sleeping: the block moved.
            let moved = text.replacen("R (running)", "S (sleeping)", 1);
            let mut m = StatusSample::default();
            scan_resuming(moved.as_bytes(), true, &mut m, &mut hint);
            assert_eq!((m, hint), (s, block + 1), "{name}: stale hint");
            // A hint past the end, or into the middle of a line.
            for bad in [file.len() + 9, block + 2, 1] {
                let (mut b, mut h) = (StatusSample::default(), bad);
                scan_resuming(file, true, &mut b, &mut h);
                assert_eq!((b, h), (s, block), "{name}: hint {bad}");
            }
        }
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

#[cfg(test)]
#[path = "status_tests.rs"]
mod reference_tests;
