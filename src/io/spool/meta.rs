//! [`Meta`]: what is known about one dump, as the `<stem>.json` file beside
//! it, and how it is read back (or rebuilt when that file is lost).

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

use serde_json::{json, Map, Value};

use super::{io_err, SpoolError};
use crate::io::heapdump::{self, JemallocStats};

/// Metadata files are a few hundred bytes; anything past this is not ours.
const META_MAX_BYTES: u64 = 64 * 1024;

/// What is known about one dump, stored as `<stem>.json` beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// S3 object key; empty when the metadata was lost (see
    /// [`Pending::key_or`](super::Pending::key_or)).
    pub key: String,
    pub pod: String,
    pub target: String,
    pub pid: u32,
    pub reason: String,
    pub unix_ms: u64,
    pub rss_anon_bytes: Option<u64>,
    pub baseline_bytes: Option<u64>,
    pub jemalloc: Option<JemallocStats>,
    pub gzip_ok: bool,
    pub bytes: u64,
}

impl Meta {
    /// Pretty JSON, keys sorted, trailing newline.
    pub fn to_json(&self) -> String {
        let jemalloc = self.jemalloc.map(|j| {
            json!({
                "allocated": j.allocated, "active": j.active, "resident": j.resident,
                "mapped": j.mapped, "retained": j.retained, "metadata": j.metadata,
            })
        });
        let value = json!({
            "key": self.key, "pod": self.pod, "target": self.target, "pid": self.pid,
            "reason": self.reason, "unix_ms": self.unix_ms,
            "rss_anon_bytes": self.rss_anon_bytes, "baseline_bytes": self.baseline_bytes,
            "jemalloc": jemalloc, "gzip_ok": self.gzip_ok, "bytes": self.bytes,
        });
        format!("{value:#}\n")
    }

    /// Parses what [`Meta::to_json`] wrote. Never panics on any input (fuzzed).
    pub fn from_json(s: &[u8]) -> Result<Meta, SpoolError> {
        let map: Map<String, Value> =
            serde_json::from_slice(s).map_err(|e| bad_meta(format!("not a JSON object: {e}")))?;
        let text = |key: &str| match map.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(bad_meta(format!("`{key}` must be a string"))),
        };
        let opt_u64 = |key: &str| match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| bad_meta(format!("`{key}` must be an unsigned integer or null"))),
        };
        let num = |key: &str| opt_u64(key)?.ok_or_else(|| bad_meta(format!("`{key}` is missing")));
        let jemalloc = match map.get("jemalloc") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(
                heapdump::stats_from_map(m).map_err(|e| bad_meta(format!("`jemalloc`: {e}")))?,
            ),
            Some(_) => return Err(bad_meta("`jemalloc` must be an object or null".into())),
        };
        let pid = u32::try_from(num("pid")?).map_err(|_| bad_meta("`pid` is too large".into()))?;
        let Some(Value::Bool(gzip_ok)) = map.get("gzip_ok") else {
            return Err(bad_meta("`gzip_ok` must be a boolean".into()));
        };
        Ok(Meta {
            key: text("key")?,
            pod: text("pod")?,
            target: text("target")?,
            pid,
            reason: text("reason")?,
            unix_ms: num("unix_ms")?,
            rss_anon_bytes: opt_u64("rss_anon_bytes")?,
            baseline_bytes: opt_u64("baseline_bytes")?,
            jemalloc,
            gzip_ok: *gzip_ok,
            bytes: num("bytes")?,
        })
    }
}

fn bad_meta(reason: String) -> SpoolError {
    SpoolError::BadMeta { path: None, reason }
}

pub(super) fn read_meta(path: &Path) -> Result<(Meta, u64), SpoolError> {
    let mut buf = Vec::new();
    File::open(path)
        .and_then(|f| f.take(META_MAX_BYTES + 1).read_to_end(&mut buf))
        .map_err(io_err(path))?;
    let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
    if len > META_MAX_BYTES {
        return Err(SpoolError::BadMeta {
            path: Some(path.to_path_buf()),
            reason: format!("larger than {META_MAX_BYTES} bytes"),
        });
    }
    let meta = Meta::from_json(&buf).map_err(|e| match e {
        SpoolError::BadMeta { reason, .. } => SpoolError::BadMeta {
            path: Some(path.to_path_buf()),
            reason,
        },
        other => other,
    })?;
    Ok((meta, len))
}

/// Metadata for a dump whose `.json` is gone: pid and reason from the name,
/// time from the file, gzip flag from its first bytes, no key.
pub(super) fn rebuild_meta(stem: &str, dump: &Path, info: &fs::Metadata) -> Meta {
    let mut parts = stem.splitn(4, '-');
    let pid = parts.nth(2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let reason = parts.next().unwrap_or("dump").to_owned();
    let unix_ms = info
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut head = [0u8; 2];
    let gzip_ok = File::open(dump)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == [0x1f, 0x8b];
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
        gzip_ok,
        bytes: info.len(),
    }
}
