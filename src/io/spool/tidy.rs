//! What [`Spool::open`](super::Spool::open) does to a directory left by an
//! earlier run: recover commits cut short, remove temp files and orphans,
//! and add up what stays.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use super::shelf::QUARANTINE_EXTS;
use super::{
    io_err, list, read_meta, remove_if_present, SpoolError, DELIVERED_EXT, DUMP_EXT, EVIDENCE_EXT,
    META_EXT, QUARANTINE_DIR, TMP_PREFIX,
};
use crate::io::log;

/// What was found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tidied {
    /// Bytes of the files that stay.
    pub used: u64,
    /// The highest sequence number seen, plus one.
    pub next_seq: u64,
}

/// Recovers, finishes deletes, cleans, then sums (the quarantine folder
/// too). Only regular files with our names are looked at.
pub(super) fn tidy(dir: &Path) -> Result<Tidied, SpoolError> {
    for (name, len) in list(dir)? {
        if let Some(stem) = name
            .strip_prefix(TMP_PREFIX)
            .and_then(|n| n.strip_suffix(DUMP_EXT))
        {
            recover(dir, stem, len)?;
        } else if let Some(stem) = name.strip_suffix(DELIVERED_EXT) {
            finish_delete(dir, stem);
        }
    }
    let names = list(dir)?;
    let present: HashSet<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    let mut found = Tidied::default();
    for (name, len) in &names {
        let orphan_meta = name.strip_suffix(META_EXT).is_some_and(|owner| {
            let dump = format!("{owner}{DUMP_EXT}");
            !(present.contains(dump.as_str())
                || owner.ends_with(EVIDENCE_EXT) && present.contains(owner))
        });
        if name.starts_with(TMP_PREFIX) || orphan_meta {
            remove_if_present(&dir.join(name))?;
        } else if [DUMP_EXT, META_EXT, EVIDENCE_EXT]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            found.used = found.used.saturating_add(*len);
            if let Some(seq) = name.split('-').nth(1).and_then(|s| s.parse::<u64>().ok()) {
                found.next_seq = found.next_seq.max(seq.saturating_add(1));
            }
        }
    }
    found.used = found
        .used
        .saturating_add(quarantined_bytes(&dir.join(QUARANTINE_DIR))?);
    Ok(found)
}

/// A dump S3 took whose delete failed last time: delete it now; the mark
/// goes last, once nothing of it is left.
fn finish_delete(dir: &Path, stem: &str) {
    let dump = dir.join(format!("{stem}{DUMP_EXT}"));
    let meta = dir.join(format!("{stem}{META_EXT}"));
    if remove_if_present(&dump).is_ok() && remove_if_present(&meta).is_ok() {
        let _ = remove_if_present(&dir.join(format!("{stem}{DELIVERED_EXT}")));
    }
}

/// Bytes of the quarantined files; temp files there are removed.
fn quarantined_bytes(qdir: &Path) -> Result<u64, SpoolError> {
    if !super::lock::is_own_dir(qdir) {
        return Ok(0); // none yet, or not ours to touch
    }
    let names = list(qdir)?;
    let mut used: u64 = 0;
    for (name, len) in names {
        if name.starts_with(TMP_PREFIX) {
            remove_if_present(&qdir.join(&name))?;
        } else if QUARANTINE_EXTS.iter().any(|ext| name.ends_with(ext)) {
            used = used.saturating_add(len);
        }
    }
    Ok(used)
}

/// A `.tmp-<stem>.pprof` beside a final `<stem>.json`: the commit synced the
/// dump, wrote its metadata and was cut short before the last rename. The
/// dump is complete when its size is the one the metadata records.
fn recover(dir: &Path, stem: &str, len: u64) -> Result<(), SpoolError> {
    let meta_path = dir.join(format!("{stem}{META_EXT}"));
    let dump = dir.join(format!("{stem}{DUMP_EXT}"));
    let tmp = dir.join(format!("{TMP_PREFIX}{stem}{DUMP_EXT}"));
    if dump.exists() {
        return Ok(());
    }
    let Ok((meta, _)) = read_meta(&meta_path) else {
        return Ok(()); // no metadata: an unfinished capture, removed by tidy
    };
    if meta.bytes != len || meta.sha256.is_none() {
        return Ok(());
    }
    fs::rename(&tmp, &dump).map_err(io_err(&dump))?;
    log::warn(
        "spool-recovered",
        &[
            ("file", &dump.display()),
            ("key", &meta.key),
            ("bytes", &len),
            ("why", &"a commit was cut short before its last rename"),
        ],
    );
    Ok(())
}
