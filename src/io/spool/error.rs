//! [`SpoolError`]: what can go wrong in the spool, by what the caller does
//! next (refuse the dump, count an I/O error, report a broken reply).

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::core::event::CaptureFailure;
use crate::core::gzip::GzipError;

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
    /// SPOOL_DIR is not ours to use (a symlink, not a directory, owned by
    /// another non-root user): a configuration error; nothing was touched.
    NotOurs {
        dir: PathBuf,
        why: String,
    },
    /// Another monitor holds the spool's lock (`holder`: its pid, if known).
    InUse {
        dir: PathBuf,
        holder: Option<u32>,
    },
    /// The reply is not one complete gzip stream: refused as a dump, kept
    /// as evidence at `evidence` (when that worked).
    Incomplete {
        evidence: Option<PathBuf>,
        cause: GzipError,
    },
}

impl SpoolError {
    /// A configuration error: the monitor exits 2 before anything starts.
    pub fn is_config_error(&self) -> bool {
        matches!(self, SpoolError::NotOurs { .. } | SpoolError::InUse { .. })
    }

    /// The capture failure this is (`core::event` vocabulary).
    pub fn capture_failure(&self) -> CaptureFailure {
        match self {
            SpoolError::Full { .. } => CaptureFailure::SpoolFull,
            SpoolError::Io { .. }
            | SpoolError::BadMeta { .. }
            | SpoolError::NotOurs { .. }
            | SpoolError::InUse { .. } => CaptureFailure::Io,
            SpoolError::Incomplete { cause, .. } => cause.failure(),
        }
    }
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
            SpoolError::NotOurs { dir, why } => write!(
                f,
                "SPOOL_DIR {}: {why}; refusing to use it (nothing in it was touched)",
                dir.display()
            ),
            SpoolError::InUse { dir, holder } => {
                write!(
                    f,
                    "SPOOL_DIR {}: in use by another memory-monitor",
                    dir.display()
                )?;
                if let Some(pid) = holder {
                    write!(f, " (pid {pid})")?;
                }
                f.write_str("; give each monitor its own SPOOL_DIR")
            }
            SpoolError::BadMeta {
                path: Some(path),
                reason,
            } => write!(f, "spool metadata {}: {reason}", path.display()),
            SpoolError::BadMeta { path: None, reason } => write!(f, "spool metadata: {reason}"),
            SpoolError::Incomplete {
                evidence: Some(path),
                cause,
            } => write!(
                f,
                "dump refused: {cause} (kept as evidence at {}, not uploaded)",
                path.display()
            ),
            SpoolError::Incomplete {
                evidence: None,
                cause,
            } => write!(f, "dump refused: {cause}"),
        }
    }
}

impl std::error::Error for SpoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpoolError::Io { source, .. } => Some(source),
            SpoolError::Incomplete { cause, .. } => Some(cause),
            _ => None,
        }
    }
}
