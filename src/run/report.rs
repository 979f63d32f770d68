//! Log lines for what a lifecycle reports.

use super::Target;
use crate::config::{Config, TargetSpec};
use crate::core::cgroup_rules::Reading;
use crate::core::event::{CgroupView, Kind};
use crate::core::explain::{self, Inputs};
use crate::core::lifecycle::Note;
use crate::io::cgroup::CgroupFiles;
use crate::io::log;

/// One log line per event, saying what grew.
pub(super) fn report(t: &mut Target, n: &Note, config: &Config) {
    let s = t.life.last().unwrap_or_default();
    if let Some(f) = n.failure {
        log::warn(
            n.kind.as_str(),
            &[
                ("target", &t.name),
                ("pid", &t.inc.pid),
                ("pod", &config.pod_name),
                ("reason", &f.event),
                ("outcome", &f.last.as_str()),
                ("attempts", &f.attempts),
                (
                    "why",
                    &if f.cleared {
                        "condition cleared before the next retry"
                    } else {
                        "retries exhausted"
                    },
                ),
                ("rss_anon", &n.bytes),
            ],
        );
        return;
    }
    if let (Kind::OomKill, Some(files)) = (n.kind, &t.cgroup) {
        let r = *files.last();
        return oom_kill(t, n, &r, config);
    }
    let level = if n.dump || is_cgroup_event(n.kind) {
        log::Level::Warn
    } else {
        log::Level::Info
    };
    // An event explains itself: read the cgroup in full (stat included).
    let cgroup = cgroup_view(&mut t.cgroup);
    let inputs = Inputs {
        now: s,
        base: t.life.at_baseline(),
        cgroup: cgroup.as_ref(),
        cgroup_base: t.cgroup_base.as_ref(),
        heap: None,
    };
    let (code, verdict) = explain::explain(&inputs);
    let cg = cgroup.clone().unwrap_or_default();
    log::write(
        level,
        n.kind.as_str(),
        &[
            ("target", &t.name),
            ("pid", &t.inc.pid),
            ("pod", &config.pod_name),
            ("metric", &config.explain.metric.as_str()),
            ("bytes", &n.bytes),
            ("rss_anon", &opt(s.rss_anon)),
            ("p50", &opt(n.p50)),
            ("p95", &opt(n.p95)),
            ("baseline", &opt(n.baseline)),
            ("dump", &n.dump),
            ("rss_file", &opt(s.rss_file)),
            ("rss_shmem", &opt(s.rss_shmem)),
            ("vm_swap", &opt(s.vm_swap)),
            ("leak_rate_bytes_per_hour", &t.life.leak_rate_per_hour()),
            ("cgroup_usage", &opt(cg.usage_bytes)),
            ("limit", &opt(cg.limit_bytes)),
            ("working_set", &opt(cg.working_set_bytes)),
            ("cgroup_file", &opt(cg.file_bytes)),
            ("oom_kills", &opt(cg.oom_kills)),
            (
                "psi_some_avg10",
                &cg.psi_some_avg10
                    .map_or_else(|| "unknown".into(), |p| format!("{p:.2}")),
            ),
            ("verdict_code", &code.as_str()),
            ("verdict", &verdict),
            ("breakdown", &explain::breakdown(&inputs)),
        ],
    );
}

fn is_cgroup_event(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::OomKill | Kind::MemoryHigh | Kind::MemoryPressure
    )
}

/// The cgroup read in full now, for a report (`None` when unreadable).
pub(super) fn cgroup_view(files: &mut Option<CgroupFiles>) -> Option<CgroupView> {
    let files = files.as_mut()?;
    let path = files.located.path.clone();
    files.read_full().ok().map(|r| r.view(&path))
}

/// `oom-kill` for a target that vanished: its last RssAnon, peak VmHWM and
/// the limit it ran into.
pub(super) fn oom_kill(t: &Target, n: &Note, r: &Reading, config: &Config) {
    let last = t.life.last().unwrap_or_default();
    let path = t.cgroup.as_ref().map(|c| c.located.path.as_str());
    log::warn(
        n.kind.as_str(),
        &[
            ("target", &t.name),
            ("pid", &t.inc.pid),
            ("pod", &config.pod_name),
            ("last_rss_anon", &opt(last.rss_anon)),
            ("peak_vm_hwm", &opt(last.vm_hwm)),
            ("limit", &opt(r.limit)),
            ("oom_kills", &opt(r.events.oom_kill)),
            ("cgroup", &path.unwrap_or("unknown")),
            ("why", &"the kernel's OOM killer ended the target"),
        ],
    );
}

pub(super) fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "unknown".to_string(), |v| v.to_string())
}

pub(super) fn spec_text(spec: &TargetSpec) -> String {
    match spec {
        TargetSpec::Name(n) => n.clone(),
        TargetSpec::Pid(p) => format!("pid {p}"),
        TargetSpec::PidFile(f) => format!("pidfile {}", f.display()),
    }
}
