//! The line scanner against the plain code it replaced (slice equality for
//! the keys, `trim_ascii` around the number and the unit): the word
//! comparisons and hand-written trims must accept and reject exactly the
//! same lines, hostile ones included.

use super::*;

/// The scanner as first written, kept as the reference.
fn reference(line: &[u8], out: &mut StatusSample) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let (key, value) = (&line[..colon], &line[colon + 1..]);
    let slot = match key {
        b"RssAnon" => &mut out.rss_anon,
        b"RssFile" => &mut out.rss_file,
        b"RssShmem" => &mut out.rss_shmem,
        b"VmRSS" => &mut out.vm_rss,
        b"VmHWM" => &mut out.vm_hwm,
        b"VmSwap" => &mut out.vm_swap,
        _ => return false,
    };
    let value = value.trim_ascii();
    let (digits, unit) = match value.iter().position(|b| !b.is_ascii_digit()) {
        Some(i) => (&value[..i], value[i..].trim_ascii()),
        None => (value, &b""[..]),
    };
    let parsed = (|| {
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
    })();
    if let Some(v) = parsed {
        *slot = Some(v);
    }
    key == b"VmHWM"
}

/// Pieces that make near misses: keys one byte off, NULs that a word
/// comparison could confuse with padding, ASCII whitespace (and `\x0b`,
/// which is not), units that almost match, numbers that overflow.
const PIECES: [&[u8]; 30] = [
    b"RssAnon",
    b"RssFile",
    b"RssShmem",
    b"VmRSS",
    b"VmHWM",
    b"VmSwap",
    b"VmHWM\0",
    b"RssShmemX",
    b"RssAno",
    b"Vm",
    b"R",
    b"V",
    b":",
    b"::",
    b" ",
    b"\t",
    b"\x0b",
    b"\x0c",
    b"\r",
    b"kB",
    b"k",
    b"B",
    b"kb",
    b"0",
    b"7",
    b"18446744073709551615",
    b"18014398509481984",
    b"99999999999999999999",
    b"12",
    b"\0",
];

#[test]
fn accepts_and_rejects_the_lines_the_plain_code_did() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut line = Vec::new();
    for round in 0..200_000 {
        line.clear();
        for _ in 0..1 + next() % 6 {
            line.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        let (mut got, mut want) = (StatusSample::default(), StatusSample::default());
        let (g, w) = (scan_line(&line, &mut got), reference(&line, &mut want));
        assert_eq!(
            (g, got),
            (w, want),
            "round {round}: {:?}",
            String::from_utf8_lossy(&line)
        );
    }
}

#[test]
fn the_known_near_misses() {
    for (line, hwm) in [
        (&b"VmHWM\0\0\0: 5 kB"[..], None),
        (b"VmHWM: 5 kB", Some(5 * 1024)),
        (b"VmHWM:5kB", Some(5 * 1024)),
        (b"VmHWM:\t5\x0ckB\r", Some(5 * 1024)),
        (b"VmHWM:\t5\x0bkB", None),
        (b"VmHWM: 5 k B", None),
        (b"VmHWM: 5 kBkB", None),
        (b"VmHWMX: 5 kB", None),
        (b"VmHWM : 5 kB", None),
        (b"VmHWM: 18014398509481984 kB", None),
        (
            b"VmHWM: 18014398509481983 kB",
            Some(18_014_398_509_481_983 * 1024),
        ),
    ] {
        let mut got = StatusSample::default();
        scan_line(line, &mut got);
        assert_eq!(got.vm_hwm, hwm, "{:?}", String::from_utf8_lossy(line));
    }
    let mut got = StatusSample::default();
    scan_line(b"RssShmemX: 5 kB", &mut got);
    assert_eq!(got, StatusSample::default(), "a 9-byte key sharing 8 bytes");
}
