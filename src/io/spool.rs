//! The durable on-disk spool: every captured dump lands here before anything
//! tries to deliver it, and leaves only after delivery (PRODUCT §3.7).
//!
//! Layout, one flat directory (mode 0700 when we create it):
//! - `<stem>.pprof`: a complete dump, always with its metadata `<stem>.json`;
//! - `.tmp-<stem>.pprof`, `.tmp-<stem>.json`: being written, or left by a
//!   monitor that was killed mid-capture (removed by [`Spool::open`]).
//!
//! `<stem>` = `{UTC %Y%m%dT%H%M%S}{millis:03}Z-{seq:06}-{pid}-{reason}`, so
//! names sort oldest first; `seq` is process-wide, so two dumps in the same
//! millisecond never share a name. A commit writes and fsyncs both temp files,
//! renames the metadata, renames the dump LAST, then fsyncs the directory: a
//! crash leaves either no final dump or one with its metadata. The size cap
//! refuses new dumps; nothing undelivered is ever deleted to make room.
//!
//! One monitor per spool directory: `open` removes every `.tmp-*` file.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::config::SpoolConfig;
use crate::core::timefmt::Utc;
use crate::io::heapdump::{self, JemallocStats};

const TMP_PREFIX: &str = ".tmp-";
const DUMP_EXT: &str = ".pprof";
const META_EXT: &str = ".json";
/// Metadata files are a few hundred bytes; anything past this is not ours.
const META_MAX_BYTES: u64 = 64 * 1024;
/// How many recent S3 keys are remembered to avoid collisions.
const RECENT_KEYS: usize = 64;

/// Process-wide, so two `Spool`s on one directory still never share a name.
static SEQ: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
pub enum SpoolError {
    /// The cap is reached; the new dump is refused.
    Full {
        dir: PathBuf,
        used: u64,
        max: u64,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
    BadMeta {
        path: Option<PathBuf>,
        reason: String,
    },
}

impl fmt::Display for SpoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpoolError::Full { dir, used, max } => write!(
                f,
                "spool full: {} holds {used} of {max} bytes (SPOOL_MAX_BYTES), refusing new dump; \
                 undelivered dumps are never deleted",
                dir.display()
            ),
            SpoolError::Io { path, source } => write!(f, "spool {}: {source}", path.display()),
            SpoolError::BadMeta {
                path: Some(path),
                reason,
            } => write!(f, "spool metadata {}: {reason}", path.display()),
            SpoolError::BadMeta { path: None, reason } => write!(f, "spool metadata: {reason}"),
        }
    }
}

impl std::error::Error for SpoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpoolError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What is known about one dump, stored as `<stem>.json` beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// S3 object key; empty when the metadata was lost (see [`Pending::key_or`]).
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

/// A complete dump waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub dump: PathBuf,
    pub meta_path: PathBuf,
    /// Read from `meta_path`, or rebuilt from the file name and the dump
    /// (with an empty `key`) when that file is missing or unreadable.
    pub meta: Meta,
    /// Size of the dump file.
    pub bytes: u64,
    meta_bytes: u64,
}

impl Pending {
    /// `meta.key`, or for a dump whose metadata was lost, a key built from
    /// its time and reason with [`object_key`].
    pub fn key_or(&self, prefix: &str, pod: &str) -> String {
        if self.meta.key.is_empty() {
            object_key(prefix, pod, self.meta.unix_ms / 1000, &self.meta.reason)
        } else {
            self.meta.key.clone()
        }
    }
}

/// A handle to the spool directory; clones share the size accounting.
#[derive(Debug, Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes in final files plus bytes written so far by open writers.
    used: AtomicU64,
    recent_keys: Mutex<VecDeque<String>>,
}

