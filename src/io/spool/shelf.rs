//! Dumps that are not simply pending: refused by S3 for good (moved to the
//! `quarantine/` folder, retried rarely), delivered but not deleted (marked
//! `.delivered`, never sent again), and incomplete replies kept as evidence.

use std::collections::HashSet;
use std::fs::{self, DirBuilder};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use super::lock::{check_dir, is_own_dir};
use super::writer::create_new;
use super::{
    io_err, list, remove_if_present, sync_dir, Pending, Spool, SpoolError, DELIVERED_EXT, DUMP_EXT,
    EVIDENCE_EXT, EVIDENCE_KEPT, META_EXT,
};

/// The sub-folder of the spool where refused dumps wait.
pub const QUARANTINE_DIR: &str = "quarantine";
/// Beside a quarantined dump: what S3 said, for the human who looks.
pub(super) const REFUSED_EXT: &str = ".refused";

impl Spool {
    /// The quarantine folder (created 0700 by the first quarantine).
    pub fn quarantine_dir(&self) -> PathBuf {
        self.inner.dir.join(QUARANTINE_DIR)
    }

    /// Moves a dump S3 refused for good (and its metadata) to the
    /// quarantine folder, with `why` beside it; returns it at its new place.
    /// The bytes stay counted: a quarantined dump is still undelivered.
    pub fn quarantine(&self, p: &Pending, why: &str) -> Result<Pending, SpoolError> {
        self.make_quarantine_dir()?;
        let qdir = self.quarantine_dir();
        let name = |path: &std::path::Path| path.file_name().map(|n| qdir.join(n));
        let (Some(dump), Some(meta_path)) = (name(&p.dump), name(&p.meta_path)) else {
            return Err(io_err(&p.dump)(std::io::ErrorKind::InvalidInput.into()));
        };
        let refused = dump.with_extension(&REFUSED_EXT[1..]);
        // Best effort: the reason is also logged.
        if let Ok(mut f) = create_new(&refused) {
            let _ = f.write_all(format!("{why}\n").as_bytes());
        }
        // Metadata first: a crash in between leaves a dump without its
        // metadata at the top (still delivered, with a rebuilt key), never
        // metadata that `open` would take for an orphan.
        if p.meta_path.exists() {
            fs::rename(&p.meta_path, &meta_path).map_err(io_err(&meta_path))?;
        }
        fs::rename(&p.dump, &dump).map_err(io_err(&dump))?;
        let _ = sync_dir(&self.inner.dir);
        let _ = sync_dir(&qdir);
        Ok(Pending {
            dump,
            meta_path,
            ..p.clone()
        })
    }

    /// Quarantined dumps, oldest first.
    pub fn quarantined(&self) -> Result<Vec<Pending>, SpoolError> {
        let qdir = self.quarantine_dir();
        if !is_own_dir(&qdir) {
            return Ok(Vec::new()); // none yet, or not ours to read
        }
        let names = list(&qdir)?;
        let stems: Vec<&str> = names
            .iter()
            .filter(|(name, _)| !name.starts_with('.'))
            .filter_map(|(name, _)| name.strip_suffix(DUMP_EXT))
            .collect();
        self.load_all(&qdir, stems)
    }

    /// Number of quarantined dumps (for the metric).
    pub fn quarantined_count(&self) -> usize {
        let qdir = self.quarantine_dir();
        if !is_own_dir(&qdir) {
            return 0;
        }
        list(&qdir).map_or(0, |names| {
            names.iter().filter(|(n, _)| n.ends_with(DUMP_EXT)).count()
        })
    }

    /// Records that S3 took `p` although its files could not be removed:
    /// it is never returned by [`Spool::pending`] again — in this run from
    /// memory, across restarts by a `.delivered` mark beside it (written
    /// best effort; the error says when even that failed).
    pub fn mark_delivered(&self, p: &Pending) -> Result<(), SpoolError> {
        if let Some(stem) = p
            .dump
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(DUMP_EXT))
        {
            self.inner
                .delivered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(stem.to_owned());
        }
        let mark = p.dump.with_extension(&DELIVERED_EXT[1..]);
        create_new(&mark).map(drop)
    }

    pub(super) fn delivered(&self) -> HashSet<String> {
        self.inner
            .delivered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Creates the quarantine folder (0700) if it is missing.
    pub(super) fn make_quarantine_dir(&self) -> Result<(), SpoolError> {
        let qdir = self.quarantine_dir();
        match DirBuilder::new().mode(0o700).create(&qdir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_dir(&qdir),
            Err(e) => Err(io_err(&qdir)(e)),
        }
    }

    /// Deletes all but the newest [`EVIDENCE_KEPT`] `.partial` files (and
    /// their metadata), giving back their bytes. Best effort.
    pub(super) fn prune_evidence(&self) {
        let Ok(names) = list(&self.inner.dir) else {
            return;
        };
        let mut evidence: Vec<(String, u64)> = names
            .into_iter()
            .filter(|(n, _)| !n.starts_with('.') && n.ends_with(EVIDENCE_EXT))
            .collect();
        evidence.sort_unstable();
        let old = evidence.len().saturating_sub(EVIDENCE_KEPT);
        for (name, len) in evidence.into_iter().take(old) {
            let path = self.inner.dir.join(&name);
            let meta = self.inner.dir.join(format!("{name}{META_EXT}"));
            let meta_len = fs::symlink_metadata(&meta).map_or(0, |m| m.len());
            if matches!(remove_if_present(&path), Ok(true)) {
                self.release(len);
            }
            if matches!(remove_if_present(&meta), Ok(true)) {
                self.release(meta_len);
            }
        }
    }
}

/// Suffixes of files that belong to a quarantined dump.
pub(super) const QUARANTINE_EXTS: [&str; 3] = [DUMP_EXT, META_EXT, REFUSED_EXT];
