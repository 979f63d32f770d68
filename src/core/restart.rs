//! The graceful-restart sequence (PRODUCT §3.9) as a pure state machine.
//!
//! One [`Sequence`] per target incarnation; one [`Budget`] per monitor,
//! shared by every incarnation (and every matched process), so a process
//! that keeps leaking after each restart is restarted at most N times per
//! period. The lifecycle feeds it: [`Sequence::trigger`] once an event's
//! dump was captured (or failed for good), [`Sequence::exited`] when the
//! incarnation is gone, and drains [`Sequence::poll`] each tick. It never
//! touches a process: [`Action::Send`] is carried out by the caller through
//! the incarnation's pidfd. No step allocates.

use std::fmt;
use std::time::{Duration, Instant};

use crate::core::event::Kind;
pub use crate::core::restart_plan::{
    BudgetSpec, Plan, PlanError, RestartConfig, Short, Signal, Step, Triggers, MAX_BUDGET,
    MAX_STEPS,
};

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Report `restart-requested`: the sequence starts; this is restart
    /// number `used` of the budget's period.
    Requested { used: usize },
    /// Report `restart-requested` for a dry run: nothing is sent.
    DryRun,
    /// Send this signal through the incarnation's pidfd.
    Send(Signal),
    /// Report `restart-failed`: still there RESTART_TIMEOUT after the last signal.
    Failed,
    /// Report `restart-budget-exhausted` (once until a restart happens again).
    Exhausted { used: usize },
}

/// How an incarnation's exit relates to its sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// No sequence was running.
    Unasked,
    /// It exited before the last signal: nothing more is sent.
    MidSequence,
    /// It exited after the last signal, as asked.
    AsAsked,
}

/// Restarts in the last period, across incarnations. In memory only: the
/// budget starts afresh when the monitor restarts.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    starts: heapless::Deque<Instant, MAX_BUDGET>,
    exhausted_said: bool,
}

impl Budget {
    pub fn new() -> Budget {
        Budget::default()
    }

    /// Restarts within `spec.period` before `now` (forgets older ones).
    pub fn used(&mut self, now: Instant, spec: BudgetSpec) -> usize {
        while self
            .starts
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= spec.period)
        {
            self.starts.pop_front();
        }
        self.starts.len()
    }

    fn record(&mut self, now: Instant) {
        if self.starts.is_full() {
            self.starts.pop_front();
        }
        // Cannot fail: there is room after the pop above.
        let _ = self.starts.push_back(now);
        self.exhausted_said = false;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    /// Before step `next`, due at `at`. `held`: a stopping signal was sent.
    Running {
        next: usize,
        at: Instant,
        held: bool,
        cont_sent: bool,
    },
    /// The last signal went out; the target has until `deadline` to exit.
    Waiting {
        deadline: Instant,
        held: bool,
    },
    /// Timed out: CONT (when held), then `restart-failed`.
    Failing {
        held: bool,
    },
}

/// The restart sequence of one incarnation.
#[derive(Debug, Clone)]
pub struct Sequence {
    state: State,
    /// A report due before anything else.
    pending: Option<Action>,
}

impl Default for Sequence {
    fn default() -> Sequence {
        Sequence::new()
    }
}

impl Sequence {
    pub fn new() -> Sequence {
        Sequence {
            state: State::Idle,
            pending: None,
        }
    }

    /// An event whose dump was captured, impossible, or failed for good.
    /// Starts the sequence when `kind` is in RESTART_ON, none is running and
    /// the budget allows; a dry run only reports and never uses the budget.
    pub fn trigger(&mut self, kind: Kind, now: Instant, cfg: &RestartConfig, budget: &mut Budget) {
        if !cfg.on.contains(kind) || self.state != State::Idle {
            return;
        }
        if cfg.dry_run {
            self.pending = Some(Action::DryRun);
            return;
        }
        let used = budget.used(now, cfg.budget);
        if used >= cfg.budget.count {
            if !budget.exhausted_said {
                budget.exhausted_said = true;
                self.pending = Some(Action::Exhausted { used });
            }
            return;
        }
        budget.record(now);
        self.pending = Some(Action::Requested { used: used + 1 });
        self.state = State::Running {
            next: 0,
            at: now,
            held: false,
            cont_sent: false,
        };
    }