impl Spool {
    /// Creates the directory (0700) if needed, removes leftovers of a killed
    /// monitor (`.tmp-*`, metadata without its dump), and sums what is pending.
    pub fn open(cfg: &SpoolConfig) -> Result<Spool, SpoolError> {
        let dir = cfg.dir.clone();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err(&dir))?;
        let names = list(&dir)?;
        let dumps: HashSet<&str> = names
            .iter()
            .filter_map(|(name, _)| name.strip_suffix(DUMP_EXT))
            .collect();
        let mut used: u64 = 0;
        for (name, len) in &names {
            let path = dir.join(name);
            let orphan_meta = name
                .strip_suffix(META_EXT)
                .is_some_and(|stem| !dumps.contains(stem));
            if name.starts_with(TMP_PREFIX) || orphan_meta {
                remove_if_present(&path)?;
            } else if name.ends_with(DUMP_EXT) || name.ends_with(META_EXT) {
                used = used.saturating_add(*len);
                if let Some(seq) = name.split('-').nth(1).and_then(|s| s.parse::<u64>().ok()) {
                    SEQ.fetch_max(seq.saturating_add(1), Ordering::Relaxed);
                }
            }
        }
        let spool = Spool {
            inner: Arc::new(Inner {
                dir,
                max_bytes: cfg.max_bytes,
                used: AtomicU64::new(used),
                recent_keys: Mutex::new(VecDeque::with_capacity(RECENT_KEYS)),
            }),
        };
        let pending = spool.pending()?;
        for p in pending.iter().rev().take(RECENT_KEYS).rev() {
            if !p.meta.key.is_empty() {
                spool.unique_key(p.meta.key.clone());
            }
        }
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Bytes held: pending dumps and metadata plus dumps being written.
    pub fn used_bytes(&self) -> u64 {
        self.inner.used.load(Ordering::Relaxed)
    }

    pub fn max_bytes(&self) -> u64 {
        self.inner.max_bytes
    }

    /// Starts a dump: refuses with [`SpoolError::Full`] when the spool is at
    /// its cap, else returns a writer to a fresh temp file (created with
    /// `O_EXCL`, mode 0600).
    pub fn begin(
        &self,
        pid: u32,
        reason: &str,
        now: SystemTime,
    ) -> Result<SpoolWriter, SpoolError> {
        let used = self.used_bytes();
        if used >= self.inner.max_bytes {
            return Err(self.full(used));
        }
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let stem = stem(now, seq, pid, reason);
        let tmp = self.inner.dir.join(format!("{TMP_PREFIX}{stem}{DUMP_EXT}"));
        let file = create_new(&tmp)?;
        Ok(SpoolWriter {
            spool: self.clone(),
            file,
            tmp,
            stem,
            written: 0,
            committed: false,
        })
    }

    /// Complete dumps, oldest first. A dump whose metadata cannot be read is
    /// still returned (with rebuilt metadata): nothing is ever dropped here.
    pub fn pending(&self) -> Result<Vec<Pending>, SpoolError> {
        let mut stems: Vec<String> = list(&self.inner.dir)?
            .into_iter()
            .filter(|(name, _)| !name.starts_with('.'))
            .filter_map(|(name, _)| name.strip_suffix(DUMP_EXT).map(str::to_owned))
            .collect();
        stems.sort_unstable();
        let mut out = Vec::with_capacity(stems.len());
        for stem in stems {
            if let Some(p) = self.load(&stem)? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Deletes a delivered dump (dump first, so a crash leaves an orphan
    /// metadata file that `open` cleans up) and gives back its bytes.
    pub fn remove(&self, p: &Pending) -> Result<(), SpoolError> {
        let mut freed = 0;
        if remove_if_present(&p.dump)? {
            freed += p.bytes;
        }
        if remove_if_present(&p.meta_path)? {
            freed += p.meta_bytes;
        }
        self.release(freed);
        sync_dir(&self.inner.dir)
    }

    /// `key`, or `key` with `-2`, `-3`, ... before `.pprof` when a recent dump
    /// already used it; remembers the result.
    pub fn unique_key(&self, key: String) -> String {
        let mut recent = self
            .inner
            .recent_keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut candidate = key.clone();
        // At most RECENT_KEYS keys are remembered, so one of RECENT_KEYS + 1
        // candidates is free and the loop ends.
        for n in 2..=RECENT_KEYS + 2 {
            if !recent.contains(&candidate) {
                break;
            }
            candidate = match key.strip_suffix(DUMP_EXT) {
                Some(base) => format!("{base}-{n}{DUMP_EXT}"),
                None => format!("{key}-{n}"),
            };
        }
        if recent.len() >= RECENT_KEYS {
            recent.pop_front();
        }
        recent.push_back(candidate.clone());
        candidate
    }

    fn load(&self, stem: &str) -> Result<Option<Pending>, SpoolError> {
        let dump = self.inner.dir.join(format!("{stem}{DUMP_EXT}"));
        let meta_path = self.inner.dir.join(format!("{stem}{META_EXT}"));
        let info = match fs::symlink_metadata(&dump) {
            Ok(info) => info,
            // Delivered and removed by another handle in the meantime.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&dump)(e)),
        };
        let (meta, meta_bytes) = match read_meta(&meta_path) {
            Ok(found) => found,
            Err(_) => (rebuild_meta(stem, &dump, &info), 0),
        };
        Ok(Some(Pending {
            dump,
            meta_path,
            meta,
            bytes: info.len(),
            meta_bytes,
        }))
    }

    /// Adds `n` bytes unless that would pass the cap.
    fn reserve(&self, n: u64) -> Result<(), SpoolError> {
        let max = self.inner.max_bytes;
        self.inner
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|&total| total <= max)
            })
            .map(drop)
            .map_err(|used| self.full(used))
    }

