//! Rendering the metric state as Prometheus text format 0.0.4.

use std::fmt::Write as _;

use super::{
    family, Label, ProcessStats, State, CGROUP_KINDS, DUMP_RESULTS, MEMORY_KINDS, SINKS,
    UPLOAD_RESULTS,
};
use crate::core::event::Kind;

const P: &str = "memory_monitor_";

fn per_target(st: &State, out: &mut String) {
    let name = "memory_monitor_target_memory_bytes";
    family(
        out,
        name,
        "gauge",
        "Memory of the target from /proc/<pid>/status, by kind.",
    );
    for s in &st.series {
        for (kind, value) in MEMORY_KINDS.iter().zip(s.memory) {
            if let Some(v) = value {
                let _ = writeln!(
                    out,
                    "{name}{{target=\"{}\",pid=\"{}\",kind=\"{kind}\"}} {v}",
                    Label(&s.target),
                    s.pid
                );
            }
        }
    }
    let name = "memory_monitor_baseline_bytes";
    family(
        out,
        name,
        "gauge",
        "The detector's baseline (window P50 when it was set).",
    );
    for s in &st.series {
        if let Some(v) = s.baseline {
            let _ = writeln!(
                out,
                "{name}{{target=\"{}\",pid=\"{}\"}} {v}",
                Label(&s.target),
                s.pid
            );
        }
    }
    let name = "memory_monitor_window_bytes";
    family(
        out,
        name,
        "gauge",
        "Percentiles of the sliding window of samples.",
    );
    for s in &st.series {
        for (q, value) in [("0.5", s.p50), ("0.95", s.p95)] {
            if let Some(v) = value {
                let _ = writeln!(
                    out,
                    "{name}{{target=\"{}\",pid=\"{}\",quantile=\"{q}\"}} {v}",
                    Label(&s.target),
                    s.pid
                );
            }
        }
    }
    let name = "memory_monitor_cgroup_memory_bytes";
    family(out, name, "gauge", "The target's memory cgroup, by kind.");
    for s in &st.series {
        for (kind, value) in CGROUP_KINDS.iter().zip(s.cgroup) {
            if let Some(v) = value {
                let _ = writeln!(
                    out,
                    "{name}{{target=\"{}\",pid=\"{}\",kind=\"{kind}\"}} {v}",
                    Label(&s.target),
                    s.pid
                );
            }
        }
    }
    let name = "memory_monitor_events_total";
    family(
        out,
        name,
        "counter",
        "Events detected, by reason (the event name).",
    );
    for s in &st.series {
        for (kind, n) in Kind::ALL.iter().zip(s.events) {
            if n > 0 {
                let _ = writeln!(
                    out,
                    "{name}{{target=\"{}\",pid=\"{}\",reason=\"{kind}\"}} {n}",
                    Label(&s.target),
                    s.pid
                );
            }
        }
    }
    for (metric, help, pick) in [
        (
            "oom_kills_total",
            "OOM kills seen in the target's cgroup.",
            0,
        ),
        ("restarts_total", "New incarnations of the target.", 1),
    ] {
        let name = format!("{P}{metric}");
        family(out, &name, "counter", help);
        for n in &st.names {
            let v = if pick == 0 { n.oom_kills } else { n.restarts };
            let _ = writeln!(out, "{name}{{target=\"{}\"}} {v}", Label(&n.target));
        }
    }
}

fn labelled(out: &mut String, name: &str, help: &str, label: &str, values: &[(&str, u64)]) {
    family(out, name, "counter", help);
    for (l, v) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{l}\"}} {v}");
    }
}

fn global(st: &State, out: &mut String) {
    let dumps: Vec<(&str, u64)> = DUMP_RESULTS.iter().copied().zip(st.dumps).collect();
    labelled(
        out,
        "memory_monitor_dumps_total",
        "Heap-dump captures, by result.",
        "result",
        &dumps,
    );
    let uploads: Vec<(&str, u64)> = UPLOAD_RESULTS.iter().copied().zip(st.uploads).collect();
    labelled(
        out,
        "memory_monitor_uploads_total",
        "Upload attempts, by result.",
        "result",
        &uploads,
    );
    let name = "memory_monitor_notifications_total";
    family(
        out,
        name,
        "counter",
        "Notifications, by sink and result (after retries).",
    );
    for (sink, [sent, failed]) in SINKS.iter().zip(st.notifications) {
        let _ = writeln!(out, "{name}{{sink=\"{sink}\",result=\"sent\"}} {sent}");
        let _ = writeln!(out, "{name}{{sink=\"{sink}\",result=\"failed\"}} {failed}");
    }
    for (metric, kind, help, v) in [
        (
            "notifications_dropped_total",
            "counter",
            "Notifications dropped from the full queue (oldest first).",
            st.dropped,
        ),
        (
            "spool_files",
            "gauge",
            "Dumps waiting in the spool.",
            st.spool_files,
        ),
        (
            "spool_bytes",
            "gauge",
            "Bytes waiting in the spool.",
            st.spool_bytes,
        ),
        (
            "spool_quarantined_files",
            "gauge",
            "Dumps the store refused for good, kept aside.",
            st.quarantined_files,
        ),
    ] {
        let name = format!("{P}{metric}");
        family(out, &name, kind, help);
        let _ = writeln!(out, "{name} {v}");
    }
}

fn process(p: &ProcessStats, out: &mut String) {
    family(
        out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    let _ = writeln!(out, "process_resident_memory_bytes {}", p.resident_bytes);
    family(
        out,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    let _ = writeln!(out, "process_cpu_seconds_total {}", p.cpu_seconds);
    family(
        out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    );
    let _ = writeln!(out, "process_start_time_seconds {}", p.start_time_seconds);
}

pub(super) fn render(st: &State, p: &ProcessStats) -> String {
    let mut out = String::with_capacity(4096);
    per_target(st, &mut out);
    global(st, &mut out);
    process(p, &mut out);
    out
}
