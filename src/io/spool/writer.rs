//! [`SpoolWriter`]: one dump being written to its temp file. Every byte also
//! goes through the gzip verifier and SHA-256 on its way; a commit makes a
//! verified dump final by atomic renames, and keeps an incomplete one as
//! evidence under `<stem>.partial`, never under the `.pprof` name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use ring::digest;

use super::{
    io_err, sync_dir, Meta, Pending, Spool, SpoolError, DUMP_EXT, EVIDENCE_EXT, META_EXT,
    TMP_PREFIX,
};
use crate::core::gzip::GzipCheck;
use crate::core::hex::hex;

/// Writes one dump to its temp file. Dropping it without [`commit`] removes
/// the temp file, so a failed capture leaves nothing behind.
///
/// [`commit`]: SpoolWriter::commit
pub struct SpoolWriter {
    spool: Spool,
    file: File,
    tmp: PathBuf,
    stem: String,
    written: u64,
    committed: bool,
    gzip: GzipCheck,
    sha256: digest::Context,
}

impl std::fmt::Debug for SpoolWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolWriter")
            .field("tmp", &self.tmp)
            .field("written", &self.written)
            .field("gzip", &self.gzip)
            .finish_non_exhaustive()
    }
}

impl Write for SpoolWriter {
    /// Fails with an `io::Error` wrapping [`SpoolError::Full`] when these
    /// bytes would pass the spool cap.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let want = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        self.spool.reserve(want).map_err(io::Error::other)?;
        match self.file.write(buf) {
            Ok(n) => {
                let wrote = buf.get(..n).unwrap_or(buf);
                self.gzip.update(wrote);
                self.sha256.update(wrote);
                let n64 = u64::try_from(n).unwrap_or(want);
                self.spool.release(want.saturating_sub(n64));
                self.written = self.written.saturating_add(n64);
                Ok(n)
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
    /// A writer to a fresh temp file for `stem` (created with `O_EXCL`,
    /// mode 0600).
    pub(super) fn create(spool: &Spool, stem: String) -> Result<SpoolWriter, SpoolError> {
        let tmp = spool
            .inner
            .dir
            .join(format!("{TMP_PREFIX}{stem}{DUMP_EXT}"));
        let file = create_new(&tmp)?;
        Ok(SpoolWriter {
            spool: spool.clone(),
            file,
            tmp,
            stem,
            written: 0,
            committed: false,
            gzip: GzipCheck::new(),
            sha256: digest::Context::new(&digest::SHA256),
        })
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the dump final with its metadata; `meta.bytes` and
    /// `meta.sha256` are set from what was written. `meta.key` is stored as
    /// given: get it from [`Spool::unique_key`] so two dumps in the same
    /// second differ.
    ///
    /// A stream that is not one complete gzip stream is refused with
    /// [`SpoolError::Incomplete`]: it is kept as `<stem>.partial` (with its
    /// metadata as `<stem>.partial.json`), never uploaded, and only the
    /// newest [`EVIDENCE_KEPT`](super::EVIDENCE_KEPT) such files are kept.
    pub fn commit(mut self, mut meta: Meta) -> Result<Pending, SpoolError> {
        meta.bytes = self.written;
        if let Err(cause) = self.gzip.finish() {
            meta.sha256 = None;
            let evidence = self.keep_evidence(&meta);
            return Err(SpoolError::Incomplete { evidence, cause });
        }
        meta.sha256 = Some(hex(self.sha256.clone().finish().as_ref()));
        let dir = self.spool.inner.dir.clone();
        let dump = dir.join(format!("{}{DUMP_EXT}", self.stem));
        let meta_path = dir.join(format!("{}{META_EXT}", self.stem));
        let json = meta.to_json();
        // Dump synced before its metadata is final: a metadata file beside a
        // `.tmp-` dump proves that dump complete (see `Spool::open`).
        let result = self
            .file
            .sync_all()
            .map_err(io_err(&self.tmp))
            .and_then(|()| self.write_final(&meta_path, json.as_bytes()))
            .and_then(|()| {
                fs::rename(&self.tmp, &dump).map_err(|e| {
                    let _ = fs::remove_file(&meta_path);
                    io_err(&dump)(e)
                })
            });
        // On error, Drop removes the dump temp and releases its bytes.
        result?;
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

    /// Writes `data` to a temp file, syncs it and renames it to `path`.
    fn write_final(&self, path: &Path, data: &[u8]) -> Result<(), SpoolError> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("meta");
        let tmp = self.spool.inner.dir.join(format!("{TMP_PREFIX}{name}"));
        let result =
            write_synced(&tmp, data).and_then(|()| fs::rename(&tmp, path).map_err(io_err(path)));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Moves the temp file to `<stem>.partial` with its metadata; `None`
    /// when that failed (Drop then removes the temp file).
    fn keep_evidence(&mut self, meta: &Meta) -> Option<PathBuf> {
        let dir = self.spool.inner.dir.clone();
        let partial = dir.join(format!("{}{EVIDENCE_EXT}", self.stem));
        let partial_meta = dir.join(format!("{}{EVIDENCE_EXT}{META_EXT}", self.stem));
        let json = meta.to_json();
        self.write_final(&partial_meta, json.as_bytes()).ok()?;
        if fs::rename(&self.tmp, &partial).is_err() {
            let _ = fs::remove_file(&partial_meta);
            return None;
        }
        self.committed = true;
        let meta_bytes = u64::try_from(json.len()).unwrap_or(0);
        self.spool
            .inner
            .used
            .fetch_add(meta_bytes, Ordering::Relaxed);
        self.spool.prune_evidence();
        let _ = sync_dir(&dir);
        Some(partial)
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
            self.spool.release(self.written);
        }
    }
}

pub(super) fn create_new(path: &Path) -> Result<File, SpoolError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_err(path))
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), SpoolError> {
    let mut file = create_new(path)?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(io_err(path))
}