    fn release(&self, n: u64) {
        let _ = self
            .inner
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(n))
            });
    }

    fn full(&self, used: u64) -> SpoolError {
        SpoolError::Full {
            dir: self.inner.dir.clone(),
            used,
            max: self.inner.max_bytes,
        }
    }
}

/// Writes one dump to its temp file. Dropping it without [`commit`] removes
/// the temp file, so a failed capture leaves nothing behind.
///
/// [`commit`]: SpoolWriter::commit
#[derive(Debug)]
pub struct SpoolWriter {
    spool: Spool,
    file: File,
    tmp: PathBuf,
    stem: String,
    written: u64,
    committed: bool,
}

impl Write for SpoolWriter {
    /// Fails with an `io::Error` wrapping [`SpoolError::Full`] when these
    /// bytes would pass the spool cap.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let want = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        self.spool.reserve(want).map_err(io::Error::other)?;
        match self.file.write(buf) {
            Ok(n) => {
                let n = u64::try_from(n).unwrap_or(want);
                self.spool.release(want.saturating_sub(n));
                self.written = self.written.saturating_add(n);
                usize::try_from(n).map_err(io::Error::other)
            }
            Err(e) => {
                self.spool.release(want);
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl SpoolWriter {
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the dump final with its metadata; `meta.bytes` is set to the
    /// bytes written. `meta.key` is stored as given: get it from
    /// [`Spool::unique_key`] so two dumps in the same second differ.
    pub fn commit(mut self, mut meta: Meta) -> Result<Pending, SpoolError> {
        let dir = self.spool.inner.dir.clone();
        let meta_tmp = dir.join(format!("{TMP_PREFIX}{}{META_EXT}", self.stem));
        let dump = dir.join(format!("{}{DUMP_EXT}", self.stem));
        let meta_path = dir.join(format!("{}{META_EXT}", self.stem));
        meta.bytes = self.written;
        let json = meta.to_json();
        let result = self
            .file
            .sync_all()
            .map_err(io_err(&self.tmp))
            .and_then(|()| write_synced(&meta_tmp, json.as_bytes()))
            .and_then(|()| fs::rename(&meta_tmp, &meta_path).map_err(io_err(&meta_path)))
            .and_then(|()| {
                fs::rename(&self.tmp, &dump).map_err(|e| {
                    let _ = fs::remove_file(&meta_path);
                    io_err(&dump)(e)
                })
            });
        if let Err(e) = result {
            let _ = fs::remove_file(&meta_tmp);
            return Err(e); // Drop removes the dump temp and releases its bytes.
        }
        self.committed = true;
        let meta_bytes = u64::try_from(json.len()).unwrap_or(0);
        self.spool
            .inner
            .used
            .fetch_add(meta_bytes, Ordering::Relaxed);
        // The dump is final and visible whatever happens next; a failed
        // directory fsync only weakens durability across a power cut.
        let _ = sync_dir(&dir);
        Ok(Pending {
            dump,
            meta_path,
            meta,
            bytes: self.written,
            meta_bytes,
        })
    }

    /// Drops the dump (same as dropping the writer).
    pub fn abort(self) {}
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
            self.spool.release(self.written);
        }
    }
}

/// `{prefix}{pod}-{UTC %Y-%m-%d-%H-%M-%S}-{reason}.pprof`, the drop-in key.
pub fn object_key(prefix: &str, pod: &str, unix_secs: u64, reason: &str) -> String {
    let time = Utc::from_unix_ms(unix_secs.saturating_mul(1000)).key();
    format!("{prefix}{pod}-{time}-{reason}{DUMP_EXT}")
}

fn stem(now: SystemTime, seq: u64, pid: u32, reason: &str) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let t = Utc::from_unix_ms(u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
    let reason: String = reason
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let reason = if reason.is_empty() {
        "dump".to_owned()
    } else {
        reason
    };
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}{:03}Z-{seq:06}-{pid}-{reason}",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis
    )
}

