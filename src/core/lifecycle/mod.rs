//! One target incarnation's life, pure: samples, `Instant`s and capture
//! outcomes in, [`Action`]s out. The run loop reads `/proc`, feeds this and
//! carries out what it returns; it decides nothing itself.
//!
//! ```text
//!  found ──INITIAL_DELAY──> baseline dump ──BASELINE_SETTLE──> watching
//!                           (Capture Baseline)                 (detector, rules)
//! ```
//!
//! - Late start: a lifecycle begins when its process is found, whenever that is.
//! - Captures: every dump (the baseline's, a detector event's, a rule's) is
//!   one [`Pending`] entry until its outcome is known. `Spooled` or `NoSocket`
//!   (dump impossible) handle the event at once; a `Failed` capture is retried
//!   after 2 s, 4 s, 8 s … (`DUMP_RETRIES`) while the event's condition holds,
//!   then handled as `dump-failed` (a [`Note`] with [`Kind::DumpFailed`]).
//!   "Handled" is when the detector moves its baseline and starts the cooldown;
//!   it comes out as [`Action::Handled`], which is when a restart sequence
//!   may start (the evidence is safe).
//! - Restarts are paired per target by [`pairing::Pairing`]; `/proc` is
//!   scanned when [`rescan::Rescan`] says so (backoff while a target is
//!   missing, a slow rescan while all are healthy). Each new incarnation
//!   gets a fresh `Lifecycle`.
//!
//! ## Adding a rule (cgroup events, pre-oom, trend rules, restart sequences)
//! A rule is its own small state machine in `core`, fed readings and
//! `Instant`s. To plug one in:
//! 1. add an `Option<YourRule>` field to [`Rules`] and build it in
//!    [`Rules::new`] from a setting in [`Params`] (`None` = off);
//! 2. feed it in [`Rules::on_tick`] from the [`Tick`] (status sample, cgroup
//!    reading, time); push [`Want::Report`] for what it only reports and
//!    [`Want::Capture`] for what takes a dump;
//! 3. answer [`Rules::handled`] / [`Rules::holds`] for the kinds it owns, so
//!    its captures get the same retries and its cooldown starts only once the
//!    dump was handled.
//!
//! New readings come in through [`Tick`] (add a field there, like the cgroup
//! view, as an `Option`).

use std::time::{Duration, Instant};

use crate::core::cgroup_rules::{self, CgroupParams, Reading};
use crate::core::detectors::{DetectParams, Detectors};
use crate::core::event::{CaptureFailure, CaptureOutcome, Kind};
use crate::core::status::StatusSample;

mod action;
pub mod missing;
pub mod pairing;
pub mod rescan;
mod rules;
#[cfg(test)]
mod tests;

pub use action::{Action, Actions, Capture, Failure, Note, Phase};
pub use rules::{Rules, Want};

/// At most this many captures wait for an outcome per target (the baseline
/// dump, the detector's event and rules' dumps).
pub const MAX_PENDING: usize = 4;
/// At most this many actions come out of one call.
pub const MAX_ACTIONS: usize = 12;

/// The settings a lifecycle runs on (built by `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub detect: DetectParams,
    /// CHECK_INTERVAL: one sample per interval.
    pub interval: Duration,
    pub initial_delay: Duration,
    pub baseline_settle: Duration,
    /// DUMP_RETRIES: retries of a failed capture after the first attempt.
    pub dump_retries: u32,
    /// The first retry's wait; doubled for each later one.
    pub retry_backoff: Duration,
    /// MEMORY_METRIC, MEMORY_LIMIT and the cgroup rules.
    pub cgroup: CgroupParams,
}

/// What one tick brings: the time, the status sample and any other readings.
#[derive(Debug, Clone, Copy)]
pub struct Tick<'a> {
    pub now: Instant,
    pub sample: StatusSample,
    /// The target's memory cgroup, when the loop reads it (the last
    /// reading: files are read at most once a second).
    pub cgroup: Option<&'a Reading>,
}

/// A capture waiting for its outcome or for its retry.
#[derive(Debug, Clone, Copy)]
struct Pending {
    kind: Kind,
    bytes: u64,
    baseline: Option<u64>,
    /// Attempts that failed so far.
    failed: u32,
    last: CaptureFailure,
    /// `None` while an attempt is in flight.
    retry_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `None` = never (a delay too long for the clock).
    Delay(Option<Instant>),
    Settle(Option<Instant>),
    Watching,
}

