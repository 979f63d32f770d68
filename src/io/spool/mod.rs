//! The durable on-disk spool: every captured dump lands here before anything
//! tries to deliver it, and leaves only after delivery (PRODUCT §3.7).
//!
//! Layout, one flat directory (mode 0700 when we create it):
//! - `<stem>.pprof`: a complete dump, always with its metadata `<stem>.json`;
//! - `.tmp-<stem>.pprof`, `.tmp-<stem>.json`: being written, or left by a
//!   monitor that was killed mid-capture (removed by [`Spool::open`]);
//! - `<stem>.partial` + `<stem>.partial.json`: a reply that was not one
//!   complete gzip stream, kept as evidence (never uploaded; the newest
//!   [`EVIDENCE_KEPT`] are kept).
//!
//! `<stem>` = `{UTC %Y%m%dT%H%M%S}{millis:03}Z-{seq:06}-{pid}-{reason}`, so
//! names sort oldest first; `seq` is process-wide, so two dumps in the same
//! millisecond never share a name. A commit writes and fsyncs both temp files,
//! renames the metadata, renames the dump LAST, then fsyncs the directory: a
//! crash leaves either no final dump, or one with its metadata, or a final
//! metadata file beside its synced `.tmp-` dump, which `open` recovers. The
//! size cap refuses new dumps; nothing undelivered is ever deleted to make
//! room.
//!
//! One monitor per spool directory: `open` removes every other `.tmp-*` file.

use std::collections::{HashSet, VecDeque};

use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::SpoolConfig;
use crate::core::timefmt::Utc;
use crate::io::log;
use crate::sys::file::euid;

mod error;
mod lock;
mod meta;
mod shelf;
mod tidy;
mod writer;

pub use crate::core::spool_meta::Meta;
pub use error::SpoolError;
pub use shelf::QUARANTINE_DIR;
pub use writer::SpoolWriter;

use meta::{read_meta, rebuild_meta};

const TMP_PREFIX: &str = ".tmp-";
const DUMP_EXT: &str = ".pprof";
const META_EXT: &str = ".json";
const EVIDENCE_EXT: &str = ".partial";
/// Beside a dump S3 took whose delete failed: never upload it again.
const DELIVERED_EXT: &str = ".delivered";
/// Incomplete replies kept as evidence; older ones are deleted.
pub const EVIDENCE_KEPT: usize = 3;
/// How many recent S3 keys are remembered to avoid collisions.
const RECENT_KEYS: usize = 64;

/// Process-wide, so two `Spool`s on one directory still never share a name.
static SEQ: AtomicU64 = AtomicU64::new(0);

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
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
    /// Stems delivered whose files could not be removed (this run).
    delivered: Mutex<HashSet<String>>,
    /// Files of other users found at open (left alone).
    foreign: usize,
    /// The spool's `flock`, held while any handle lives.
    _lock: Arc<File>,
}

