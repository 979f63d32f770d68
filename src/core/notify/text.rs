//! The alert as text (Slack mrkdwn): what happened, where, how much memory
//! against the baseline, what grew, where the dump is and how to open it.

use std::fmt::{self, Write as _};

use super::Context;
use crate::core::event::{CaptureOutcome, CgroupView, DumpRef, Kind, Report};
use crate::core::units::human_bytes as h;

/// A few words on what the event means.
pub fn title(kind: Kind) -> &'static str {
    match kind {
        Kind::Baseline => "baseline heap dump",
        Kind::Spike => "memory spike",
        Kind::SlowLeak => "slow memory leak",
        Kind::LeakRate => "memory growing faster than the leak-rate threshold",
        Kind::TimeToLimit => "memory limit forecast to be reached soon",
        Kind::Growth => "memory grew over the growth threshold",
        Kind::PreOom => "memory near its limit: dump taken before an OOM kill",
        Kind::OomKill => "OOM kill",
        Kind::MemoryHigh => "throttled at memory.high",
        Kind::MemoryPressure => "memory pressure (PSI)",
        Kind::RestartRequested => "restart requested",
        Kind::RestartFailed => "restart failed",
        Kind::RestartBudgetExhausted => "restart budget exhausted",
        Kind::DumpFailed => "heap dump failed after every retry",
        Kind::DumpQuarantined => "dump quarantined: the store refused it for good",
        Kind::SpoolFull => "spool full: dump refused",
        Kind::UploadsBlocked => "uploads blocked: S3 refuses every dump for now",
        Kind::TargetMissing => "target missing",
        Kind::Restart => "target restarted",
        Kind::TargetFound => "target found",
        Kind::TargetGone => "target gone",
    }
}

/// `+1.5 MiB`, `-200.0 KiB`, `+0 B`.
struct Delta(u64, u64);

impl fmt::Display for Delta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (now, then) = (self.0, self.1);
        if now >= then {
            write!(f, "+{}", h(now - then))
        } else {
            write!(f, "-{}", h(then - now))
        }
    }
}

/// Why there is no dump, in words.
pub fn no_dump_reason(outcome: CaptureOutcome) -> String {
    match outcome {
        CaptureOutcome::Spooled => "the dump was spooled".into(),
        CaptureOutcome::NoSocket => {
            "profiling is not enabled in the target (no heap-dump socket)".into()
        }
        CaptureOutcome::Failed(f) => format!("the capture failed ({})", f.as_str()),
    }
}

/// The last path segment of a key or path.
fn file_name(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

fn dump_lines(out: &mut String, target: &str, dump: &DumpRef) {
    if dump.outcome != CaptureOutcome::Spooled {
        let _ = writeln!(out, "No dump: {}", no_dump_reason(dump.outcome));
        return;
    }
    let open = |out: &mut String, file: &str| {
        let _ = write!(
            out,
            "Open it: `go tool pprof -http=:8080 path/to/{target} {file}`"
        );
    };
    match (&dump.uri, &dump.path) {
        (Some(uri), _) => {
            let _ = write!(out, "Dump: {uri} (being uploaded)");
            if let Some(c) = &dump.console_url {
                let _ = write!(out, ", console: {c}");
            }
            let _ = writeln!(out);
            let file = file_name(uri);
            let _ = writeln!(out, "Fetch it: `aws s3 cp {uri} {file}`");
            open(out, file);
            out.push('\n');
        }
        (None, Some(path)) => {
            let _ = writeln!(out, "Dump: {path} (local spool on the pod)");
            open(out, path);
            out.push('\n');
        }
        (None, None) => {
            let key = dump.key.as_deref().unwrap_or("(unnamed)");
            let _ = writeln!(out, "Dump: {key} (spooled)");
        }
    }
}

/// The full alert text (plain, before Slack escaping).
pub fn plain(ctx: &Context, r: &Report) -> String {
    let mut out = String::with_capacity(768);
    let env = if ctx.environment.is_empty() {
        "unset"
    } else {
        ctx.environment.as_str()
    };
    let _ = write!(
        out,
        "memory-monitor: *{}* ({}), environment {env}",
        r.kind,
        title(r.kind)
    );
    if let Some(n) = &ctx.network {
        let _ = write!(out, ", network {n}");
    }
    let _ = writeln!(
        out,
        "\nPod `{}`, target `{}` pid {}",
        ctx.pod, r.target, r.pid
    );
    let _ = write!(out, "Memory now {}", h(r.bytes));
    if let Some(b) = r.baseline_bytes {
        let _ = write!(out, " vs baseline {}: {}", h(b), Delta(r.bytes, b));
    }
    if let (Some(p50), Some(p95)) = (r.p50_bytes, r.p95_bytes) {
        let _ = write!(out, " (window P50 {}, P95 {})", h(p50), h(p95));
    }
    out.push('\n');
    breakdown(&mut out, r);
    if let Some(c) = &r.cgroup {
        cgroup(&mut out, c);
    }
    if !r.verdict.is_empty() {
        let _ = writeln!(out, "Verdict: {}", r.verdict);
    }
    if let Some(d) = &r.detail {
        let _ = writeln!(out, "Detail: {d}");
    }
    if let Some(dump) = &r.dump {
        dump_lines(&mut out, &r.target, dump);
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

fn breakdown(out: &mut String, r: &Report) {
    let now = &r.now;
    let then = r.at_baseline.as_ref();
    let parts = [
        ("anon", now.rss_anon, then.and_then(|t| t.rss_anon)),
        ("file", now.rss_file, then.and_then(|t| t.rss_file)),
        ("shmem", now.rss_shmem, then.and_then(|t| t.rss_shmem)),
        ("swap", now.vm_swap, then.and_then(|t| t.vm_swap)),
    ];
    let mut first = true;
    for (name, value, before) in parts {
        let Some(v) = value else { continue };
        out.push_str(if first { "Breakdown: " } else { ", " });
        first = false;
        let _ = write!(out, "{name} {}", h(v));
        if let Some(b) = before {
            let _ = write!(out, " ({} since baseline)", Delta(v, b));
        }
    }
    if !first {
        out.push('\n');
    }
    if let Some(heap) = r.heap {
        let _ = writeln!(
            out,
            "jemalloc: {} allocated, {} resident",
            h(heap.allocated),
            h(heap.resident)
        );
    }
}

fn cgroup(out: &mut String, c: &CgroupView) {
    let _ = write!(out, "Cgroup v{} {}:", c.version, c.path);
    if let Some(u) = c.usage_bytes {
        let _ = write!(out, " usage {}", h(u));
    }
    match c.limit_bytes {
        Some(l) => {
            let _ = write!(out, " of {} limit", h(l));
        }
        None => out.push_str(", no limit"),
    }
    if let Some(w) = c.working_set_bytes {
        let _ = write!(out, ", working set {}", h(w));
    }
    if let Some(p) = c.psi_some_avg10 {
        let _ = write!(out, ", PSI some avg10 {p:.1}%");
    }
    out.push('\n');
}

/// Slack's escaping for message text: `&`, `<` and `>` only.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The text as sent to Slack.
pub fn slack(ctx: &Context, r: &Report) -> String {
    slack_escape(&plain(ctx, r))
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