pub struct Lifecycle {
    params: Params,
    stage: Stage,
    detector: Box<Detectors>,
    rules: Rules,
    pending: heapless::Vec<Pending, MAX_PENDING>,
    last: Option<StatusSample>,
    at_baseline: Option<StatusSample>,
}

impl Lifecycle {
    /// A target incarnation found at `now`.
    pub fn new(params: Params, now: Instant) -> Lifecycle {
        Lifecycle {
            params,
            stage: Stage::Delay(now.checked_add(params.initial_delay)),
            detector: Box::new(Detectors::new(params.detect)),
            rules: Rules::new(&params),
            pending: heapless::Vec::new(),
            last: None,
            at_baseline: None,
        }
    }

    /// The last status sample.
    pub fn last(&self) -> Option<StatusSample> {
        self.last
    }

    /// The status sample taken when the baseline dump was requested.
    pub fn at_baseline(&self) -> Option<StatusSample> {
        self.at_baseline
    }

    pub fn detector(&self) -> &Detectors {
        &self.detector
    }

    pub fn watching(&self) -> bool {
        self.stage == Stage::Watching
    }

    /// Captures waiting for an outcome or a retry.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The window's growth, in bytes per hour (0 until it can tell).
    pub fn leak_rate_per_hour(&self) -> i64 {
        let interval = self.params.interval.as_secs_f64();
        if interval <= 0.0 {
            return 0;
        }
        self.detector
            .window()
            .slope_per_tick()
            .map_or(0, |b| (b * 3600.0 / interval) as i64)
    }

    /// One tick: appends what to do to `out` (filled in place: returning
    /// the fixed-capacity Vec by value copied all 872 bytes of it after
    /// every sleep). Never allocates.
    pub fn on_tick(&mut self, tick: &Tick<'_>, out: &mut Actions) {
        let now = tick.now;
        self.last = Some(tick.sample);
        let Some(bytes) = metric(&self.params.cgroup, tick) else {
            return;
        };
        self.retries(now, out);
        match self.stage {
            Stage::Delay(until) if due(until, now) => {
                self.stage = Stage::Settle(now.checked_add(self.params.baseline_settle));
                self.at_baseline = Some(tick.sample);
                push(out, Action::Phase(Phase::BaselineDump { bytes }));
                self.capture(Kind::Baseline, bytes, None, now, out);
            }
            Stage::Settle(until) if due(until, now) => {
                self.stage = Stage::Watching;
                push(out, Action::Phase(Phase::Watching));
            }
            Stage::Watching => {
                if let Some(cg) = tick.cgroup {
                    self.detector.set_cgroup_limit(cg.limit);
                }
                if let Some(e) = self.detector.on_sample(now, bytes) {
                    push(out, Action::Report(Note::from_event(&e)));
                    if e.dump {
                        self.capture(e.kind, bytes, Some(e.baseline), now, out);
                    }
                }
            }
            _ => {}
        }
        // Rules run from the start (an OOM kill or pre-oom during the
        // initial delay counts too).
        let mut wants = heapless::Vec::<Want, 4>::new();
        self.rules.on_tick(tick, &mut wants);
        // By reference: moving the Vec into an iterator copies all of it.
        for &want in &wants {
            match want {
                Want::Report(note) => push(out, Action::Report(note)),
                Want::Capture(note) => {
                    push(out, Action::Report(note));
                    self.capture(note.kind, note.bytes, note.baseline, now, out);
                }
            }
        }
    }

