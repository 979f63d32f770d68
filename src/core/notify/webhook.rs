//! The Standard Webhooks body, schema 1 (shared/NAMES.md "Webhook payload"):
//! `{"type": "memory.<event>", "timestamp": RFC 3339, "data": {...}}`, keys
//! in a fixed order, numbers as numbers, unknown values as `null`.

use std::fmt::{self, Write as _};

use super::Context;
use crate::core::event::{CgroupView, DumpRef, Report};
use crate::core::json::Quoted;
use crate::core::status::StatusSample;
use crate::core::timefmt::Utc;

pub const SCHEMA: u32 = 1;

/// `null` or the value.
struct Opt<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for Opt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("null"),
        }
    }
}

/// `null` or a quoted string.
struct OptStr<'a>(Option<&'a str>);

impl fmt::Display for OptStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "{}", Quoted(s)),
            None => f.write_str("null"),
        }
    }
}

/// A finite float as JSON, else `null`.
struct Float(Option<f64>);

impl fmt::Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) if v.is_finite() => write!(f, "{v}"),
            _ => f.write_str("null"),
        }
    }
}

fn status(out: &mut String, s: &StatusSample) {
    let _ = write!(
        out,
        "{{\"rss_anon\":{},\"rss_file\":{},\"rss_shmem\":{},\"swap\":{},\"vm_rss\":{},\"vm_hwm\":{}}}",
        Opt(s.rss_anon),
        Opt(s.rss_file),
        Opt(s.rss_shmem),
        Opt(s.vm_swap),
        Opt(s.vm_rss),
        Opt(s.vm_hwm)
    );
}

fn breakdown(out: &mut String, r: &Report) {
    out.push_str("{\"now\":");
    status(out, &r.now);
    out.push_str(",\"baseline\":");
    match &r.at_baseline {
        Some(b) => status(out, b),
        None => out.push_str("null"),
    }
    out.push_str(",\"jemalloc\":");
    match r.heap {
        Some(hp) => {
            let _ = write!(
                out,
                "{{\"allocated\":{},\"resident\":{}}}",
                hp.allocated, hp.resident
            );
        }
        None => out.push_str("null"),
    }
    out.push('}');
}

fn cgroup(out: &mut String, c: &CgroupView) {
    let _ = write!(
        out,
        "{{\"path\":{},\"version\":{},\"usage_bytes\":{},\"limit_bytes\":{},\"high_bytes\":{},\
         \"working_set_bytes\":{},\"anon_bytes\":{},\"file_bytes\":{},\"inactive_file_bytes\":{},\
         \"oom_kills\":{},\"psi_some_avg10\":{}}}",
        Quoted(&c.path),
        c.version,
        Opt(c.usage_bytes),
        Opt(c.limit_bytes),
        Opt(c.high_bytes),
        Opt(c.working_set_bytes),
        Opt(c.anon_bytes),
        Opt(c.file_bytes),
        Opt(c.inactive_file_bytes),
        Opt(c.oom_kills),
        Float(c.psi_some_avg10)
    );
}

fn dump(out: &mut String, d: &DumpRef) {
    let _ = write!(
        out,
        "{{\"outcome\":{},\"key\":{},\"uri\":{},\"console_url\":{},\"path\":{}}}",
        Quoted(d.outcome.as_str()),
        OptStr(d.key.as_deref()),
        OptStr(d.uri.as_deref()),
        OptStr(d.console_url.as_deref()),
        OptStr(d.path.as_deref())
    );
}

/// The webhook body for one event.
pub fn body(ctx: &Context, r: &Report) -> String {
    let mut out = String::with_capacity(1024);
    let env = (!ctx.environment.is_empty()).then_some(ctx.environment.as_str());
    let _ = write!(
        out,
        "{{\"type\":{},\"timestamp\":\"{}\",\"data\":{{\"schema\":{SCHEMA},\"event\":{},\
         \"pod\":{},\"environment\":{},\"network\":{},\"target\":{},\"pid\":{},\"bytes\":{},\
         \"baseline_bytes\":{},\"p50_bytes\":{},\"p95_bytes\":{},\"breakdown\":",
        Quoted(r.kind.webhook_type()),
        Utc::from_unix_ms(r.unix_ms).rfc3339(),
        Quoted(r.kind.as_str()),
        Quoted(&ctx.pod),
        OptStr(env),
        OptStr(ctx.network.as_deref()),
        Quoted(&r.target),
        r.pid,
        r.bytes,
        Opt(r.baseline_bytes),
        Opt(r.p50_bytes),
        Opt(r.p95_bytes)
    );
    breakdown(&mut out, r);
    out.push_str(",\"cgroup\":");
    match &r.cgroup {
        Some(c) => cgroup(&mut out, c),
        None => out.push_str("null"),
    }
    let _ = write!(out, ",\"verdict\":{},\"dump\":", Quoted(&r.verdict));
    match &r.dump {
        Some(d) => dump(&mut out, d),
        None => out.push_str("null"),
    }
    out.push_str("}}");
    out
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
