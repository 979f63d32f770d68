//! Metric state and its Prometheus text rendering (format 0.0.4). Updating
//! never allocates (fixed arrays and `heapless` vectors behind a mutex), so
//! the loop can update it every tick; rendering a scrape may allocate.
//! Names: shared/NAMES.md "Metrics".

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::core::event::Kind;
use crate::core::status::StatusSample;

/// Live incarnations with their own series; more are not exported.
pub const MAX_TARGETS: usize = 32;
/// Longer target names are cut (on a character boundary).
const NAME_MAX: usize = 64;
type Name = heapless::String<NAME_MAX>;

const MEMORY_KINDS: [&str; 5] = ["rss_anon", "rss_file", "rss_shmem", "swap", "vm_hwm"];
pub const CGROUP_KINDS: [&str; 5] = ["usage", "limit", "working_set", "anon", "file"];
const DUMP_RESULTS: [&str; 3] = ["spooled", "failed", "refused"];
const UPLOAD_RESULTS: [&str; 3] = ["ok", "retry", "quarantined"];
pub const SINKS: [&str; 3] = ["slack", "slack-webhook", "webhook"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpResult {
    Spooled,
    Failed,
    Refused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadResult {
    Ok,
    Retry,
    Quarantined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Slack,
    SlackWebhook,
    Webhook,
}

impl Sink {
    pub fn as_str(self) -> &'static str {
        SINKS[self as usize]
    }
}

/// The series of one live incarnation.
struct Series {
    target: Name,
    pid: u32,
    memory: [Option<u64>; 5],
    cgroup: [Option<u64>; 5],
    baseline: Option<u64>,
    p50: Option<u64>,
    p95: Option<u64>,
    events: [u64; Kind::ALL.len()],
}

/// Counters per target name that outlive an incarnation.
struct PerName {
    target: Name,
    oom_kills: u64,
    restarts: u64,
}

#[derive(Default)]
struct State {
    series: heapless::Vec<Series, MAX_TARGETS>,
    names: heapless::Vec<PerName, MAX_TARGETS>,
    dumps: [u64; 3],
    uploads: [u64; 3],
    /// `[sink][sent, failed]`.
    notifications: [[u64; 2]; 3],
    dropped: u64,
    spool_files: u64,
    spool_bytes: u64,
    quarantined_files: u64,
}

/// What the process says about itself (`/proc/self`), read at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: u64,
    pub cpu_seconds: f64,
    pub start_time_seconds: f64,
}

/// The loop's health as `/healthz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// Ticking, but no target yet: healthy.
    Waiting,
    /// No wake-up for this long (more than three intervals).
    Stuck(Duration),
}

/// Shared by the loop, the workers and the HTTP thread.
pub struct Registry {
    state: Mutex<State>,
    origin: Instant,
    interval_ms: u64,
    last_beat_ms: AtomicU64,
    waiting: AtomicBool,
}

fn name(s: &str) -> Name {
    let mut n = Name::new();
    for c in s.chars() {
        if n.push(c).is_err() {
            break;
        }
    }
    n
}

