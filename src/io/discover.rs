//! Finding targets: by name (comm with its 15-byte truncation, exe file name
//! or argv[0] file name), by pid or by pidfile. Runs only while looking for a
//! target, never on a healthy tick.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::config::TargetSpec;
use crate::io::procfs;

/// Linux truncates `comm` to 15 bytes (TASK_COMM_LEN - 1).
const COMM_LEN: usize = 15;

/// One process incarnation: the pid and its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Incarnation {
    pub pid: u32,
    pub starttime: u64,
}

/// Whether a process with these names is the target called `name`.
/// A comm equal to the name matches only when the name fits in comm; a
/// longer name must match the exe or argv[0] file name (a truncated comm
/// alone would also match other processes sharing the first 15 bytes).
pub fn name_matches(name: &str, comm: &str, exe: Option<&str>, argv0: Option<&str>) -> bool {
    if name.len() <= COMM_LEN && comm == name {
        return true;
    }
    exe == Some(name) || argv0 == Some(name)
}

/// A matching process: its incarnation and its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub inc: Incarnation,
    pub ppid: u32,
}

/// The live processes matching `spec`, excluding ourselves. Zombies are
/// not targets: they have exited and their memory is gone.
pub fn find(spec: &TargetSpec) -> io::Result<Vec<Found>> {
    let me = std::process::id();
    let pids: Vec<u32> = match spec {
        TargetSpec::Pid(p) => vec![*p],
        TargetSpec::PidFile(path) => vec![read_pidfile(path)?],
        TargetSpec::Name(name) => procfs::pids()?
            .into_iter()
            .filter(|&pid| pid != me && process_named(pid, name))
            .collect(),
    };
    Ok(pids
        .into_iter()
        .filter_map(|pid| {
            let stat = procfs::stat(pid).ok().filter(|s| !s.exited())?;
            Some(Found {
                inc: Incarnation {
                    pid,
                    starttime: stat.starttime,
                },
                ppid: stat.ppid,
            })
        })
        .collect())
}

/// A pidfile holds a pid and a newline: anything longer is not one.
pub const PIDFILE_MAX_BYTES: u64 = 64;

/// Reads a pidfile without ever blocking: opened non-blocking (a FIFO would
/// otherwise wait for a writer), checked to be a regular file, read with a
/// size bound.
pub fn read_pidfile(path: &Path) -> io::Result<u32> {
    let invalid = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("pidfile {}: {why}", path.display()),
        )
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    let mut text = String::new();
    file.take(PIDFILE_MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| invalid(e.to_string()))?;
    if meta.len() > PIDFILE_MAX_BYTES || text.len() as u64 > PIDFILE_MAX_BYTES {
        return Err(invalid(format!("larger than {PIDFILE_MAX_BYTES} bytes")));
    }
    match text.trim().parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(invalid(format!("{:?} is not a pid", text.trim()))),
    }
}

fn process_named(pid: u32, name: &str) -> bool {
    let Ok(comm) = procfs::comm(pid) else {
        return false;
    };
    // Cheap first: most processes are rejected on comm alone.
    let prefix_len = name.len().min(COMM_LEN);
    let could_be = comm.as_bytes() == name.as_bytes().get(..prefix_len).unwrap_or_default();
    if could_be && name_matches(name, &comm, None, None) {
        return true;
    }
    let exe = procfs::exe_name(pid);
    let argv0 = procfs::argv0_name(pid);
    name_matches(name, &comm, exe.as_deref(), argv0.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_need_exe_or_argv0() {
        let long = "payments-reconciler-worker";
        let comm = &long[..15];
        assert!(name_matches(long, comm, Some(long), None));
        assert!(name_matches(long, comm, None, Some(long)));
        assert!(!name_matches(
            long,
            comm,
            Some("payments-reconciler-other"),
            None
        ));
        assert!(name_matches("api", "api", None, None));
        assert!(name_matches("api", "tokio-runtime-w", Some("api"), None));
        assert!(!name_matches("api", "apix", Some("apix"), Some("apix")));
    }

    #[test]
    fn pidfiles_are_bounded_regular_files() {
        let dir = std::env::temp_dir().join(format!("mm-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ok.pid");
        std::fs::write(&file, "4242\n").unwrap();
        assert_eq!(read_pidfile(&file).unwrap(), 4242);
        std::fs::write(&file, "x").unwrap();
        assert!(read_pidfile(&file)
            .unwrap_err()
            .to_string()
            .contains("is not a pid"));
        std::fs::write(&file, "0").unwrap();
        assert!(read_pidfile(&file).is_err());
        std::fs::write(&file, "1".repeat(65)).unwrap();
        let err = read_pidfile(&file).unwrap_err().to_string();
        assert!(
            err.contains("larger than 64 bytes") && err.len() < 200,
            "{err}"
        );
        let err = read_pidfile(&dir).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
