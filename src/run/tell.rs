//! Telling people and Prometheus: the loop hands every reported event,
//! capture outcome and sample here. An event that asked for a dump waits
//! until its capture's outcome is known (spooled, impossible, or failed for
//! good), then one message goes to the notifier; other notified events go at
//! once; detections a cooldown held back never do. Metric updates allocate
//! nothing.

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Target;
use crate::capture::Spooled;
use crate::config::Config;
use crate::core::cgroup_rules::Reading;
use crate::core::event::{CaptureFailure, CaptureOutcome, CgroupView, DumpRef, Kind, Report};
use crate::core::explain::{self, Inputs};
use crate::core::lifecycle::Note;
use crate::core::metrics::{DumpResult, Registry};
use crate::core::notify::Context;
use crate::core::status::StatusSample;
use crate::io::http_server::{self, Collect};
use crate::io::log;
use crate::io::notify::Notifier;
use crate::io::s3::endpoint::Endpoint;
use crate::io::s3::{Notice, Stats};
use crate::io::spool::Spool;

/// Window percentiles are exported at most this often (an O(n) selection).
const WINDOW_EVERY: Duration = Duration::from_secs(1);
/// Messages waiting for their capture's outcome, over all targets.
const MAX_WAITING: usize = 16;
/// How long shutdown gives queued messages.
const NOTIFY_GRACE: Duration = Duration::from_secs(1);

/// A message held until its capture's outcome is known.
struct Waiting {
    pid: u32,
    starttime: u64,
    report: Report,
    /// For the verdict once the dump's jemalloc stats are known.
    cgroup_base: Option<CgroupView>,
}

#[derive(Default)]
pub struct Telling {
    notifier: Option<Notifier>,
    registry: Option<Arc<Registry>>,
    /// Where uploaded dumps go (for the message's URI and console link).
    s3: Option<(Endpoint, bool)>,
    waiting: Vec<Waiting>,
    /// The uploader's notices (quarantined dumps).
    notices: Option<Receiver<Notice>>,
    /// `spool-full` was told and no dump has been spooled since.
    spool_full_told: bool,
}

impl Telling {
    /// Starts what the config asks for: the metrics registry and its HTTP
    /// server (METRICS_ADDR), the notifier (any sink). An error is a
    /// start-up error (a port in use, an unreadable CA file).
    pub fn start(
        config: &Config,
        spool: Option<Spool>,
        uploads: Option<Stats>,
        notices: Option<Receiver<Notice>>,
    ) -> Result<Telling, String> {
        let registry = config
            .notify
            .metrics_addr
            .map(|_| Arc::new(Registry::new(Instant::now(), config.detect.interval)));
        if let (Some(addr), Some(reg)) = (config.notify.metrics_addr, &registry) {
            let collect: Collect = Box::new(move |r: &Registry| {
                if let Some(u) = &uploads {
                    let c = u.counts();
                    r.uploads([c.uploaded, c.failed, c.quarantined]);
                    if let Some(s) = &spool {
                        if let Ok(p) = s.pending() {
                            r.spool(p.len() as u64, s.used_bytes(), c.quarantined);
                        }
                    }
                } else if let Some(s) = &spool {
                    if let Ok(p) = s.pending() {
                        r.spool(p.len() as u64, s.used_bytes(), 0);
                    }
                }
            });
            let bound = http_server::spawn(addr, Arc::clone(reg), Some(collect))
                .map_err(|e| format!("METRICS_ADDR {addr}: {e}"))?;
            log::info("metrics-listening", &[("addr", &bound)]);
        }
        let ctx = Context {
            pod: config.pod_name.clone(),
            environment: config.notify.environment.clone(),
            network: config.notify.network.clone(),
        };
        let notifier = Notifier::spawn(
            &config.notify,
            ctx,
            config.notify.ca_file.as_deref(),
            registry.clone(),
        )
        .map_err(|e| e.to_string())?;
        let mut tell = Telling::new(config, notifier, registry);
        tell.notices = notices;
        Ok(tell)
    }

    pub fn new(
        config: &Config,
        notifier: Option<Notifier>,
        registry: Option<Arc<Registry>>,
    ) -> Telling {
        let s3 = config.s3.as_ref().and_then(|s| {
            // The AWS console only knows AWS buckets.
            Endpoint::new(s).ok().map(|e| (e, s.endpoint.is_none()))
        });
        Telling {
            notifier,
            registry,
            s3,
            waiting: Vec::new(),
            notices: None,
            spool_full_told: false,
        }
    }

    /// The loop woke up (the `/healthz` heartbeat); passes on the
    /// uploader's notices. Allocation-free when there is none.
    pub(super) fn beat(&mut self, now: Instant, waiting: bool) {
        if let Some(r) = &self.registry {
            r.beat(now, waiting);
        }
        if self.notices.is_some() {
            self.pass_notices();
        }
    }

