//! Reading a dump's `<stem>.json` back (bounded), or rebuilding what can be
//! known when that file is lost. The format is [`Meta`] in `core`.

use std::fs;
use std::path::Path;
use std::time::UNIX_EPOCH;

use super::{io_err, SpoolError};
use crate::core::spool_meta::Meta;
use crate::io::capped::{open_nofollow, read_capped_from};

/// Metadata files are a few hundred bytes; anything past this is not ours.
const META_MAX_BYTES: u64 = 64 * 1024;

/// The metadata at `path` and its size in bytes.
pub(super) fn read_meta(path: &Path) -> Result<(Meta, u64), SpoolError> {
    let buf = open_nofollow(path)
        .and_then(|f| read_capped_from(f, META_MAX_BYTES))
        .map_err(io_err(path))?;
    let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
    let meta = Meta::from_json(&buf).map_err(|reason| SpoolError::BadMeta {
        path: Some(path.to_path_buf()),
        reason,
    })?;
    Ok((meta, len))
}

/// Metadata for a dump whose `.json` is gone: pid and reason from the name,
/// time from the file, no key (the uploader builds one), no digest.
pub(super) fn rebuild_meta(stem: &str, info: &fs::Metadata) -> Meta {
    let mut parts = stem.splitn(4, '-');
    let pid = parts.nth(2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let reason = parts.next().unwrap_or("dump").to_owned();
    let unix_ms = info
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Meta {
        key: String::new(),
        pod: String::new(),
        target: String::new(),
        pid,
        reason,
        unix_ms,
        rss_anon_bytes: None,
        baseline_bytes: None,
        jemalloc: None,
        bytes: info.len(),
        sha256: None,
    }
}
