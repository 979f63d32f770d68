//! `inspect <pid|name> [--format json]`: the memory breakdown of a target,
//! once, with its cgroup's view and a one-line verdict — for a human at a
//! terminal, or one JSON object per matched process per line for scripts.

use std::fmt::{self, Write as _};

use crate::config::{CaptureConfig, ExplainConfig, TargetSpec};
use crate::core::event::CgroupView;
use crate::core::explain::{self, Heap, Inputs};
use crate::core::json::Quoted;
use crate::core::status::StatusSample;
use crate::core::units::human_bytes as h;
use crate::io::cgroup::{self, CgroupFiles, Roots};
use crate::io::discover;
use crate::io::heapdump::{self, JemallocStats};
use crate::io::procfs::{self, StatusFile};

/// One matched process, everything read once.
struct Seen {
    pid: u32,
    name: String,
    status: StatusSample,
    cgroup: Result<CgroupView, String>,
    jemalloc: Result<JemallocStats, String>,
}

/// The report for every process matching `what`, or an error naming it.
pub fn report(
    what: &str,
    capture: &CaptureConfig,
    settings: &ExplainConfig,
    json: bool,
) -> Result<String, String> {
    let spec = match what.parse::<u32>() {
        Ok(pid) => TargetSpec::Pid(pid),
        Err(_) => TargetSpec::Name(what.to_string()),
    };
    let found = discover::find(&spec).map_err(|e| format!("inspect {what}: {e}"))?;
    if found.is_empty() {
        return Err(format!("inspect {what}: no such process"));
    }
    let roots = Roots {
        proc_root: settings.proc_root.clone(),
        cgroup_root: settings.cgroup_root.clone(),
    };
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    for inc in found.into_iter().map(|f| f.inc) {
        let status = StatusFile::open(inc.pid)
            .map_err(|e| format!("inspect {what}: /proc/{}/status: {e}", inc.pid))?
            .read(&mut buf)
            .map_err(|_| format!("inspect {what}: pid {} ended or has no memory", inc.pid))?;
        let exe = procfs::socket_name(inc.pid).unwrap_or_default();
        let socket = heapdump::socket_path(capture, &exe);
        let seen = Seen {
            pid: inc.pid,
            name: procfs::exe_name(inc.pid)
                .or_else(|| procfs::comm(inc.pid).ok())
                .unwrap_or_default(),
            status,
            cgroup: read_cgroup(inc.pid, &roots),
            jemalloc: heapdump::stats(&socket, capture).map_err(|e| e.to_string()),
        };
        if json {
            let _ = writeln!(out, "{}", Json(&seen));
        } else {
            text(&mut out, &seen);
        }
    }
    Ok(out)
}

fn read_cgroup(pid: u32, roots: &Roots) -> Result<CgroupView, String> {
    let located = cgroup::locate(pid, roots).map_err(|e| e.to_string())?;
    let path = located.path.clone();
    let mut files = CgroupFiles::open(located).map_err(|e| e.to_string())?;
    let reading = files.read_full().map_err(|e| e.to_string())?;
    Ok(reading.view(&path))
}

fn verdict(seen: &Seen) -> (crate::core::event::VerdictCode, String) {
    explain::explain(&Inputs {
        now: seen.status,
        cgroup: seen.cgroup.as_ref().ok(),
        heap: seen.jemalloc.as_ref().ok().map(|s| Heap {
            allocated: s.allocated,
            resident: s.resident,
        }),
        ..Inputs::default()
    })
}

