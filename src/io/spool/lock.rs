//! The spool is the monitor's own: the directory is checked before anything
//! in it is touched (not a symlink, a directory, owned by this user or root)
//! and an exclusive `flock` on `.lock` is held for the process's life, so a
//! second monitor on the same spool is refused. Handles opened again in the
//! same process share the one lock.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::{io_err, SpoolError};
use crate::sys::file::{euid, try_lock_exclusive};

const LOCK_NAME: &str = ".lock";

/// Locks held by this process, by spool directory.
static HELD: Mutex<Vec<(PathBuf, Weak<File>)>> = Mutex::new(Vec::new());

/// Refuses a directory that is not ours to use.
pub(super) fn check_dir(dir: &Path) -> Result<(), SpoolError> {
    let not_ours = |why: String| SpoolError::NotOurs {
        dir: dir.to_path_buf(),
        why,
    };
    let info = fs::symlink_metadata(dir).map_err(io_err(dir))?;
    if info.file_type().is_symlink() {
        return Err(not_ours("is a symbolic link".into()));
    }
    if !info.is_dir() {
        return Err(not_ours("is not a directory".into()));
    }
    let me = euid();
    let owner = info.uid();
    if owner != me && owner != 0 {
        return Err(not_ours(format!(
            "owned by uid {owner}, not by this monitor's user (uid {me}) or root"
        )));
    }
    Ok(())
}

/// `path` is a directory (not a link) this monitor may use.
pub(super) fn is_own_dir(path: &Path) -> bool {
    check_dir(path).is_ok()
}

/// Takes the spool's lock (or shares this process's) and writes our pid
/// in it. The lock lasts as long as the returned handle.
pub(super) fn acquire(dir: &Path) -> Result<Arc<File>, SpoolError> {
    let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
    held.retain(|(_, lock)| lock.strong_count() > 0);
    if let Some(lock) = held
        .iter()
        .find(|(d, _)| d == dir)
        .and_then(|(_, lock)| lock.upgrade())
    {
        return Ok(lock);
    }
    let path = dir.join(LOCK_NAME);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(io_err(&path))?;
    if !try_lock_exclusive(&file).map_err(io_err(&path))? {
        let mut text = String::new();
        let _ = (&file).take(32).read_to_string(&mut text);
        return Err(SpoolError::InUse {
            dir: dir.to_path_buf(),
            holder: text.trim().parse().ok(),
        });
    }
    let pid = format!("{}\n", std::process::id());
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(pid.as_bytes()))
        .map_err(io_err(&path))?;
    let lock = Arc::new(file);
    held.push((dir.to_path_buf(), Arc::downgrade(&lock)));
    Ok(lock)
}
