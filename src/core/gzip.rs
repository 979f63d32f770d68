//! [`GzipCheck`]: verifies a gzip stream (RFC 1952) end to end as it streams
//! by, without keeping it: every member's header is parsed, its deflate data
//! inflated into a fixed 32 KiB window that is thrown away, and its trailer's
//! CRC-32 and length (ISIZE) compared with what was inflated. Several members
//! one after the other are one valid stream (as `gzip -d` reads them). Memory
//! is fixed (the window plus the inflater's tables), whatever the size.
//!
//! A heap dump is delivered only when [`GzipCheck::finish`] says the stream
//! ended exactly at the end of a member: a reply cut short, a flipped byte or
//! a reply that is not gzip at all is refused (PRODUCT §3.6).

use std::fmt;

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use crate::core::event::CaptureFailure;

/// The deflate window: matches reach back at most this far.
const WINDOW: usize = 32 * 1024;
const MAGIC: [u8; 2] = [0x1f, 0x8b];
const METHOD_DEFLATE: u8 = 8;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

/// Why a stream is not a complete gzip stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GzipError {
    /// The first bytes are not the gzip magic `1f 8b`.
    NotGzip,
    /// The stream ended inside a member (`part` says where).
    Truncated { part: &'static str },
    /// A bad header, undecodable deflate data, a CRC-32 or length mismatch,
    /// or bytes after the last member that do not start another one.
    Corrupt { why: &'static str },
}

impl GzipError {
    /// The capture failure this is (`core::event` vocabulary).
    pub fn failure(self) -> CaptureFailure {
        match self {
            GzipError::NotGzip => CaptureFailure::NotGzip,
            GzipError::Truncated { .. } => CaptureFailure::Truncated,
            GzipError::Corrupt { .. } => CaptureFailure::Corrupt,
        }
    }
}

impl fmt::Display for GzipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GzipError::NotGzip => f.write_str("not gzip: the reply does not start with 1f 8b"),
            GzipError::Truncated { part } => write!(f, "truncated gzip stream: ends in the {part}"),
            GzipError::Corrupt { why } => write!(f, "corrupt gzip stream: {why}"),
        }
    }
}

impl std::error::Error for GzipError {}

/// What a complete stream held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub members: u32,
    /// Inflated bytes, all members together.
    pub inflated_bytes: u64,
}

/// Where in a member the next byte belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The 10 fixed header bytes, `got` of them seen.
    Fixed {
        got: u8,
    },
    /// FEXTRA's two length bytes.
    ExtraLen {
        got: u8,
        len: u16,
    },
    Extra {
        left: u16,
    },
    Name,
    Comment,
    HeaderCrc {
        left: u8,
    },
    Deflate,
    /// CRC-32 then ISIZE, little-endian, `got` of 8 bytes seen.
    Trailer {
        got: u8,
    },
    /// A member just ended: the stream may end here or start another one.
    Between,
}

/// The streaming verifier; feed it with [`update`](GzipCheck::update), then
/// ask [`finish`](GzipCheck::finish). Never panics on any input (fuzzed).
pub struct GzipCheck {
    part: Part,
    flags: u8,
    fixed: [u8; 10],
    trailer: [u8; 8],
    inflater: Box<DecompressorOxide>,
    window: Box<[u8; WINDOW]>,
    window_pos: usize,
    crc: crc32fast::Hasher,
    member_bytes: u64,
    members: u32,
    inflated_bytes: u64,
    error: Option<GzipError>,
}

impl fmt::Debug for GzipCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GzipCheck")
            .field("part", &self.part)
            .field("members", &self.members)
            .field("inflated_bytes", &self.inflated_bytes)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Default for GzipCheck {
    fn default() -> Self {
        GzipCheck::new()
    }
}

impl GzipCheck {
    pub fn new() -> GzipCheck {
        GzipCheck {
            part: Part::Fixed { got: 0 },
            flags: 0,
            fixed: [0; 10],
            trailer: [0; 8],
            inflater: Box::default(),
            window: Box::new([0; WINDOW]),
            window_pos: 0,
            crc: crc32fast::Hasher::new(),
            member_bytes: 0,
            members: 0,
            inflated_bytes: 0,
            error: None,
        }
    }

    /// Takes the next bytes of the stream. After the first error the rest
    /// is ignored (cheaply) and the error is kept for [`finish`](Self::finish).
    pub fn update(&mut self, mut data: &[u8]) {
        while self.error.is_none() && !data.is_empty() {
            let used = match self.part {
                Part::Deflate => self.inflate(data),
                _ => {
                    let (&byte, _) = data.split_first().unwrap_or((&0, &[]));
                    self.header_or_trailer_byte(byte);
                    1
                }
            };
            if used == 0 {
                self.corrupt("deflate data makes no progress");
            }
            data = data.get(used..).unwrap_or_default();
        }
    }

    /// The first error seen, if any, without waiting for the end.
    pub fn error(&self) -> Option<GzipError> {
        self.error
    }

