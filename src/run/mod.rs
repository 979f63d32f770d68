//! The loop, on one thread: where `core` meets `io`. It decides nothing:
//! each tick it `pread`s every tracked target's open status file into one
//! fixed buffer, feeds the target's [`Lifecycle`] and carries out the
//! actions it returns (capture, log, phase), then sleeps until the next
//! deadline. A steady-state tick allocates nothing and never scans `/proc`;
//! scans run only on the ticks where one is due (`core::lifecycle::rescan`:
//! backing off while a target is missing, every 30 s while all are healthy). Dumps go to the capture
//! worker, so a slow socket never delays sampling; their outcomes come back
//! to the lifecycle on a later tick.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::capture::{Done, Job, Refused, Spooled, Worker};
use crate::config::{Config, TargetSpec};
use crate::core::event::{CaptureFailure, CaptureOutcome, CgroupView, Kind};
use crate::core::lifecycle::missing::Missing;
use crate::core::lifecycle::pairing::Pairing;
use crate::core::lifecycle::rescan::Rescan;
use crate::core::lifecycle::{self, Action, Actions, Capture, Lifecycle, Phase, Tick};
use crate::io::burst::Trim;
use crate::io::cgroup::CgroupFiles;
use crate::io::discover::Incarnation;
use crate::io::procfs::{ReadError, StatusFile};
use crate::io::{log, spool::Spool};
use crate::sys::signal;

mod cgroup;
mod record;
mod report;
mod restart;
mod targets;
mod tell;

use record::Recorder;
use report::report;
use restart::Restarts;
pub use tell::Telling;

/// How long shutdown waits for a dump in flight to finish and be spooled
/// (without one, the monitor stops at once).
pub const CAPTURE_GRACE: Duration = Duration::from_secs(10);

struct Target {
    inc: Incarnation,
    ppid: u32,
    name: String,
    socket: PathBuf,
    status: StatusFile,
    life: Lifecycle,
    record: Option<Recorder>,
    /// Shared with its capture jobs: false once the incarnation is gone.
    alive: Arc<AtomicBool>,
    /// When the window's percentiles were last exported.
    metrics_at: Option<Instant>,
    /// The memory cgroup's open files; `None` = /proc only.
    cgroup: Option<CgroupFiles>,
    /// The cgroup when the baseline dump was requested.
    cgroup_base: Option<CgroupView>,
    /// The restart sequence and the pidfd it signals through (RESTART_SIGNALS).
    restart: Option<restart::Handle>,
}

pub struct Monitor {
    config: Config,
    params: lifecycle::Params,
    targets: Vec<Target>,
    capture: Option<Worker>,
    waiting_logged: bool,
    missing: Missing,
    rescan: Rescan,
    pairing: Pairing,
    lost: usize,
    recorded_once: bool,
    tell: Telling,
    restarts: Option<Restarts>,
}

impl Monitor {
    /// `spool` is `None` when it could not be opened: monitoring goes on,
    /// events are reported without dumps. `on_done` hears about every capture.
    pub fn new(
        config: Config,
        spool: Option<Spool>,
        on_done: Box<dyn Fn(&Done) + Send>,
    ) -> Monitor {
        let capture = spool.and_then(|spool| {
            let prefix = config
                .s3
                .as_ref()
                .map(|s| s.prefix.clone())
                .unwrap_or_default();
            let worker = Worker::spawn(
                spool,
                config.capture.clone(),
                config.pod_name.clone(),
                prefix,
                on_done,
            );
            worker
                .map_err(|e| log::error("capture-unavailable", &[("error", &e)]))
                .ok()
        });
        // A fixed pid has nothing new to find while it is healthy.
        let periodic = !matches!(config.target, TargetSpec::Pid(_));
        Monitor {
            restarts: config.restart.clone().map(Restarts::new),
            params: config.lifecycle(),
            config,
            targets: Vec::new(),
            capture,
            waiting_logged: false,
            missing: Missing::default(),
            rescan: Rescan::new(periodic),
            pairing: Pairing::new(),
            lost: 0,
            recorded_once: false,
            tell: Telling::default(),
        }
    }

    /// Notifications and metrics (off by default).
    pub fn with_telling(mut self, tell: Telling) -> Monitor {
        self.tell = tell;
        self
    }

