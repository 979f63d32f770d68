//! Real memory cgroups for tests: a child of the test process's own v1
//! memory cgroup (path from `/proc/self/cgroup`, hierarchy at
//! `/sys/fs/cgroup/memory`), removed on drop. Needs root and the v1 memory
//! controller; without them the test says why and skips — unless
//! `MEMORY_MONITOR_REQUIRE_CGROUP=1` (CI), where a skip is a failure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HIERARCHY: &str = "/sys/fs/cgroup/memory";

pub(crate) struct ChildCgroup {
    /// As in `/proc/<pid>/cgroup`.
    pub path: String,
    pub dir: PathBuf,
}

/// A fresh child memory cgroup, or `None` (after saying why) when this
/// machine cannot give one and CI did not ask for it.
pub(crate) fn child(tag: &str) -> Option<ChildCgroup> {
    match try_child(tag) {
        Ok(c) => Some(c),
        Err(why) if std::env::var("MEMORY_MONITOR_REQUIRE_CGROUP").as_deref() == Ok("1") => {
            panic!("MEMORY_MONITOR_REQUIRE_CGROUP=1 but {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

fn try_child(tag: &str) -> Result<ChildCgroup, String> {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let parent = own
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':').skip(1);
            parts.next().zip(parts.next())
        })
        .find(|(controllers, _)| controllers.split(',').any(|c| c == "memory"))
        .map(|(_, path)| path.to_string())
        .ok_or("no cgroup v1 memory controller on this machine")?;
    let parent_dir = Path::new(HIERARCHY).join(parent.trim_start_matches('/'));
    if !parent_dir.join("memory.limit_in_bytes").exists() {
        return Err(format!(
            "{} is not a v1 memory cgroup",
            parent_dir.display()
        ));
    }
    let name = format!("mm-{tag}-{}", std::process::id());
    let dir = parent_dir.join(&name);
    let _ = std::fs::remove_dir(&dir);
    std::fs::create_dir(&dir)
        .map_err(|e| format!("cannot create {} (needs root): {e}", dir.display()))?;
    let path = format!("{}/{name}", parent.trim_end_matches('/'));
    Ok(ChildCgroup { path, dir })
}

impl ChildCgroup {
    pub(crate) fn set_limit(&self, bytes: u64) {
        std::fs::write(self.dir.join("memory.limit_in_bytes"), bytes.to_string())
            .expect("set memory.limit_in_bytes");
    }

    pub(crate) fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).expect("read cgroup file")
    }

    /// The `oom_kill` counter of `memory.oom_control`.
    pub(crate) fn oom_kills(&self) -> u64 {
        self.read("memory.oom_control")
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|v| v.trim().parse().ok())
            .expect("oom_kill line")
    }

    /// Runs `exe args` inside this cgroup (a shell joins it, then execs).
    pub(crate) fn spawn(&self, exe: &Path, args: &[&str]) -> Child {
        self.spawn_env(exe, args, &[])
    }

    /// [`Self::spawn`] with extra environment variables.
    pub(crate) fn spawn_env(&self, exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
        Command::new("sh")
            .envs(env.iter().copied())
            .arg("-c")
            .arg(r#"cg=$1; shift; echo $$ > "$cg/cgroup.procs" && exec "$@""#)
            .arg("sh")
            .arg(&self.dir)
            .arg(exe)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn in cgroup")
    }
}

impl Drop for ChildCgroup {
    fn drop(&mut self) {
        // Kill what is left, then remove the (now empty) cgroup.
        if let Ok(pids) = std::fs::read_to_string(self.dir.join("cgroup.procs")) {
            for pid in pids.split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let until = Instant::now() + Duration::from_secs(5);
        while std::fs::remove_dir(&self.dir).is_err() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
