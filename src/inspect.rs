//! `inspect <pid|name>`: the memory breakdown of a target, once, with a
//! one-line verdict, for a human at a terminal.

use std::fmt::Write as _;

use crate::config::{CaptureConfig, TargetSpec};
use crate::core::explain::{self, Heap};
use crate::core::units::human_bytes as h;
use crate::io::procfs::{self, StatusFile};
use crate::io::{discover, heapdump};

/// The report for every process matching `what`, or an error naming it.
pub fn report(what: &str, capture: &CaptureConfig) -> Result<String, String> {
    let spec = match what.parse::<u32>() {
        Ok(pid) => TargetSpec::Pid(pid),
        Err(_) => TargetSpec::Name(what.to_string()),
    };
    let found = discover::find(&spec).map_err(|e| format!("inspect {what}: {e}"))?;
    if found.is_empty() {
        return Err(format!("inspect {what}: no such process"));
    }
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    for inc in found.into_iter().map(|f| f.inc) {
        let sample = StatusFile::open(inc.pid)
            .map_err(|e| format!("inspect {what}: /proc/{}/status: {e}", inc.pid))?
            .read(&mut buf)
            .map_err(|_| format!("inspect {what}: pid {} ended or has no memory", inc.pid))?;
        let name = procfs::comm(inc.pid).unwrap_or_default();
        let socket =
            heapdump::socket_path(capture, &procfs::socket_name(inc.pid).unwrap_or_default());
        let stats = heapdump::stats(&socket, capture);
        let opt = |v: Option<u64>| v.map_or_else(|| "n/a".to_string(), |v| h(v).to_string());
        let _ = writeln!(out, "{name} (pid {})", inc.pid);
        for (label, v) in [
            ("RSS", sample.vm_rss),
            ("  anon (heap, stacks)", sample.rss_anon),
            ("  file (cache, mapped)", sample.rss_file),
            ("  shmem", sample.rss_shmem),
            ("swap", sample.vm_swap),
            ("peak RSS (VmHWM)", sample.vm_hwm),
        ] {
            let _ = writeln!(out, "  {label:<24} {:>12}", opt(v));
        }
        let heap = match &stats {
            Ok(s) => {
                let _ = writeln!(
                    out,
                    "  jemalloc: allocated {} active {} resident {} retained {} metadata {}",
                    h(s.allocated),
                    h(s.active),
                    h(s.resident),
                    h(s.retained),
                    h(s.metadata)
                );
                Some(Heap {
                    allocated: s.allocated,
                    resident: s.resident,
                })
            }
            Err(e) => {
                let _ = writeln!(out, "  jemalloc: {e}");
                None
            }
        };
        let _ = writeln!(out, "  verdict: {}", explain::verdict(&sample, heap));
    }
    Ok(out)
}