    /// Runs until SIGTERM / SIGINT. Never inlined: its code is the tick's,
    /// gathered with the functions it calls (src/link/tick.ld).
    #[inline(never)]
    pub fn run(mut self) {
        let interval = self.config.detect.interval;
        let mut buf = [0u8; 4096];
        let mut deadline = Instant::now();
        // Start-up and each burst of captures, uploads and notifications
        // leave their code mapped; handed back once over (io::burst).
        let mut trim = Trim::default();
        while !signal::stopping() {
            let now = Instant::now();
            if now < deadline {
                // Woken between ticks for a restart sequence's next step.
                self.restart_steps(now);
            } else {
                self.step(now, &mut buf);
                trim.poll(now);
                deadline = deadline.checked_add(interval).unwrap_or(deadline);
            }
            let now = Instant::now();
            if deadline < now {
                deadline = now.checked_add(interval).unwrap_or(now);
            }
            let wake = Restarts::due(&self.targets).map_or(deadline, |d| d.min(deadline));
            if signal::sleep(wake.saturating_duration_since(now)) {
                break;
            }
        }
        self.shut_down();
    }

    /// After SIGTERM / SIGINT: restart sequences abandoned, a dump in
    /// flight given [`CAPTURE_GRACE`], queued messages a short grace. Out of
    /// the loop's function, so the loop's code is the tick's alone
    /// (src/link/tick.ld).
    #[cold]
    #[inline(never)]
    fn shut_down(mut self) {
        log::info("stopping", &[("signal", &signal::last_signal())]);
        if let Some(r) = self.restarts.as_mut() {
            for t in &mut self.targets {
                r.abandon(t);
            }
        }
        if let Some(worker) = self.capture.take() {
            let stopping = worker.finish();
            if stopping.in_flight() {
                log::info("capture-grace", &[("wait_ms", &CAPTURE_GRACE.as_millis())]);
                let started = Instant::now();
                while !stopping.is_finished() && started.elapsed() < CAPTURE_GRACE {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        std::mem::take(&mut self.tell).finish();
    }

    /// One pass of the loop at `now`: capture outcomes, a scan when one is
    /// due, then a sample of every target. Allocation-free once every target
    /// is found and watched and no event fires.
    pub fn step(&mut self, now: Instant, buf: &mut [u8]) {
        self.tell.beat(now, self.targets.is_empty());
        self.outcomes(now);
        if self.rescan.due(now) {
            self.look(now);
        }
        self.tick(now, buf);
        self.restart_steps(now);
        let tracked = !self.targets.is_empty();
        let after = self.config.target_missing_after;
        if let Some(missing) = self.missing.check(now, tracked, after) {
            self.report_missing(missing);
        }
    }

    #[cold]
    #[inline(never)]
    fn report_missing(&mut self, missing: Duration) {
        let spec = report::spec_text(&self.config.target);
        self.tell.missing(&spec, missing);
    }

    /// Restart sequences' steps that are due.
    fn restart_steps(&mut self, now: Instant) {
        if let Some(r) = self.restarts.as_mut() {
            for t in &mut self.targets {
                r.poll(t, now);
            }
            for report in r.reports() {
                self.tell.forward(report);
            }
        }
    }

    /// The targets being watched (found, past the delay and the settle).
    pub fn watching(&self) -> usize {
        self.targets.iter().filter(|t| t.life.watching()).count()
    }

    fn tick(&mut self, now: Instant, buf: &mut [u8]) {
        let mut i = 0;
        while i < self.targets.len() {
            let Some(t) = self.targets.get_mut(i) else {
                break;
            };
            match t.status.read(buf) {
                Ok(sample) => {
                    let reading = cgroup::read(t, now, self.params.cgroup.metric.needs_stat());
                    let tick = Tick {
                        now,
                        sample,
                        cgroup: reading.as_ref(),
                    };
                    // The watched metric, as the detector sees it (replayable).
                    if let (Some(r), Some(bytes)) =
                        (&mut t.record, lifecycle::metric(&self.params.cgroup, &tick))
                    {
                        r.row(now, bytes);
                    }
                    let mut actions = Actions::new();
                    t.life.on_tick(&tick, &mut actions);
                    self.tell.sample(t, now, &sample, reading.as_ref());
                    // Moving the actions into an iterator copies all of
                    // their fixed storage (872 bytes); a quiet tick has none.
                    if !actions.is_empty() {
                        for a in actions {
                            self.act(i, a, now);
                        }
                    }
                    i += 1;
                }
                Err(ReadError::Gone) => {
                    let t = self.targets.swap_remove(i);
                    self.gone(t);
                }
                Err(ReadError::Io(e)) => {
                    skipped(t, &e);
                    i += 1;
                }
            }
        }
    }

    /// Hands finished captures to their target's lifecycle.
    fn outcomes(&mut self, now: Instant) {
        while let Some(done) = self.capture.as_ref().and_then(Worker::try_done) {
            self.deliver(done, now);
        }
    }

    #[inline(never)]
    fn deliver(&mut self, done: Done, now: Instant) {
        let inc = Incarnation {
            pid: done.pid,
            starttime: done.starttime,
        };
        // The target may be gone meanwhile: its outcome has no one to go to.
        if let Some(i) = self.targets.iter().position(|t| t.inc == inc) {
            self.outcome(i, done.kind, done.outcome, done.spooled.as_ref(), now);
        }
    }

    fn outcome(
        &mut self,
        i: usize,
        kind: Kind,
        outcome: CaptureOutcome,
        spooled: Option<&Spooled>,
        now: Instant,
    ) {
        let Some(t) = self.targets.get_mut(i) else {
            return;
        };
        self.tell.captured(t, kind, outcome, spooled);
        for a in t.life.on_capture(kind, outcome, now) {
            self.act(i, a, now);
        }
    }

    fn act(&mut self, i: usize, action: Action, now: Instant) {
        let Some(t) = self.targets.get(i) else {
            return;
        };
        match action {
            Action::Capture(c) => self.request(i, c, now),
            Action::Handled(_) => {}
            Action::Report(note) => {
                if let Some(t) = self.targets.get_mut(i) {
                    report(t, &note, &self.config);
                }
                if let Some(t) = self.targets.get_mut(i) {
                    self.tell.note(t, &note);
                }
            }
            Action::Phase(Phase::BaselineDump { bytes }) => {
                log::info(
                    "baseline-dump",
                    &[
                        ("target", &t.name),
                        ("pid", &t.inc.pid),
                        ("rss_anon", &bytes),
                    ],
                );
                if let Some(t) = self.targets.get_mut(i) {
                    t.cgroup_base = report::cgroup_view(&mut t.cgroup);
                }
            }
            Action::Phase(Phase::Watching) => log::info(
                "watching",
                &[
                    ("target", &t.name),
                    ("pid", &t.inc.pid),
                    ("window", &self.params.detect.rules.window_size),
                    ("detection", &self.params.detect.detection.as_str()),
                ],
            ),
            Action::Retry {
                kind,
                failed,
                attempt,
                after,
            } => log::warn(
                "dump-retry",
                &[
                    ("target", &t.name),
                    ("pid", &t.inc.pid),
                    ("reason", &kind),
                    ("outcome", &failed.as_str()),
                    ("attempt", &attempt),
                    ("after_ms", &after.as_millis()),
                ],
            ),
        }
        if let (Some(r), Some(t)) = (self.restarts.as_mut(), self.targets.get_mut(i)) {
            r.on_action(t, &action, now);
        }
    }

    fn request(&mut self, i: usize, c: Capture, now: Instant) {
        let Some(t) = self.targets.get(i) else {
            return;
        };
        let job = Job {
            pid: t.inc.pid,
            starttime: t.inc.starttime,
            target: t.name.clone(),
            socket: t.socket.clone(),
            kind: c.kind,
            attempt: c.attempt,
            rss_anon_bytes: Some(c.bytes),
            baseline_bytes: c.baseline,
            requested: SystemTime::now(),
            queued: now,
            alive: Arc::clone(&t.alive),
        };
        let refused = match &self.capture {
            Some(w) => w.request(job).err(),
            None => Some(Refused::Stopped),
        };
        let (why, outcome) = match refused {
            None => return,
            // Busy: retried with backoff like any failed capture.
            Some(Refused::Full) => (
                "capture queue full",
                CaptureOutcome::Failed(CaptureFailure::Busy),
            ),
            // No spool: a dump is impossible, like a target without a socket.
            Some(Refused::Stopped) => ("no usable spool", CaptureOutcome::NoSocket),
        };
        log::warn(
            "dump-not-taken",
            &[
                ("target", &t.name),
                ("reason", &c.kind),
                ("outcome", &outcome.as_str()),
                ("why", &why),
            ],
        );
        self.outcome(i, c.kind, outcome, None, now);
    }
}

#[cold]
#[inline(never)]
fn skipped(t: &Target, e: &std::io::Error) {
    log::warn(
        "sample-skipped",
        &[("target", &t.name), ("pid", &t.inc.pid), ("error", e)],
    );
}