    /// The outcome of a capture asked for with [`Action::Capture`].
    pub fn on_capture(&mut self, kind: Kind, outcome: CaptureOutcome, now: Instant) -> Actions {
        let mut out = Actions::new();
        let Some(i) = self
            .pending
            .iter()
            .position(|p| p.kind == kind && p.retry_at.is_none())
        else {
            return out;
        };
        match outcome {
            CaptureOutcome::Spooled | CaptureOutcome::NoSocket => {
                self.pending.swap_remove(i);
                self.handled(kind, now, &mut out);
            }
            CaptureOutcome::Failed(cause) => {
                let Some(p) = self.pending.get_mut(i) else {
                    return out;
                };
                p.failed = p.failed.saturating_add(1);
                p.last = cause;
                if p.failed > self.params.dump_retries {
                    let p = self.pending.swap_remove(i);
                    self.give_up(p, false, now, &mut out);
                } else {
                    let shift = p.failed.saturating_sub(1).min(20);
                    let after = self.params.retry_backoff.saturating_mul(1 << shift);
                    p.retry_at = Some(now.checked_add(after).unwrap_or(now));
                    push(
                        &mut out,
                        Action::Retry {
                            kind,
                            failed: cause,
                            attempt: p.failed + 1,
                            after,
                        },
                    );
                }
            }
        }
        out
    }

    /// Due retries: asked for again while the condition holds, given up otherwise.
    fn retries(&mut self, now: Instant, out: &mut Actions) {
        let mut i = 0;
        while i < self.pending.len() {
            let Some(p) = self.pending.get(i).copied() else {
                break;
            };
            if p.retry_at.is_none_or(|at| now < at) {
                i += 1;
                continue;
            }
            if self.holds(p.kind) {
                if let Some(slot) = self.pending.get_mut(i) {
                    slot.retry_at = None;
                }
                push(
                    out,
                    Action::Capture(Capture {
                        kind: p.kind,
                        bytes: p.bytes,
                        baseline: p.baseline,
                        attempt: p.failed + 1,
                    }),
                );
                i += 1;
            } else {
                self.pending.swap_remove(i);
                self.give_up(p, true, now, out);
            }
        }
    }

    fn capture(
        &mut self,
        kind: Kind,
        bytes: u64,
        baseline: Option<u64>,
        now: Instant,
        out: &mut Actions,
    ) {
        let entry = Pending {
            kind,
            bytes,
            baseline,
            failed: 0,
            last: CaptureFailure::Io,
            retry_at: None,
        };
        if self.pending.iter().any(|p| p.kind == kind) {
            // The capture already waiting for this kind will handle it.
            return;
        }
        if self.pending.push(entry).is_err() {
            // No room: no dump, as if impossible.
            self.handled(kind, now, out);
            return;
        }
        push(
            out,
            Action::Capture(Capture {
                kind,
                bytes,
                baseline,
                attempt: 1,
            }),
        );
    }

    fn give_up(&mut self, p: Pending, cleared: bool, now: Instant, out: &mut Actions) {
        let mut note = Note::new(Kind::DumpFailed, p.bytes);
        note.baseline = p.baseline;
        note.failure = Some(Failure {
            event: p.kind,
            last: p.last,
            attempts: p.failed,
            cleared,
        });
        push(out, Action::Report(note));
        self.handled(p.kind, now, out);
    }

    /// The target vanished: `r` is its cgroup read right then. An `oom-kill`
    /// when the cgroup counted a new kill (the rules compare with the last
    /// reading they saw).
    pub fn on_vanish(&mut self, now: Instant, r: &Reading) -> Option<Note> {
        let mut note = self.rules.on_vanish(now, r)?;
        // The metric's last value (the reading the kill interrupted).
        note.bytes = self.last.and_then(|s| s.rss_anon.or(s.vm_rss)).unwrap_or(0);
        Some(note)
    }

    fn handled(&mut self, kind: Kind, now: Instant, out: &mut Actions) {
        self.detector.handled(kind, now);
        self.rules.handled(kind, now);
        push(out, Action::Handled(kind));
    }

    fn holds(&self, kind: Kind) -> bool {
        self.detector.holds(kind) && self.rules.holds(kind)
    }
}

/// The watched metric (MEMORY_METRIC); `rss_anon` when what it needs is
/// not readable (kernels before 4.5 have no RssAnon: VmRSS then).
pub fn metric(p: &CgroupParams, tick: &Tick<'_>) -> Option<u64> {
    cgroup_rules::select(p.metric, &tick.sample, tick.cgroup)
        .or(tick.sample.rss_anon)
        .or(tick.sample.vm_rss)
}

fn due(until: Option<Instant>, now: Instant) -> bool {
    until.is_some_and(|u| now >= u)
}

/// Adds an action; `MAX_ACTIONS` is sized so this never drops one.
fn push(out: &mut Actions, action: Action) {
    let _ = out.push(action);
}
