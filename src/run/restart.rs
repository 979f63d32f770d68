//! The restart sequence (PRODUCT §3.9) in the run loop: the pure
//! [`Sequence`] decides, this carries it out. Signals go only through the
//! incarnation's pidfd, opened right after its status file and bound to its
//! start time; there is no fallback to `kill(pid)`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::Target;
use crate::core::event::{Kind, Report};
use crate::core::lifecycle::Action as LifeAction;
use crate::core::restart::{Action, Budget, Detail, Exit, RestartConfig, Sequence, Short};
use crate::io::discover::Incarnation;
use crate::io::log;
use crate::io::pidfd::{self, PidFd};

/// A target's side: its pidfd (`None`: it can never be signalled) and its
/// sequence.
pub(super) struct Handle {
    pidfd: Option<PidFd>,
    seq: Sequence,
}

/// The settings and the budget, shared by every target and every
/// incarnation this monitor watches; in memory only.
pub(super) struct Restarts {
    cfg: RestartConfig,
    budget: Budget,
    /// Reports for the notifier and the metrics, taken by the loop.
    outbox: Vec<Report>,
}

impl Restarts {
    /// Says at start what will happen, and the CONT rule when it applies.
    pub(super) fn new(cfg: RestartConfig) -> Restarts {
        let cont = if cfg.plan.stops() {
            "before each later signal and if the sequence is abandoned"
        } else {
            "never"
        };
        let budget = format!("{}/{}", cfg.budget.count, Short(cfg.budget.period));
        log::info(
            "restart-enabled",
            &[
                ("signals", &cfg.plan),
                ("budget", &budget),
                ("timeout", &Short(cfg.timeout)),
                ("dry_run", &cfg.dry_run),
                ("cont", &cont),
            ],
        );
        Restarts {
            cfg,
            budget: Budget::new(),
            outbox: Vec::new(),
        }
    }

    /// Binds a pidfd to an incarnation whose status file was just opened;
    /// without one the target is only ever reported on.
    pub(super) fn bind(&self, inc: Incarnation, name: &str) -> Handle {
        // Signal 0 checks permission now, so a monitor that may not signal
        // the target says so at once instead of at the first leak.
        let bound = pidfd::open_incarnation(inc.pid, inc.starttime)
            .map_err(|e| e.to_string())
            .and_then(|fd| match fd.send(0) {
                Ok(()) => Ok(fd),
                Err(e) => Err(format!("may not signal it: {e}")),
            });
        let pidfd = match bound {
            Ok(fd) => Some(fd),
            Err(e) => {
                log::warn(
                    "restart-unavailable",
                    &[("target", &name), ("pid", &inc.pid), ("error", &e)],
                );
                None
            }
        };
        Handle {
            pidfd,
            seq: Sequence::new(),
        }
    }

    /// Starts a sequence once the evidence is safe: when an event's dump
    /// was captured, impossible, or failed for good ([`LifeAction::Handled`]),
    /// or at once for an event that takes no dump (memory-high, memory-pressure).
    pub(super) fn on_action(&mut self, t: &mut Target, action: &LifeAction, now: Instant) {
        match *action {
            LifeAction::Handled(kind) => self.handled(t, kind, now),
            LifeAction::Report(note) if !note.kind.takes_dump() => self.handled(t, note.kind, now),
            _ => {}
        }
    }

    fn handled(&mut self, t: &mut Target, kind: Kind, now: Instant) {
        let Some(h) = t.restart.as_mut() else {
            return;
        };
        if h.pidfd.is_none() && !self.cfg.dry_run {
            return;
        }
        h.seq.trigger(kind, now, &self.cfg, &mut self.budget);
        self.poll(t, now);
    }

    /// Carries out whatever is due.
    pub(super) fn poll(&mut self, t: &mut Target, now: Instant) {
        // Taken out for the duration, so `t` can be read while it runs.
        let Some(mut h) = t.restart.take() else {
            return;
        };
        self.drain(t, &mut h, now);
        t.restart = Some(h);
    }