fn text(out: &mut String, seen: &Seen) {
    let s = &seen.status;
    let opt = |v: Option<u64>| v.map_or_else(|| "n/a".to_string(), |v| h(v).to_string());
    let _ = writeln!(out, "{} (pid {})", seen.name, seen.pid);
    for (label, v) in [
        ("RSS", s.vm_rss),
        ("  anon (heap, stacks)", s.rss_anon),
        ("  file (cache, mapped)", s.rss_file),
        ("  shmem", s.rss_shmem),
        ("swap", s.vm_swap),
        ("peak RSS (VmHWM)", s.vm_hwm),
    ] {
        let _ = writeln!(out, "  {label:<24} {:>12}", opt(v));
    }
    match &seen.cgroup {
        Ok(cg) => {
            let limit = cg
                .limit_bytes
                .map_or_else(|| "none".to_string(), |l| h(l).to_string());
            let _ = writeln!(out, "  cgroup v{} {}", cg.version, cg.path);
            for (label, v) in [
                ("  usage", opt(cg.usage_bytes)),
                ("  limit", limit),
                ("  working set", opt(cg.working_set_bytes)),
                ("  anon", opt(cg.anon_bytes)),
                ("  file (page cache)", opt(cg.file_bytes)),
                ("  inactive file", opt(cg.inactive_file_bytes)),
                (
                    "  OOM kills",
                    cg.oom_kills.map_or("n/a".into(), |k| k.to_string()),
                ),
                (
                    "  PSI some avg10",
                    cg.psi_some_avg10
                        .map_or("n/a".into(), |p| format!("{p:.2}%")),
                ),
            ] {
                let _ = writeln!(out, "  {label:<24} {v:>12}");
            }
        }
        Err(e) => {
            let _ = writeln!(out, "  cgroup: not readable ({e})");
        }
    }
    match &seen.jemalloc {
        Ok(j) => {
            let _ = writeln!(
                out,
                "  jemalloc: allocated {} active {} resident {} retained {} metadata {}",
                h(j.allocated),
                h(j.active),
                h(j.resident),
                h(j.retained),
                h(j.metadata)
            );
        }
        Err(e) => {
            let _ = writeln!(out, "  jemalloc: {e}");
        }
    }
    let _ = writeln!(out, "  verdict: {}", verdict(seen).1);
}

/// The documented JSON object (README "inspect --format json").
struct Json<'a>(&'a Seen);

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seen = self.0;
        let s = &seen.status;
        write!(f, "{{\"pid\":{},\"name\":{}", seen.pid, Quoted(&seen.name))?;
        for (key, v) in [
            ("rss_bytes", s.vm_rss),
            ("rss_anon_bytes", s.rss_anon),
            ("rss_file_bytes", s.rss_file),
            ("rss_shmem_bytes", s.rss_shmem),
            ("swap_bytes", s.vm_swap),
            ("vm_hwm_bytes", s.vm_hwm),
        ] {
            write!(f, ",\"{key}\":{}", Num(v))?;
        }
        f.write_str(",\"cgroup\":")?;
        match &seen.cgroup {
            Ok(cg) => {
                write!(
                    f,
                    "{{\"path\":{},\"version\":{}",
                    Quoted(&cg.path),
                    cg.version
                )?;
                for (key, v) in [
                    ("usage_bytes", cg.usage_bytes),
                    ("limit_bytes", cg.limit_bytes),
                    ("working_set_bytes", cg.working_set_bytes),
                    ("anon_bytes", cg.anon_bytes),
                    ("file_bytes", cg.file_bytes),
                    ("inactive_file_bytes", cg.inactive_file_bytes),
                    ("oom_kills", cg.oom_kills),
                ] {
                    write!(f, ",\"{key}\":{}", Num(v))?;
                }
                match cg.psi_some_avg10 {
                    Some(p) => write!(f, ",\"psi_some_avg10\":{p:.2}}}")?,
                    None => f.write_str(",\"psi_some_avg10\":null}")?,
                }
            }
            Err(_) => f.write_str("null")?,
        }
        f.write_str(",\"jemalloc\":")?;
        match &seen.jemalloc {
            Ok(j) => write!(
                f,
                "{{\"allocated\":{},\"active\":{},\"resident\":{},\"mapped\":{},\"retained\":{}}}",
                j.allocated, j.active, j.resident, j.mapped, j.retained
            )?,
            Err(_) => f.write_str("null")?,
        }
        let (code, text) = verdict(seen);
        write!(
            f,
            ",\"verdict\":{},\"verdict_code\":\"{}\"}}",
            Quoted(&text),
            code.as_str()
        )
    }
}

/// A number or `null`.
struct Num(Option<u64>);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("null"),
        }
    }
}
