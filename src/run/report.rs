//! Log lines for what a lifecycle reports.

use super::Target;
use crate::config::{Config, TargetSpec};
use crate::core::lifecycle::Note;
use crate::io::log;

/// One log line per event, saying what grew.
pub(super) fn report(t: &Target, n: &Note, config: &Config) {
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
    let level = if n.dump {
        log::Level::Warn
    } else {
        log::Level::Info
    };
    log::write(
        level,
        n.kind.as_str(),
        &[
            ("target", &t.name),
            ("pid", &t.inc.pid),
            ("pod", &config.pod_name),
            ("rss_anon", &n.bytes),
            ("p50", &opt(n.p50)),
            ("p95", &opt(n.p95)),
            ("baseline", &opt(n.baseline)),
            ("dump", &n.dump),
            ("rss_file", &opt(s.rss_file)),
            ("rss_shmem", &opt(s.rss_shmem)),
            ("vm_swap", &opt(s.vm_swap)),
            ("leak_rate_bytes_per_hour", &t.life.leak_rate_per_hour()),
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