    fn drain(&mut self, t: &Target, h: &mut Handle, mut now: Instant) {
        while let Some(action) = h.seq.poll(now, &self.cfg) {
            let Action::Send(sig) = action else {
                self.outbox.push(tell(t, action, &self.cfg));
                continue;
            };
            let Some(fd) = h.pidfd.as_ref() else { return };
            // Gone already: the sequence stops here.
            if fd.exited().unwrap_or(false) {
                stopped(t, h.seq.exited());
                return;
            }
            match fd.send(sig.number()) {
                Ok(()) => {
                    log::info(
                        "restart-signal",
                        &[("target", &t.name), ("pid", &t.inc.pid), ("signal", &sig)],
                    );
                    // A wait that follows starts now, once the signal is out,
                    // not when this step began: a slow step must not shorten it.
                    now = now.max(Instant::now());
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                    stopped(t, h.seq.exited());
                    return;
                }
                Err(e) => log::error(
                    "restart-signal-failed",
                    &[
                        ("target", &t.name),
                        ("pid", &t.inc.pid),
                        ("signal", &sig),
                        ("error", &e),
                    ],
                ),
            }
        }
    }

    /// The incarnation is gone.
    pub(super) fn gone(&mut self, t: &mut Target) {
        if let Some(mut h) = t.restart.take() {
            stopped(t, h.seq.exited());
        }
    }

    /// The monitor is stopping: never leave a target stopped.
    pub(super) fn abandon(&mut self, t: &mut Target) {
        let Some(h) = t.restart.as_mut() else {
            return;
        };
        if let (Some(Action::Send(sig)), Some(fd)) = (h.seq.abandon(), h.pidfd.as_ref()) {
            let result = fd.send(sig.number());
            log::info(
                "restart-abandoned",
                &[
                    ("target", &t.name),
                    ("pid", &t.inc.pid),
                    ("signal", &sig),
                    ("sent", &result.is_ok()),
                ],
            );
        }
    }

    /// The earliest time a sequence has something to do.
    pub(super) fn due(targets: &[Target]) -> Option<Instant> {
        targets
            .iter()
            .filter_map(|t| t.restart.as_ref()?.seq.due())
            .min()
    }
}

/// Logs how the incarnation's exit ended its sequence, if one was running.
fn stopped(t: &Target, exit: Exit) {
    let state = match exit {
        Exit::Unasked => return,
        Exit::MidSequence => "before the last signal",
        Exit::AsAsked => "after the last signal",
    };
    log::info(
        "restart-stopped",
        &[
            ("target", &t.name),
            ("pid", &t.inc.pid),
            ("why", &"target exited"),
            ("when", &state),
        ],
    );
}

impl Restarts {
    /// Reports since the last call, for the notifier and the metrics.
    pub(super) fn reports(&mut self) -> std::vec::Drain<'_, Report> {
        self.outbox.drain(..)
    }
}

/// Logs a restart event and builds its report (`detail` says what happened).
fn tell(t: &Target, action: Action, cfg: &RestartConfig) -> Report {
    let kind = match action {
        Action::Requested { .. } | Action::DryRun => Kind::RestartRequested,
        Action::Failed => Kind::RestartFailed,
        Action::Exhausted { .. } => Kind::RestartBudgetExhausted,
        Action::Send(_) => Kind::RestartRequested,
    };
    let detail = Detail { action, cfg }.to_string();
    log::warn(
        kind.as_str(),
        &[
            ("target", &t.name),
            ("pid", &t.inc.pid),
            ("detail", &detail),
        ],
    );
    let now = t.life.last().unwrap_or_default();
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Report {
        bytes: now.rss_anon.or(now.vm_rss).unwrap_or(0),
        baseline_bytes: t.life.detector().baseline(),
        now,
        at_baseline: t.life.at_baseline(),
        ..Report::plain(kind, t.name.clone(), t.inc.pid, unix_ms, detail)
    }
}
