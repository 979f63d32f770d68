//! One vocabulary for what the monitor reports (shared/NAMES.md): the event
//! kinds, the capture outcomes they carry and the report a notifier, the
//! metrics and the logs are built from. Pure data, no I/O.

use crate::core::explain::Heap;
use crate::core::status::StatusSample;

/// Every event the monitor can report. The name (`as_str`) is used
/// everywhere: log `event=`, replay `"event"`, metrics `reason`,
/// `RESTART_ON` / `DISABLE_EVENTS` items, the object-key suffix of the dump
/// it takes, and (as `webhook_type`) the webhook `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Baseline,
    Spike,
    SlowLeak,
    LeakRate,
    TimeToLimit,
    Growth,
    PreOom,
    OomKill,
    MemoryHigh,
    MemoryPressure,
    RestartRequested,
    RestartFailed,
    RestartBudgetExhausted,
    DumpFailed,
    DumpQuarantined,
    SpoolFull,
    UploadsBlocked,
    TargetMissing,
    Restart,
    TargetFound,
    TargetGone,
}

impl Kind {
    pub const ALL: [Kind; 21] = [
        Kind::Baseline,
        Kind::Spike,
        Kind::SlowLeak,
        Kind::LeakRate,
        Kind::TimeToLimit,
        Kind::Growth,
        Kind::PreOom,
        Kind::OomKill,
        Kind::MemoryHigh,
        Kind::MemoryPressure,
        Kind::RestartRequested,
        Kind::RestartFailed,
        Kind::RestartBudgetExhausted,
        Kind::DumpFailed,
        Kind::DumpQuarantined,
        Kind::SpoolFull,
        Kind::UploadsBlocked,
        Kind::TargetMissing,
        Kind::Restart,
        Kind::TargetFound,
        Kind::TargetGone,
    ];

    /// The event name (NAMES.md).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Baseline => "baseline",
            Kind::Spike => "spike",
            Kind::SlowLeak => "slow-leak",
            Kind::LeakRate => "leak-rate",
            Kind::TimeToLimit => "time-to-limit",
            Kind::Growth => "growth",
            Kind::PreOom => "pre-oom",
            Kind::OomKill => "oom-kill",
            Kind::MemoryHigh => "memory-high",
            Kind::MemoryPressure => "memory-pressure",
            Kind::RestartRequested => "restart-requested",
            Kind::RestartFailed => "restart-failed",
            Kind::RestartBudgetExhausted => "restart-budget-exhausted",
            Kind::DumpFailed => "dump-failed",
            Kind::DumpQuarantined => "dump-quarantined",
            Kind::SpoolFull => "spool-full",
            Kind::UploadsBlocked => "uploads-blocked",
            Kind::TargetMissing => "target-missing",
            Kind::Restart => "restart",
            Kind::TargetFound => "target-found",
            Kind::TargetGone => "target-gone",
        }
    }

    /// The kind with this name, if any.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The Standard Webhooks `type`: `memory.` + the name with `-` as `_`.
    pub fn webhook_type(self) -> &'static str {
        match self {
            Kind::Baseline => "memory.baseline",
            Kind::Spike => "memory.spike",
            Kind::SlowLeak => "memory.slow_leak",
            Kind::LeakRate => "memory.leak_rate",
            Kind::TimeToLimit => "memory.time_to_limit",
            Kind::Growth => "memory.growth",
            Kind::PreOom => "memory.pre_oom",
            Kind::OomKill => "memory.oom_kill",
            Kind::MemoryHigh => "memory.memory_high",
            Kind::MemoryPressure => "memory.memory_pressure",
            Kind::RestartRequested => "memory.restart_requested",
            Kind::RestartFailed => "memory.restart_failed",
            Kind::RestartBudgetExhausted => "memory.restart_budget_exhausted",
            Kind::DumpFailed => "memory.dump_failed",
            Kind::DumpQuarantined => "memory.dump_quarantined",
            Kind::SpoolFull => "memory.spool_full",
            Kind::UploadsBlocked => "memory.uploads_blocked",
            Kind::TargetMissing => "memory.target_missing",
            Kind::Restart => "memory.restart",
            Kind::TargetFound => "memory.target_found",
            Kind::TargetGone => "memory.target_gone",
        }
    }

    /// The event asks the target for a heap dump.
    pub fn takes_dump(self) -> bool {
        matches!(
            self,
            Kind::Baseline
                | Kind::Spike
                | Kind::SlowLeak
                | Kind::LeakRate
                | Kind::TimeToLimit
                | Kind::Growth
                | Kind::PreOom
        )
    }

    /// People are told (Slack, webhook) when it happens.
    pub fn notified(self) -> bool {
        !matches!(
            self,
            Kind::Baseline | Kind::Restart | Kind::TargetFound | Kind::TargetGone
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a capture produced no dump although the socket exists (a *failed*
/// capture, retried with backoff; NAMES.md "Capture outcomes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureFailure {
    ConnectRefused,
    ConnectTimeout,
    /// No byte for the idle (read) timeout.
    IdleTimeout,
    /// The whole dump took longer than its total bound.
    TotalTimeout,
    /// The server closed without a byte: the dump failed in the target.
    Empty,
    /// A gzip stream that ends before its trailer.
    Truncated,
    /// Bad CRC, bad length, or an undecodable deflate stream.
    Corrupt,
    /// The reply does not start with the gzip magic.
    NotGzip,
    /// Over DUMP_MAX_BYTES.
    TooBig,
    /// Cut short because the monitor is stopping.
    Shutdown,
    /// The capture queue was full, or the job waited in it too long.
    Busy,
    /// The spool refused it (over SPOOL_MAX_BYTES).
    SpoolFull,
    /// Any other I/O error (socket or spool).
    Io,
}

impl CaptureFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureFailure::ConnectRefused => "connect-refused",
            CaptureFailure::ConnectTimeout => "connect-timeout",
            CaptureFailure::IdleTimeout => "idle-timeout",
            CaptureFailure::TotalTimeout => "total-timeout",
            CaptureFailure::Empty => "empty-reply",
            CaptureFailure::Truncated => "truncated",
            CaptureFailure::Corrupt => "corrupt",
            CaptureFailure::NotGzip => "not-gzip",
            CaptureFailure::TooBig => "too-big",
            CaptureFailure::Shutdown => "shutdown",
            CaptureFailure::Busy => "busy",
            CaptureFailure::SpoolFull => "spool-full",
            CaptureFailure::Io => "io-error",
        }
    }
}