    /// The next thing to do at `now`; call until `None`.
    pub fn poll(&mut self, now: Instant, cfg: &RestartConfig) -> Option<Action> {
        if let Some(a) = self.pending.take() {
            return Some(a);
        }
        loop {
            match self.state {
                State::Idle => return None,
                State::Running {
                    next,
                    at,
                    held,
                    cont_sent,
                } => {
                    if now < at {
                        return None;
                    }
                    match cfg.plan.steps().get(next) {
                        Some(&Step::Wait(d)) => {
                            self.state = State::Running {
                                next: next + 1,
                                at: later(now, d),
                                held,
                                cont_sent: false,
                            };
                        }
                        Some(&Step::Signal(sig)) => {
                            if held && !cont_sent && sig != Signal::CONT {
                                self.state = State::Running {
                                    next,
                                    at,
                                    held,
                                    cont_sent: true,
                                };
                                return Some(Action::Send(Signal::CONT));
                            }
                            let held = held || sig.stops();
                            self.state = if next + 1 >= cfg.plan.steps().len() {
                                State::Waiting {
                                    deadline: later(now, cfg.timeout),
                                    held,
                                }
                            } else {
                                State::Running {
                                    next: next + 1,
                                    at: now,
                                    held,
                                    cont_sent: sig == Signal::CONT,
                                }
                            };
                            return Some(Action::Send(sig));
                        }
                        // Unreachable with a parsed plan (it ends with a signal).
                        None => self.state = State::Idle,
                    }
                }
                State::Waiting { deadline, held } => {
                    if now < deadline {
                        return None;
                    }
                    self.state = State::Failing { held };
                }
                State::Failing { held: true } => {
                    self.state = State::Failing { held: false };
                    return Some(Action::Send(Signal::CONT));
                }
                State::Failing { held: false } => {
                    self.state = State::Idle;
                    return Some(Action::Failed);
                }
            }
        }
    }

    /// The incarnation is gone: the sequence stops, nothing more is sent
    /// (reports already due are still given by [`poll`](Self::poll)).
    pub fn exited(&mut self) -> Exit {
        let exit = match self.state {
            State::Idle => Exit::Unasked,
            State::Running { .. } => Exit::MidSequence,
            State::Waiting { .. } | State::Failing { .. } => Exit::AsAsked,
        };
        self.state = State::Idle;
        exit
    }

    /// The monitor is stopping mid-sequence: CONT if a stopping signal was
    /// sent, so the target is never left stopped.
    pub fn abandon(&mut self) -> Option<Action> {
        let held = match self.state {
            State::Running { held, .. } | State::Waiting { held, .. } | State::Failing { held } => {
                held
            }
            State::Idle => false,
        };
        self.state = State::Idle;
        self.pending = None;
        held.then_some(Action::Send(Signal::CONT))
    }

    /// A sequence is running (signals sent or due).
    pub fn active(&self) -> bool {
        self.state != State::Idle
    }

    /// When [`poll`](Self::poll) next has something to do, for the loop's
    /// sleep; `None` when idle.
    pub fn due(&self) -> Option<Instant> {
        match self.state {
            State::Idle => None,
            State::Running { at, .. } => Some(at),
            State::Waiting { deadline, .. } => Some(deadline),
            State::Failing { .. } => None,
        }
    }
}

/// `now + d`, or as late as an `Instant` allows.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// The `detail` text of a report, e.g. "restart budget exhausted: 2 in the
/// last 1h".
pub struct Detail<'a> {
    pub action: Action,
    pub cfg: &'a RestartConfig,
}

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cfg = self.cfg;
        match self.action {
            Action::Requested { used } => write!(
                f,
                "restart requested: {} (restart {used} of {} in {})",
                cfg.plan,
                cfg.budget.count,
                Short(cfg.budget.period)
            )?,
            Action::DryRun => write!(
                f,
                "restart requested (dry run, nothing sent): would send {}",
                cfg.plan
            )?,
            Action::Send(sig) => write!(f, "sending SIG{sig}")?,
            Action::Failed => {
                return write!(
                    f,
                    "restart failed: the target is still running {} after the last signal",
                    Short(cfg.timeout)
                )
            }
            Action::Exhausted { used } => {
                return write!(
                    f,
                    "restart budget exhausted: {used} in the last {}",
                    Short(cfg.budget.period)
                )
            }
        }
        if cfg.plan.stops() && matches!(self.action, Action::Requested { .. } | Action::DryRun) {
            f.write_str(
                "; CONT goes before each later signal and if the sequence is abandoned, \
                 since a stopping signal halts a process that does not handle it",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "restart_tests.rs"]
mod tests;
