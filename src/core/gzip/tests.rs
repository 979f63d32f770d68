use std::io::Write;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

use super::*;

/// A real reply of the demo target's heap-dump socket (jemalloc_pprof).
const REAL: &[u8] = include_bytes!("../../../tests/fixtures/heap/demo-target.pprof.gz");

fn check(data: &[u8]) -> Result<Verified, GzipError> {
    let mut c = GzipCheck::new();
    c.update(data);
    c.finish()
}

fn check_in_chunks(data: &[u8], chunk: usize) -> Result<Verified, GzipError> {
    let mut c = GzipCheck::new();
    for part in data.chunks(chunk) {
        c.update(part);
    }
    c.finish()
}

/// Pseudo-random text that compresses into several deflate blocks and uses
/// matches reaching far back.
fn payload(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    let words: [&[u8]; 6] = [
        b"alloc ",
        b"free ",
        b"jemalloc ",
        b"0x7f00 ",
        b"\n",
        b"prof ",
    ];
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(words[(x % 6) as usize]);
        out.push((x >> 8) as u8);
    }
    out.truncate(len);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn a_real_dump_verifies_whole_and_in_any_chunking() {
    let v = check(REAL).unwrap();
    assert_eq!(v.members, 1);
    assert!(v.inflated_bytes > REAL.len() as u64 / 2, "{v:?}");
    for chunk in [1, 2, 3, 7, 64, 4096] {
        assert_eq!(check_in_chunks(REAL, chunk), Ok(v), "chunk {chunk}");
    }
}

#[test]
fn every_truncated_prefix_of_a_real_dump_is_refused() {
    assert_eq!(check(&REAL[..0]), Err(GzipError::NotGzip));
    for end in 1..REAL.len() {
        let got = check(&REAL[..end]);
        assert!(
            matches!(got, Err(GzipError::Truncated { .. })),
            "prefix {end} of {}: {got:?}",
            REAL.len()
        );
    }
}

#[test]
fn every_truncated_prefix_of_a_large_stream_is_refused() {
    let data = gzip(&payload(200_000));
    assert!(data.len() > 20_000, "several blocks: {}", data.len());
    let whole = check(&data).unwrap();
    assert_eq!(whole.inflated_bytes, 200_000);
    // Every prefix would cost O(n²) in a debug build; every 97th byte plus
    // the last 16 (trailer and the end of the deflate data) are enough.
    let ends = (1..data.len())
        .step_by(97)
        .chain(data.len() - 16..data.len());
    for end in ends {
        let got = check_in_chunks(&data[..end], 8192);
        assert!(
            matches!(got, Err(GzipError::Truncated { .. })),
            "prefix {end}: {got:?}"
        );
    }
}

#[test]
fn a_flipped_byte_anywhere_after_the_header_is_refused() {
    let original = payload(5_000);
    let data = gzip(&original);
    let whole = check(&data).unwrap();
    let same_content = |bad: &[u8]| {
        let mut out = Vec::new();
        let mut d = flate2::read::GzDecoder::new(bad);
        std::io::Read::read_to_end(&mut d, &mut out).is_ok() && out == original
    };
    // Byte 3 bit 0 (FTEXT) and bytes 4..10 (MTIME, XFL, OS) are
    // informational, not checked.
    for i in (0..3).chain(10..data.len()) {
        let mut bad = data.clone();
        bad[i] ^= 0x01;
        let got = check(&bad);
        // A few bits change nothing (padding, a code length of an unused
        // symbol): the content is intact, so both verdicts agree.
        assert!(
            got.is_err() || same_content(&bad),
            "flip at {i} accepted: {got:?} (whole {whole:?})"
        );
    }
    let mut bad = REAL.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    assert_eq!(
        check(&bad),
        Err(GzipError::Corrupt {
            why: "length (ISIZE) mismatch"
        })
    );
    let mut bad = REAL.to_vec();
    bad[last - 5] ^= 0x01;
    assert_eq!(
        check(&bad),
        Err(GzipError::Corrupt {
            why: "CRC-32 mismatch"
        })
    );
}