/// What became of one capture, as the lifecycle sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureOutcome {
    /// A complete, verified dump is in the spool.
    Spooled,
    /// No socket: profiling is not enabled in the target ("dump impossible").
    NoSocket,
    /// The socket exists but the capture failed (retried with backoff).
    Failed(CaptureFailure),
}

impl CaptureOutcome {
    /// `spooled`, `no-socket`, or the failure's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureOutcome::Spooled => "spooled",
            CaptureOutcome::NoSocket => "no-socket",
            CaptureOutcome::Failed(f) => f.as_str(),
        }
    }
}

/// A one-word verdict on where the memory went (`inspect` `verdict_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VerdictCode {
    HeapGrowth,
    PageCache,
    AllocatorRetention,
    Steady,
    #[default]
    Unknown,
}

impl VerdictCode {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictCode::HeapGrowth => "heap-growth",
            VerdictCode::PageCache => "page-cache",
            VerdictCode::AllocatorRetention => "allocator-retention",
            VerdictCode::Steady => "steady",
            VerdictCode::Unknown => "unknown",
        }
    }
}

/// The target's memory cgroup, as far as it could be read (bytes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgroupView {
    /// As in `/proc/<pid>/cgroup`.
    pub path: String,
    /// 1 or 2.
    pub version: u8,
    pub usage_bytes: Option<u64>,
    /// `None` when unlimited.
    pub limit_bytes: Option<u64>,
    pub high_bytes: Option<u64>,
    pub working_set_bytes: Option<u64>,
    pub anon_bytes: Option<u64>,
    pub file_bytes: Option<u64>,
    pub inactive_file_bytes: Option<u64>,
    pub oom_kills: Option<u64>,
    /// PSI `some avg10`, percent.
    pub psi_some_avg10: Option<f64>,
}

/// Where an event's dump is, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpRef {
    pub outcome: CaptureOutcome,
    /// The object key (also when the dump stays in the local spool).
    pub key: Option<String>,
    /// `s3://bucket/key` when S3 is configured.
    pub uri: Option<String>,
    pub console_url: Option<String>,
    /// The local spool file.
    pub path: Option<String>,
}

/// Everything a notifier, a log line or a metric needs to tell people about
/// one event. Pod, environment and network come from the notifier's config.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub kind: Kind,
    pub target: String,
    pub pid: u32,
    /// Wall-clock time of the event, Unix milliseconds.
    pub unix_ms: u64,
    /// The watched metric now.
    pub bytes: u64,
    pub baseline_bytes: Option<u64>,
    pub p50_bytes: Option<u64>,
    pub p95_bytes: Option<u64>,
    /// `/proc/<pid>/status` now and when the baseline was taken.
    pub now: StatusSample,
    pub at_baseline: Option<StatusSample>,
    pub cgroup: Option<CgroupView>,
    pub heap: Option<Heap>,
    pub verdict: String,
    pub verdict_code: VerdictCode,
    /// `None` for events that take no dump.
    pub dump: Option<DumpRef>,
    /// Extra words for the event, e.g. "restart budget exhausted: 2 in the last 1h".
    pub detail: Option<String>,
}

impl Report {
    /// A report that carries no window, breakdown or dump yet: the caller
    /// fills in what it knows (uploader notices, `target-missing`).
    pub fn plain(kind: Kind, target: String, pid: u32, unix_ms: u64, detail: String) -> Report {
        Report {
            kind,
            target,
            pid,
            unix_ms,
            bytes: 0,
            baseline_bytes: None,
            p50_bytes: None,
            p95_bytes: None,
            now: StatusSample::default(),
            at_baseline: None,
            cgroup: None,
            heap: None,
            verdict: String::new(),
            verdict_code: VerdictCode::Unknown,
            dump: None,
            detail: Some(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            let expected = format!("memory.{}", k.as_str().replace('-', "_"));
            assert_eq!(k.webhook_type(), expected);
        }
        let mut names: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        assert_eq!(Kind::parse("nonsense"), None);
    }

    #[test]
    fn dumps_and_notifications_follow_the_names_table() {
        let dumps: Vec<_> = Kind::ALL.into_iter().filter(|k| k.takes_dump()).collect();
        assert_eq!(dumps.len(), 7);
        assert!(Kind::Baseline.takes_dump() && !Kind::Baseline.notified());
        assert!(Kind::OomKill.notified() && !Kind::OomKill.takes_dump());
        assert!(!Kind::Restart.notified() && !Kind::TargetGone.notified());
        assert!(Kind::TargetMissing.notified());
    }
}