impl Registry {
    /// `origin` is the loop's start; `interval` the tick interval.
    pub fn new(origin: Instant, interval: Duration) -> Registry {
        Registry {
            state: Mutex::new(State::default()),
            origin,
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            last_beat_ms: AtomicU64::new(0),
            waiting: AtomicBool::new(true),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave counters inconsistent
        // in a way that matters; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ms_since_origin(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    /// The loop woke up at `now`; `waiting` while it has no target.
    pub fn beat(&self, now: Instant, waiting: bool) {
        self.last_beat_ms
            .store(self.ms_since_origin(now), Ordering::Relaxed);
        self.waiting.store(waiting, Ordering::Relaxed);
    }

    /// Stuck when the last wake-up is more than three intervals (and at
    /// least two seconds, for tiny intervals on a busy host) old.
    pub fn health(&self, now: Instant) -> Health {
        let silent = self
            .ms_since_origin(now)
            .saturating_sub(self.last_beat_ms.load(Ordering::Relaxed));
        if silent > self.interval_ms.saturating_mul(3).max(2000) {
            return Health::Stuck(Duration::from_millis(silent));
        }
        if self.waiting.load(Ordering::Relaxed) {
            Health::Waiting
        } else {
            Health::Ok
        }
    }

    /// One sample of a live incarnation (starts its series when new).
    pub fn sample(&self, target: &str, pid: u32, s: &StatusSample) {
        let mut st = self.lock();
        if let Some(series) = series(&mut st, target, pid) {
            series.memory = [s.rss_anon, s.rss_file, s.rss_shmem, s.vm_swap, s.vm_hwm];
        }
    }

    /// The window's P50 / P95 and the baseline, when known.
    pub fn window(
        &self,
        target: &str,
        pid: u32,
        p50: Option<u64>,
        p95: Option<u64>,
        baseline: Option<u64>,
    ) {
        let mut st = self.lock();
        if let Some(series) = series(&mut st, target, pid) {
            series.p50 = p50;
            series.p95 = p95;
            series.baseline = baseline;
        }
    }

    /// The target's cgroup readings, in [`CGROUP_KINDS`] order.
    pub fn cgroup(&self, target: &str, pid: u32, values: [Option<u64>; 5]) {
        let mut st = self.lock();
        if let Some(series) = series(&mut st, target, pid) {
            series.cgroup = values;
        }
    }

    /// Counts an event of a live incarnation (one that has been sampled);
    /// an event about an ended one only feeds the per-name counters.
    pub fn event(&self, target: &str, pid: u32, kind: Kind) {
        let mut st = self.lock();
        if let Some(series) = st.series.iter_mut().find(|s| s.pid == pid) {
            series.events[kind as usize] = series.events[kind as usize].saturating_add(1);
        }
        match kind {
            Kind::OomKill => per_name(&mut st, target, |n| n.oom_kills += 1),
            Kind::Restart => per_name(&mut st, target, |n| n.restarts += 1),
            _ => {}
        }
    }

    /// The incarnation ended: its series go away.
    pub fn ended(&self, pid: u32) {
        let mut st = self.lock();
        st.series.retain(|s| s.pid != pid);
    }

    pub fn dump(&self, result: DumpResult) {
        let mut st = self.lock();
        st.dumps[result as usize] = st.dumps[result as usize].saturating_add(1);
    }

    pub fn upload(&self, result: UploadResult) {
        let mut st = self.lock();
        st.uploads[result as usize] = st.uploads[result as usize].saturating_add(1);
    }

    /// The uploader's totals so far, in [`UploadResult`] order.
    pub fn uploads(&self, totals: [u64; 3]) {
        self.lock().uploads = totals;
    }

    pub fn notification(&self, sink: Sink, sent: bool) {
        let mut st = self.lock();
        let cell = &mut st.notifications[sink as usize][usize::from(!sent)];
        *cell = cell.saturating_add(1);
    }

    pub fn notification_dropped(&self) {
        let mut st = self.lock();
        st.dropped = st.dropped.saturating_add(1);
    }

    pub fn spool(&self, files: u64, bytes: u64, quarantined_files: u64) {
        let mut st = self.lock();
        st.spool_files = files;
        st.spool_bytes = bytes;
        st.quarantined_files = quarantined_files;
    }

    /// The whole exposition, Prometheus text format 0.0.4.
    pub fn render(&self, process: &ProcessStats) -> String {
        let st = self.lock();
        render(&st, process)
    }
}

fn series<'a>(st: &'a mut State, target: &str, pid: u32) -> Option<&'a mut Series> {
    let i = match st.series.iter().position(|s| s.pid == pid) {
        Some(i) => i,
        None => {
            let fresh = Series {
                target: name(target),
                pid,
                memory: [None; 5],
                cgroup: [None; 5],
                baseline: None,
                p50: None,
                p95: None,
                events: [0; Kind::ALL.len()],
            };
            st.series.push(fresh).ok()?;
            st.series.len() - 1
        }
    };
    st.series.get_mut(i)
}

fn per_name(st: &mut State, target: &str, f: impl FnOnce(&mut PerName)) {
    let target = name(target);
    let i = match st.names.iter().position(|n| n.target == target) {
        Some(i) => i,
        None => {
            let fresh = PerName {
                target,
                oom_kills: 0,
                restarts: 0,
            };
            if st.names.push(fresh).is_err() {
                return;
            }
            st.names.len() - 1
        }
    };
    if let Some(n) = st.names.get_mut(i) {
        f(n);
    }
}

/// A label value, escaped per the text format.
struct Label<'a>(&'a str);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[path = "metrics_render.rs"]
mod render_impl;
use render_impl::render;

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;

/// Fields 14, 15 and 22 of `/proc/self/stat`: utime, stime and starttime,
/// in clock ticks.
pub fn parse_self_stat(stat: &[u8]) -> Option<(u64, u64, u64)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat
        .get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    // After ')' come fields 3..: field N is at index N - 3.
    let utime = number(fields.nth(11)?)?;
    let stime = number(fields.next()?)?;
    let start = number(fields.nth(6)?)?;
    Some((utime, stime, start))
}

/// The `btime` line of `/proc/stat`: boot time, Unix seconds.
pub fn parse_btime(stat: &[u8]) -> Option<u64> {
    stat.split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"btime "))
        .and_then(number)
}

fn number(field: &[u8]) -> Option<u64> {
    let field = field.trim_ascii();
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    field.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}