impl Spool {
    /// Creates the directory (0700) if needed, recovers a commit cut short,
    /// removes leftovers of a killed monitor (`.tmp-*`, metadata without its
    /// dump), and sums what is pending.
    ///
    /// A `SPOOL_DIR` that is a symlink, not a directory or owned by another
    /// non-root user, or that another monitor holds, is refused with an
    /// error for which [`SpoolError::is_config_error`] holds; nothing in it
    /// is touched. Files of other users are left alone, counted and logged.
    pub fn open(cfg: &SpoolConfig) -> Result<Spool, SpoolError> {
        // `a/b/` and `a/b` are one directory (and `a/b/` would follow a link).
        let dir: PathBuf = cfg.dir.components().collect();
        if fs::symlink_metadata(&dir).is_err() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(io_err(&dir))?;
        }
        lock::check_dir(&dir)?;
        let lock = lock::acquire(&dir)?;
        let foreign = foreign_files(&dir)?;
        if foreign > 0 {
            log::warn(
                "spool-foreign-files",
                &[
                    ("dir", &dir.display()),
                    ("files", &foreign),
                    (
                        "why",
                        &"owned by another user: left in place, never uploaded or deleted",
                    ),
                ],
            );
        }
        let found = tidy::tidy(&dir)?;
        SEQ.fetch_max(found.next_seq, Ordering::Relaxed);
        let used = found.used;
        let spool = Spool {
            inner: Arc::new(Inner {
                dir,
                max_bytes: cfg.max_bytes,
                used: AtomicU64::new(used),
                recent_keys: Mutex::new(VecDeque::with_capacity(RECENT_KEYS)),
                delivered: Mutex::new(HashSet::new()),
                foreign,
                _lock: lock,
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

    /// Files of other users (and links) found at open and left alone.
    pub fn foreign_files(&self) -> usize {
        self.inner.foreign
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
        SpoolWriter::create(self, stem(now, seq, pid, reason))
    }

    /// Complete dumps, oldest first, but not those delivered already (a
    /// `.delivered` mark beside them: their delete failed). A dump whose
    /// metadata cannot be read is still returned (with rebuilt metadata):
    /// nothing is ever dropped here.
    pub fn pending(&self) -> Result<Vec<Pending>, SpoolError> {
        let names = list(&self.inner.dir)?;
        let marked: HashSet<&str> = names
            .iter()
            .filter_map(|(n, _)| n.strip_suffix(DELIVERED_EXT))
            .collect();
        let delivered = self.delivered();
        let stems: Vec<&str> = names
            .iter()
            .filter(|(name, _)| !name.starts_with('.'))
            .filter_map(|(name, _)| name.strip_suffix(DUMP_EXT))
            .filter(|stem| !marked.contains(stem) && !delivered.contains(*stem))
            .collect();
        self.load_all(&self.inner.dir, stems)
    }

    /// The given stems in `dir`, sorted, as pending dumps.
    fn load_all(&self, dir: &Path, mut stems: Vec<&str>) -> Result<Vec<Pending>, SpoolError> {
        stems.sort_unstable();
        let mut out = Vec::with_capacity(stems.len());
        for stem in stems {
            if let Some(p) = load(dir, stem)? {
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
        let _ = remove_if_present(&p.dump.with_extension(&DELIVERED_EXT[1..]));
        let _ = remove_if_present(&p.dump.with_extension(&shelf::REFUSED_EXT[1..]));
        sync_dir(p.dump.parent().unwrap_or(&self.inner.dir))
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

fn load(dir: &Path, stem: &str) -> Result<Option<Pending>, SpoolError> {
    let dump = dir.join(format!("{stem}{DUMP_EXT}"));
    let meta_path = dir.join(format!("{stem}{META_EXT}"));
    let info = match fs::symlink_metadata(&dump) {
        Ok(info) => info,
        // Delivered and removed by another handle in the meantime.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&dump)(e)),
    };
    let (meta, meta_bytes) = match read_meta(&meta_path) {
        Ok(found) => found,
        Err(_) => (rebuild_meta(stem, &info), 0),
    };
    Ok(Some(Pending {
        dump,
        meta_path,
        meta,
        bytes: info.len(),
        meta_bytes,
    }))
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

/// Regular files in `dir` with UTF-8 names that this monitor's user owns,
/// and their sizes. Symlinks and other users' files are never listed, so
/// nothing here reads, uploads or deletes them.
fn list(dir: &Path) -> Result<Vec<(String, u64)>, SpoolError> {
    let me = euid();
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not ours: we only write ASCII names
        };
        match entry.metadata() {
            Ok(info) if info.is_file() && info.uid() == me => out.push((name, info.len())),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&entry.path())(e)),
        }
    }
    Ok(out)
}

/// Entries of `dir` this monitor leaves alone: other users' files, links.
fn foreign_files(dir: &Path) -> Result<usize, SpoolError> {
    let me = euid();
    let mut n = 0;
    for entry in fs::read_dir(dir).map_err(io_err(dir))?.flatten() {
        let Ok(info) = entry.metadata() else { continue };
        let ours = info.uid() == me && (info.is_file() || info.is_dir());
        if !ours && entry.file_name() != ".lock" {
            n += 1;
        }
    }
    Ok(n)
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

#[cfg(test)]
mod tests;