#[test]
fn non_gzip_replies_are_named_so() {
    for reply in [
        &b"{\"error\": \"no\"}"[..],
        b"\x1f",
        b"\x1f\x00",
        b"PK\x03\x04",
        &[0u8; 100],
    ] {
        let got = check(reply);
        let want = if reply == b"\x1f" {
            Err(GzipError::Truncated { part: "header" })
        } else {
            Err(GzipError::NotGzip)
        };
        assert_eq!(got, want, "{reply:?}");
    }
    assert_eq!(GzipError::NotGzip.failure(), CaptureFailure::NotGzip);
    assert_eq!(
        GzipError::Truncated { part: "trailer" }.failure(),
        CaptureFailure::Truncated
    );
    assert_eq!(
        GzipError::Corrupt { why: "x" }.failure(),
        CaptureFailure::Corrupt
    );
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(b"hello").unwrap();
    assert_eq!(check(&zlib.finish().unwrap()), Err(GzipError::NotGzip));
}

#[test]
fn several_members_are_one_stream_and_junk_after_them_is_not() {
    let mut two = gzip(b"first member\n");
    two.extend_from_slice(REAL);
    let v = check_in_chunks(&two, 5).unwrap();
    assert_eq!(v.members, 2);
    let mut junk = two.clone();
    junk.push(0);
    assert_eq!(
        check(&junk),
        Err(GzipError::Corrupt {
            why: "bytes after the last member"
        })
    );
    let mut half = two.clone();
    half.extend_from_slice(&REAL[..REAL.len() / 2]);
    assert!(matches!(check(&half), Err(GzipError::Truncated { .. })));
}

#[test]
fn optional_header_fields_are_skipped() {
    let mut e = GzBuilder::new()
        .filename("heap.pprof")
        .comment("a comment")
        .extra(vec![1, 2, 3, 4, 5])
        .write(Vec::new(), Compression::fast());
    e.write_all(&payload(70_000)).unwrap();
    let data = e.finish().unwrap();
    assert_eq!(data[3], FEXTRA | FNAME | FCOMMENT);
    let v = check_in_chunks(&data, 3).unwrap();
    assert_eq!(v.inflated_bytes, 70_000);
    // FHCRC: two more header bytes, set by hand (their value is not checked).
    let mut with_crc = data[..10].to_vec();
    with_crc[3] = FHCRC;
    with_crc.extend_from_slice(&[0xaa, 0xbb]);
    let plain = gzip(b"x");
    with_crc.extend_from_slice(&plain[10..]);
    assert_eq!(check(&with_crc).map(|v| v.inflated_bytes), Ok(1));
}

#[test]
fn bad_headers_are_corrupt() {
    let mut data = REAL.to_vec();
    data[2] = 7;
    assert_eq!(
        check(&data),
        Err(GzipError::Corrupt {
            why: "compression method is not deflate"
        })
    );
    let mut data = REAL.to_vec();
    data[3] = 0x20;
    assert_eq!(
        check(&data),
        Err(GzipError::Corrupt {
            why: "reserved header flags set"
        })
    );
}

#[test]
fn errors_read_as_context_then_cause() {
    assert_eq!(
        GzipError::Truncated {
            part: "deflate data"
        }
        .to_string(),
        "truncated gzip stream: ends in the deflate data"
    );
    assert_eq!(
        GzipError::NotGzip.to_string(),
        "not gzip: the reply does not start with 1f 8b"
    );
}

#[test]
fn any_split_of_any_mutation_gives_the_same_verdict() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..300 {
        let mut data = REAL.to_vec();
        for _ in 0..(next() % 3) {
            let at = (next() % data.len() as u64) as usize;
            data[at] = next() as u8;
        }
        let end = data.len() - (next() % 4) as usize;
        let data = &data[..end];
        let whole = check(data);
        let cut = (next() % data.len() as u64) as usize;
        let mut split = GzipCheck::new();
        split.update(&data[..cut]);
        split.update(&data[cut..]);
        assert_eq!(split.finish(), whole, "cut at {cut} of {}", data.len());
    }
}
