//! The one bounded file reader: small files (metadata, tokens, profiles,
//! CA bundles, pidfiles) are read whole but never past a cap, so a hostile
//! or runaway file cannot grow memory.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Reads `path` whole; `InvalidData` when it holds more than `cap` bytes.
/// Follows symlinks (Kubernetes mounts tokens through them).
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    read_capped_from(File::open(path)?, cap)
}

/// Reads `reader` to its end; `InvalidData` past `cap` bytes.
pub fn read_capped_from(reader: impl Read, cap: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).map_or(true, |len| len > cap) {
        let msg = format!("larger than {cap} bytes");
        return Err(io::Error::new(io::ErrorKind::InvalidData, msg));
    }
    Ok(bytes)
}

/// Opens an existing file for reading without following a symlink in its
/// last component (`ELOOP` then).
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_cap_and_symlinks_when_asked() {
        let dir = std::env::temp_dir().join(format!("mm-capped-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_capped(&file, 5).unwrap(), b"12345");
        let err = read_capped(&file, 4).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "larger than 4 bytes");
        let link = dir.join("l");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_capped(&link, 5).unwrap(), b"12345");
        let err = open_nofollow(&link).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        assert!(open_nofollow(&file).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