    /// The verdict once the stream has ended: complete members only.
    pub fn finish(&self) -> Result<Verified, GzipError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let part = match self.part {
            Part::Between => {
                return Ok(Verified {
                    members: self.members,
                    inflated_bytes: self.inflated_bytes,
                })
            }
            Part::Fixed { got: 0 } if self.members == 0 => return Err(GzipError::NotGzip),
            Part::Deflate => "deflate data",
            Part::Trailer { .. } => "trailer",
            _ => "header",
        };
        Err(GzipError::Truncated { part })
    }

    fn fail(&mut self, e: GzipError) {
        self.error = Some(e);
    }

    fn corrupt(&mut self, why: &'static str) {
        self.fail(GzipError::Corrupt { why });
    }

    fn header_or_trailer_byte(&mut self, byte: u8) {
        match self.part {
            Part::Between if byte == MAGIC[0] => self.part = Part::Fixed { got: 1 },
            Part::Between => self.corrupt("bytes after the last member"),
            Part::Fixed { got } => self.fixed_byte(got, byte),
            Part::ExtraLen { got: 0, .. } => {
                self.part = Part::ExtraLen {
                    got: 1,
                    len: u16::from(byte),
                }
            }
            Part::ExtraLen { len, .. } => {
                let len = len | (u16::from(byte) << 8);
                self.part = Part::Extra { left: len };
                self.after_extra_bytes();
            }
            Part::Extra { left } => {
                self.part = Part::Extra {
                    left: left.saturating_sub(1),
                };
                self.after_extra_bytes();
            }
            Part::Name | Part::Comment if byte != 0 => {}
            Part::Name => self.next_header_field(FNAME),
            Part::Comment => self.next_header_field(FCOMMENT),
            Part::HeaderCrc { left } => {
                if left > 1 {
                    self.part = Part::HeaderCrc { left: left - 1 };
                } else {
                    self.next_header_field(FHCRC);
                }
            }
            Part::Trailer { got } => self.trailer_byte(got, byte),
            Part::Deflate => {}
        }
    }

    fn fixed_byte(&mut self, got: u8, byte: u8) {
        let i = usize::from(got);
        if let Some(slot) = self.fixed.get_mut(i) {
            *slot = byte;
        }
        match (i, byte) {
            (0, b) if b != MAGIC[0] => return self.not_gzip(),
            (1, b) if b != MAGIC[1] => return self.not_gzip(),
            (2, b) if b != METHOD_DEFLATE => {
                return self.corrupt("compression method is not deflate")
            }
            (3, b) if b & FRESERVED != 0 => return self.corrupt("reserved header flags set"),
            _ => {}
        }
        if i + 1 < self.fixed.len() {
            self.part = Part::Fixed { got: got + 1 };
            return;
        }
        self.flags = self.fixed[3];
        self.part = Part::ExtraLen { got: 0, len: 0 };
        self.next_header_field(0);
    }

    /// Not gzip at the very start; after a complete member, trailing junk.
    fn not_gzip(&mut self) {
        if self.members == 0 {
            self.fail(GzipError::NotGzip);
        } else {
            self.corrupt("bytes after the last member");
        }
    }

    fn after_extra_bytes(&mut self) {
        if self.part == (Part::Extra { left: 0 }) {
            self.next_header_field(FEXTRA);
        }
    }

    /// Moves to the first optional header field after `done` (in RFC 1952
    /// order: FEXTRA, FNAME, FCOMMENT, FHCRC), or to the deflate data.
    fn next_header_field(&mut self, done: u8) {
        let order = [FEXTRA, FNAME, FCOMMENT, FHCRC];
        let start = order.iter().position(|&f| f == done).map_or(0, |i| i + 1);
        let next = order
            .iter()
            .skip(start)
            .find(|&&f| self.flags & f != 0)
            .copied();
        self.part = match next {
            Some(FEXTRA) => Part::ExtraLen { got: 0, len: 0 },
            Some(FNAME) => Part::Name,
            Some(FCOMMENT) => Part::Comment,
            Some(_) => Part::HeaderCrc { left: 2 },
            None => {
                self.inflater.init();
                self.window_pos = 0;
                self.crc = crc32fast::Hasher::new();
                self.member_bytes = 0;
                Part::Deflate
            }
        };
    }

    /// Inflates from `data`; returns how many bytes were used.
    fn inflate(&mut self, data: &[u8]) -> usize {
        let mut used_total = 0;
        loop {
            let input = data.get(used_total..).unwrap_or_default();
            let (status, used, out) = decompress(
                &mut self.inflater,
                input,
                &mut self.window[..],
                self.window_pos,
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT,
            );
            used_total += used;
            let end = self.window_pos.saturating_add(out);
            self.crc
                .update(self.window.get(self.window_pos..end).unwrap_or_default());
            let out64 = u64::try_from(out).unwrap_or(u64::MAX);
            self.member_bytes = self.member_bytes.wrapping_add(out64);
            self.inflated_bytes = self.inflated_bytes.saturating_add(out64);
            self.window_pos = end & (WINDOW - 1);
            match status {
                TINFLStatus::Done => {
                    self.part = Part::Trailer { got: 0 };
                    return used_total;
                }
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput => return used_total,
                _ => {
                    self.corrupt("undecodable deflate data");
                    return data.len();
                }
            }
            if used == 0 && out == 0 {
                self.corrupt("deflate data makes no progress");
                return data.len();
            }
        }
    }

    fn trailer_byte(&mut self, got: u8, byte: u8) {
        let i = usize::from(got);
        if let Some(slot) = self.trailer.get_mut(i) {
            *slot = byte;
        }
        if i + 1 < self.trailer.len() {
            self.part = Part::Trailer { got: got + 1 };
            return;
        }
        let [c0, c1, c2, c3, s0, s1, s2, s3] = self.trailer;
        let crc = std::mem::take(&mut self.crc).finalize();
        if u32::from_le_bytes([c0, c1, c2, c3]) != crc {
            return self.corrupt("CRC-32 mismatch");
        }
        // ISIZE is the length modulo 2^32: the truncation is the format's.
        let isize = (self.member_bytes & u64::from(u32::MAX)) as u32;
        if u32::from_le_bytes([s0, s1, s2, s3]) != isize {
            return self.corrupt("length (ISIZE) mismatch");
        }
        self.members = self.members.saturating_add(1);
        self.part = Part::Between;
    }
}

#[cfg(test)]
mod tests;
