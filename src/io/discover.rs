//! Finding targets: by name (comm with its 15-byte truncation, exe file name
//! or argv[0] file name), by pid or by pidfile. Runs only while looking for a
//! target, never on a healthy tick.

use std::io;

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
        TargetSpec::PidFile(path) => {
            let text = std::fs::read_to_string(path)?;
            let pid = text.trim().parse::<u32>().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("pidfile {}: {:?} is not a pid", path.display(), text.trim()),
                )
            })?;
            vec![pid]
        }
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
}
