//! [`SpoolWriter`]: one dump being written to its temp file, made final
//! by an atomic rename on commit.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::{io_err, sync_dir, Meta, Pending, Spool, SpoolError, DUMP_EXT, META_EXT, TMP_PREFIX};

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
        })
    }

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
