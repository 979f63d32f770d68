//! The target's memory cgroup in the loop: attached when a target is found,
//! read at most once a second, and read at once when the target vanishes
//! (was it the kernel's OOM killer?).

use std::time::Instant;

use super::{report, Target};
use crate::config::{Config, ExplainConfig};
use crate::core::cgroup_rules::Reading;
use crate::core::event::{CgroupView, Kind};
use crate::core::lifecycle::Note;
use crate::core::status::StatusSample;
use crate::core::units::human_bytes as h;
use crate::io::cgroup::{self, CgroupFiles, Roots};
use crate::io::log;

/// The cgroup's files, or `None` after one log line (monitoring goes on
/// from /proc; a `cgroup_*` metric falls back to `rss_anon`, said once).
pub(super) fn attach(pid: u32, name: &str, explain: &ExplainConfig) -> Option<CgroupFiles> {
    let roots = Roots {
        proc_root: explain.proc_root.clone(),
        cgroup_root: explain.cgroup_root.clone(),
    };
    let mut files = cgroup::attach(pid, name, &roots);
    if let Some(f) = files.as_mut() {
        f.watch_psi(explain.psi_threshold.is_some());
    }
    if files.is_none() && explain.metric.needs_cgroup() {
        log::warn(
            "metric-fallback",
            &[
                ("pid", &pid),
                ("metric", &explain.metric.as_str()),
                ("why", &"no readable memory cgroup: watching rss_anon"),
            ],
        );
    }
    files
}

/// The target's cgroup reading for this tick (files read at most once a
/// second). A cgroup that stops being readable is dropped with one log line:
/// monitoring goes on from /proc.
pub(super) fn read(t: &mut Target, now: Instant, with_stat: bool) -> Option<Reading> {
    let files = t.cgroup.as_mut()?;
    match files.refresh(now, with_stat) {
        Ok(_) => Some(*files.last()),
        Err(e) => {
            unreadable(t, &e);
            None
        }
    }
}

#[cold]
#[inline(never)]
fn unreadable(t: &mut Target, e: &std::io::Error) {
    log::warn(
        "cgroup-unavailable",
        &[
            ("target", &t.name),
            ("pid", &t.inc.pid),
            ("error", e),
            (
                "why",
                &"memory cgroup no longer readable: monitoring /proc only",
            ),
        ],
    );
    t.cgroup = None;
}

/// The target vanished: read the counter now, not in a second, and log
/// `oom-kill` when the cgroup counted a new kill (the note goes on to the
/// notifier and the metrics).
pub(super) fn vanished(t: &mut Target, config: &Config) -> Option<Note> {
    let files = t.cgroup.as_mut()?;
    let r = *files.read_events_now().ok()?;
    let note = t.life.on_vanish(Instant::now(), &r)?;
    report::oom_kill(t, &note, &r, config);
    Some(note)
}

/// The words of an `oom-kill` message: what the target held and the limit.
pub(super) fn oom_detail(
    kind: Kind,
    last: &StatusSample,
    cg: Option<&CgroupView>,
) -> Option<String> {
    if kind != Kind::OomKill {
        return None;
    }
    let size = |v: Option<u64>| v.map_or_else(|| "unknown".to_string(), |b| h(b).to_string());
    Some(format!(
        "OOM-killed by the kernel: last RssAnon {}, peak VmHWM {}, cgroup limit {}",
        size(last.rss_anon),
        size(last.vm_hwm),
        cg.and_then(|c| c.limit_bytes)
            .map_or_else(|| "none".to_string(), |l| h(l).to_string())
    ))
}