/// Regular files in `dir` with UTF-8 names, and their sizes.
fn list(dir: &Path) -> Result<Vec<(String, u64)>, SpoolError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not ours: we only write ASCII names
        };
        match entry.metadata() {
            Ok(info) if info.is_file() => out.push((name, info.len())),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&entry.path())(e)),
        }
    }
    Ok(out)
}

fn create_new(path: &Path) -> Result<File, SpoolError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), SpoolError> {
    let mut file = create_new(path)?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(io_err(path))
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// True when the file was there and is now gone.
fn remove_if_present(path: &Path) -> Result<bool, SpoolError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn read_meta(path: &Path) -> Result<(Meta, u64), SpoolError> {
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
fn rebuild_meta(stem: &str, dump: &Path, info: &fs::Metadata) -> Meta {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_meta() -> Meta {
        Meta {
            key: "dumps/pod-a-2023-11-14-22-13-20-slow-leak.pprof".into(),
            pod: "pod-a".into(),
            target: "my \"service\"\n".into(),
            pid: 4242,
            reason: "slow-leak".into(),
            unix_ms: 1_700_000_000_123,
            rss_anon_bytes: Some(734_003_200),
            baseline_bytes: None,
            jemalloc: Some(JemallocStats {
                allocated: 1,
                active: 2,
                resident: 3,
                mapped: 4,
                retained: 5,
                metadata: 6,
            }),
            gzip_ok: true,
            bytes: 98_765,
        }
    }

    #[test]
    fn meta_json_round_trips() {
        let meta = sample_meta();
        assert_eq!(Meta::from_json(meta.to_json().as_bytes()).unwrap(), meta);
        let bare = Meta {
            jemalloc: None,
            rss_anon_bytes: None,
            ..sample_meta()
        };
        assert_eq!(Meta::from_json(bare.to_json().as_bytes()).unwrap(), bare);
    }

    #[test]
    fn meta_json_is_the_expected_text() {
        let text = Meta {
            jemalloc: None,
            target: "svc".into(),
            ..sample_meta()
        }
        .to_json();
        let expected = r#"{
  "baseline_bytes": null,
  "bytes": 98765,
  "gzip_ok": true,
  "jemalloc": null,
  "key": "dumps/pod-a-2023-11-14-22-13-20-slow-leak.pprof",
  "pid": 4242,
  "pod": "pod-a",
  "reason": "slow-leak",
  "rss_anon_bytes": 734003200,
  "target": "svc",
  "unix_ms": 1700000000123
}
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn every_truncated_prefix_of_meta_is_an_error_not_a_panic() {
        let json = sample_meta().to_json();
        let bytes = json.trim_end().as_bytes();
        for end in 0..bytes.len() {
            assert!(
                Meta::from_json(&bytes[..end]).is_err(),
                "prefix {end} parsed"
            );
        }
    }

    #[test]
    fn bad_meta_names_the_field() {
        let mut json: Value = serde_json::from_str(&sample_meta().to_json()).unwrap();
        json["key"] = json!(1);
        let err = Meta::from_json(json.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "spool metadata: `key` must be a string");
        json["key"] = json!("k");
        json["pid"] = json!(u64::MAX);
        let err = Meta::from_json(json.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "spool metadata: `pid` is too large");
        json["pid"] = json!(1);
        json["jemalloc"] = json!({"allocated": "lots"});
        let err = Meta::from_json(json.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "spool metadata: `jemalloc`: `allocated` is not an unsigned integer"
        );
    }

    #[test]
    fn object_key_is_the_drop_in_format() {
        assert_eq!(
            object_key("dumps/", "api-7f9c", 1_700_000_000, "spike"),
            "dumps/api-7f9c-2023-11-14-22-13-20-spike.pprof"
        );
        assert_eq!(
            object_key("", "p", 0, "baseline"),
            "p-1970-01-01-00-00-00-baseline.pprof"
        );
    }

    #[test]
    fn stem_sorts_by_time_then_sequence_and_sanitises_the_reason() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_007);
        assert_eq!(
            stem(t, 12, 77, "slow-leak"),
            "20231114T221320007Z-000012-77-slow-leak"
        );
        assert_eq!(
            stem(t, 1, 77, "../x y"),
            "20231114T221320007Z-000001-77-___x_y"
        );
        assert_eq!(stem(t, 1, 77, ""), "20231114T221320007Z-000001-77-dump");
        assert!(stem(t, 9, 1, "z") < stem(t, 10, 1, "a"));
    }
}