    /// Out of line, like every part of a tick that does nothing when
    /// nothing is configured: the tick's own code stays in a few pages.
    #[inline(never)]
    fn pass_notices(&mut self) {
        while let Some(n) = self.notices.as_ref().and_then(|rx| rx.try_recv().ok()) {
            if let Some(report) = n.report(unix_ms_now()) {
                self.forward(report);
            }
        }
    }

    /// One sample of a watched target (and its cgroup reading, when read
    /// this tick). Never allocates.
    pub(super) fn sample(
        &self,
        t: &mut Target,
        now: Instant,
        sample: &StatusSample,
        cgroup: Option<&Reading>,
    ) {
        if let Some(r) = &self.registry {
            export(r, t, now, sample, cgroup);
        }
    }

    pub(super) fn restarted(&self, t: &Target) {
        if let Some(r) = &self.registry {
            r.event(&t.name, t.inc.pid, Kind::Restart);
        }
    }

    pub(super) fn gone(&mut self, t: &Target) {
        if let Some(r) = &self.registry {
            r.ended(t.inc.pid);
        }
        // Its captures' outcomes will reach no one now: tell what is known.
        let inc = (t.inc.pid, t.inc.starttime);
        let (ended, keep): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| (w.pid, w.starttime) == inc);
        self.waiting = keep;
        for w in ended {
            let mut report = w.report;
            report.detail = Some("the process ended before its dump was taken".into());
            self.send(report);
        }
    }

    /// A lifecycle reported an event.
    pub(super) fn note(&mut self, t: &mut Target, note: &Note) {
        if let Some(r) = &self.registry {
            r.event(&t.name, t.inc.pid, note.kind);
        }
        if self.notifier.is_none() || !note.kind.notified() {
            return;
        }
        let mut report = self.report(t, note);
        if note.kind.takes_dump() {
            if !note.dump {
                // Held back by a cooldown: logged, never notified.
                return;
            }
            // One message per event, once the capture's outcome is known.
            let inc = (t.inc.pid, t.inc.starttime);
            self.waiting
                .retain(|w| !((w.pid, w.starttime) == inc && w.report.kind == note.kind));
            if self.waiting.len() >= MAX_WAITING {
                // A capture that never reported back: tell without its dump.
                let mut stale = self.waiting.remove(0).report;
                stale.detail = Some("no capture outcome arrived for this event".into());
                self.send(stale);
            }
            self.waiting.push(Waiting {
                pid: inc.0,
                starttime: inc.1,
                report,
                cgroup_base: t.cgroup_base.clone(),
            });
            return;
        }
        if let Some(f) = note.failure {
            // The event whose dump failed: its message becomes this one.
            let inc = (t.inc.pid, t.inc.starttime);
            if let Some(i) = self
                .waiting
                .iter()
                .position(|w| (w.pid, w.starttime) == inc && w.report.kind == f.event)
            {
                let held = self.waiting.swap_remove(i).report;
                report = Report {
                    kind: Kind::DumpFailed,
                    ..held
                };
            }
            report.detail = Some(format!(
                "no {} dump: {} attempt(s), the last {}{}",
                f.event,
                f.attempts,
                f.last.as_str(),
                if f.cleared {
                    "; the condition cleared before the next retry"
                } else {
                    ""
                }
            ));
            report.dump = Some(dump_ref(CaptureOutcome::Failed(f.last), None));
        }
        self.send(report);
    }

    /// A report built elsewhere (restart sequences): counted and sent.
    pub(super) fn forward(&mut self, report: Report) {
        if let Some(r) = &self.registry {
            r.event(&report.target, report.pid, report.kind);
        }
        if report.kind.notified() {
            self.send(report);
        }
    }

    /// A capture's outcome (also for an event that is not notified).
    pub(super) fn captured(
        &mut self,
        t: &mut Target,
        kind: Kind,
        outcome: CaptureOutcome,
        spooled: Option<&Spooled>,
    ) {
        match outcome {
            CaptureOutcome::Failed(CaptureFailure::SpoolFull) if !self.spool_full_told => {
                // Told once until a dump fits again; the capture is retried.
                self.spool_full_told = true;
                self.spool_full(t, kind);
            }
            CaptureOutcome::Spooled => self.spool_full_told = false,
            _ => {}
        }
        if let Some(r) = &self.registry {
            match outcome {
                CaptureOutcome::Spooled => r.dump(DumpResult::Spooled),
                CaptureOutcome::Failed(CaptureFailure::SpoolFull) => r.dump(DumpResult::Refused),
                CaptureOutcome::Failed(_) => r.dump(DumpResult::Failed),
                CaptureOutcome::NoSocket => {}
            }
        }
        if matches!(outcome, CaptureOutcome::Failed(_)) {
            // Retried, or given up with a dump-failed note.
            return;
        }
        let inc = (t.inc.pid, t.inc.starttime);
        let Some(i) = self
            .waiting
            .iter()
            .position(|w| (w.pid, w.starttime) == inc && w.report.kind == kind)
        else {
            return;
        };
        let held = self.waiting.swap_remove(i);
        let mut report = held.report;
        if let Some(heap) = spooled.and_then(|s| s.heap) {
            // jemalloc's own view sharpens the verdict (live heap vs retained).
            report.heap = Some(heap);
            let (code, verdict) = explain::explain(&Inputs {
                now: report.now,
                base: report.at_baseline,
                cgroup: report.cgroup.as_ref(),
                cgroup_base: held.cgroup_base.as_ref(),
                heap: Some(heap),
            });
            report.verdict = verdict;
            report.verdict_code = code;
        }
        let mut dump = dump_ref(outcome, spooled);
        if let (Some(key), Some((endpoint, console))) = (&dump.key, &self.s3) {
            dump.uri = Some(endpoint.s3_uri(key));
            dump.console_url = console.then(|| endpoint.console_url(key));
            dump.path = None;
        }
        report.dump = Some(dump);
        self.send(report);
    }

    /// The spool refused a dump: nothing captured is deleted to make room.
    fn spool_full(&mut self, t: &mut Target, kind: Kind) {
        log::error(
            Kind::SpoolFull.as_str(),
            &[("target", &t.name), ("pid", &t.inc.pid), ("event", &kind)],
        );
        let bytes = t.life.last().and_then(|s| s.rss_anon).unwrap_or(0);
        let mut report = self.report(t, &Note::new(Kind::SpoolFull, bytes));
        report.detail = Some(format!(
            "the {kind} dump does not fit in the spool (SPOOL_MAX_BYTES); undelivered dumps are kept, new ones refused until some are delivered"
        ));
        self.forward(report);
    }

    /// No target for TARGET_MISSING_AFTER (`target-missing`).
    pub(super) fn missing(&mut self, target: &str, missing: Duration) {
        let secs = missing.as_secs();
        log::warn(
            Kind::TargetMissing.as_str(),
            &[("target", &target), ("missing_secs", &secs)],
        );
        self.send(Report::plain(
            Kind::TargetMissing,
            target.to_string(),
            0,
            unix_ms_now(),
            format!("no process matching {target} for {secs} s"),
        ));
    }

    fn report(&self, t: &mut Target, note: &Note) -> Report {
        let now = t.life.last().unwrap_or_default();
        let base = t.life.at_baseline();
        let cgroup = super::report::cgroup_view(&mut t.cgroup);
        let (code, verdict) = explain::explain(&Inputs {
            now,
            base,
            cgroup: cgroup.as_ref(),
            cgroup_base: t.cgroup_base.as_ref(),
            heap: None,
        });
        Report {
            kind: note.kind,
            target: t.name.clone(),
            pid: t.inc.pid,
            unix_ms: unix_ms_now(),
            bytes: note.bytes,
            baseline_bytes: note.baseline,
            p50_bytes: note.p50,
            p95_bytes: note.p95,
            now,
            at_baseline: base,
            heap: None,
            verdict,
            verdict_code: code,
            detail: super::cgroup::oom_detail(note.kind, &now, cgroup.as_ref()),
            cgroup,
            dump: None,
        }
    }

    fn send(&self, report: Report) {
        if let Some(n) = &self.notifier {
            n.send(report);
        }
    }

    /// Gives queued messages a short grace at shutdown.
    pub fn finish(self) {
        if let Some(n) = self.notifier {
            n.finish(NOTIFY_GRACE);
        }
    }
}

/// A sample into the metrics (out of the tick's line: see `pass_notices`).
#[inline(never)]
fn export(
    r: &Registry,
    t: &mut Target,
    now: Instant,
    sample: &StatusSample,
    cgroup: Option<&Reading>,
) {
    r.sample(&t.name, t.inc.pid, sample);
    if let Some(c) = cgroup {
        let stat = c.stat;
        r.cgroup(
            &t.name,
            t.inc.pid,
            [
                c.usage,
                c.limit,
                c.working_set(),
                stat.and_then(|s| s.anon),
                stat.and_then(|s| s.file),
            ],
        );
    }
    if t.metrics_at
        .is_some_and(|at| now.saturating_duration_since(at) < WINDOW_EVERY)
    {
        return;
    }
    t.metrics_at = Some(now);
    let d = t.life.detector();
    let (p50, p95) = d.window().p50_p95().unzip();
    r.window(&t.name, t.inc.pid, p50, p95, d.baseline());
}

fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn dump_ref(outcome: CaptureOutcome, spooled: Option<&Spooled>) -> DumpRef {
    DumpRef {
        outcome,
        key: spooled.map(|s| s.key.clone()),
        uri: None,
        console_url: None,
        path: spooled.map(|s| s.path.display().to_string()),
    }
}
