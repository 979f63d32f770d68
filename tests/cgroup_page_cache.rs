//! The phantom leak: a real process in its own memory cgroup writes a file,
//! maps it and touches every page. `inspect --format json` shows the file
//! pages in the process and in the cgroup, with a page-cache verdict.

#[path = "common/cgroup.rs"]
mod cgroup_util;
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;

const MIB: u64 = 1 << 20;
const FILE_MIB: u64 = 300;

/// Writes FILE_MIB MiB, maps it, reads one byte per page, says "ready", waits.
const MAPPER: &str = r#"
import mmap, os, sys, time
path, mib = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    block = os.urandom(1 << 20)
    for _ in range(mib):
        f.write(block)
f = open(path, "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
total = 0
for off in range(0, len(m), 4096):
    total += m[off]
print("ready", flush=True)
time.sleep(120)
"#;

#[test]
fn inspect_shows_page_cache_not_a_heap_leak() {
    let Some(cg) = cgroup_util::child("pagecache") else {
        return;
    };
    let dir = common::scratch("cgpage");
    let data = dir.join("mapped.bin");
    let mut child = cg.spawn(
        Path::new("python3"),
        &["-c", MAPPER, data.to_str().unwrap(), &FILE_MIB.to_string()],
    );
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    let pid = child.id();

    let inspect = |env: &[(&str, &str)]| {
        Command::new(common::monitor_bin())
            .args(["inspect", &pid.to_string(), "--format", "json"])
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let out = inspect(&[]);
    // CGROUP_ROOT replaces the mounts; one that does not hold the cgroup
    // degrades to /proc only.
    let rooted = inspect(&[("CGROUP_ROOT", "/sys/fs/cgroup"), ("PROC_ROOT", "/proc")]);
    let blind = inspect(&[("CGROUP_ROOT", "/nonexistent")]);
    let _ = child.kill();
    let _ = child.wait();
    let parse = |o: &std::process::Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(parse(&rooted)["cgroup"]["path"], cg.path.as_str());
    assert!(parse(&blind)["cgroup"].is_null());
    assert!(parse(&blind)["rss_file_bytes"].as_u64().unwrap() > 0);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one object per process: {text}");
    let j: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("number: {v} in {j}"));

    assert_eq!(n(&j["pid"]), u64::from(pid));
    assert!(n(&j["rss_file_bytes"]) >= (FILE_MIB - 20) * MIB, "{j}");
    assert!(n(&j["rss_anon_bytes"]) < 64 * MIB, "{j}");
    for key in ["rss_bytes", "rss_shmem_bytes", "swap_bytes", "vm_hwm_bytes"] {
        n(&j[key]);
    }
    let c = &j["cgroup"];
    assert_eq!(c["path"], cg.path.as_str(), "{j}");
    assert_eq!(c["version"], 1);
    assert!(c["limit_bytes"].is_null(), "unlimited: {j}");
    assert!(n(&c["file_bytes"]) >= (FILE_MIB - 20) * MIB, "{j}");
    assert!(n(&c["usage_bytes"]) >= n(&c["file_bytes"]), "{j}");
    assert!(n(&c["working_set_bytes"]) <= n(&c["usage_bytes"]), "{j}");
    assert!(n(&c["anon_bytes"]) < 64 * MIB, "{j}");
    n(&c["inactive_file_bytes"]);
    assert_eq!(c["oom_kills"], 0);
    assert!(c.get("psi_some_avg10").is_some(), "{j}");
    assert!(j["jemalloc"].is_null(), "python serves no socket: {j}");
    assert_eq!(j["verdict_code"], "page-cache", "{j}");
    assert!(
        j["verdict"]
            .as_str()
            .unwrap()
            .starts_with("page cache and mapped files, not a heap leak"),
        "{j}"
    );
}
