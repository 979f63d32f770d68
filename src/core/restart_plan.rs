//! The restart settings (NAMES.md "Settings formats"), parsed once at start:
//! `RESTART_SIGNALS` (a signal, then signals and waits: `TSTP,30s,TERM`),
//! `RESTART_ON` (event names), `RESTART_BUDGET` (`N/period`). Pure: the
//! signal numbers are Linux's generic ones (x86, arm, riscv), checked
//! against libc in `sys`'s tests.

use std::fmt;
use std::time::Duration;

use crate::core::event::Kind;
use crate::core::units;

/// At most this many items in `RESTART_SIGNALS`.
pub const MAX_STEPS: usize = 16;
/// At most this many restarts per budget period (the budget keeps one
/// timestamp per restart in a fixed ring).
pub const MAX_BUDGET: usize = 64;

/// Linux signal names and numbers (without `SIG`), aliases after the names.
const NAMES: [(&str, u8); 33] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
    ("IOT", 6),
    ("POLL", 29),
];

/// A signal number in 1..=64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(u8);

impl Signal {
    pub const CONT: Signal = Signal(18);
    pub const TERM: Signal = Signal(15);

    /// `TERM`, `SIGTERM`, `sigterm` or `15`.
    pub fn parse(s: &str) -> Result<Signal, PlanError> {
        let s = s.trim();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<u8>() {
                Ok(n @ 1..=64) => Ok(Signal(n)),
                _ => Err(PlanError::BadSignal),
            };
        }
        let upper = s.get(..3).filter(|p| p.eq_ignore_ascii_case("SIG"));
        let bare = if upper.is_some() { &s[3..] } else { s };
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(bare))
            .map(|&(_, n)| Signal(n))
            .ok_or(PlanError::BadSignal)
    }

    pub fn number(self) -> i32 {
        i32::from(self.0)
    }

    /// TSTP, STOP, TTIN and TTOU stop a process that does not handle them,
    /// so later signals (other than KILL) would wait for a CONT.
    pub fn stops(self) -> bool {
        matches!(self.0, 19..=22)
    }

    /// The name without `SIG`, if it has one.
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|&&(_, n)| n == self.0).map(|&(s, _)| s)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// One item of `RESTART_SIGNALS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Signal(Signal),
    Wait(Duration),
}

/// A parsed `RESTART_SIGNALS`: starts and ends with a signal, never two
/// waits in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    steps: heapless::Vec<Step, MAX_STEPS>,
}

/// Why a restart setting was refused (the config layer adds the variable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
    Empty,
    BadSignal,
    BadItem,
    StartsWithWait,
    EndsWithWait,
    TwoWaits,
    TooLong,
    BadBudget,
    BudgetRange,
    NotEvent,
    NotTrigger(Kind),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Empty => f.write_str("empty item"),
            PlanError::BadSignal => {
                f.write_str("not a signal (want a name such as TERM or SIGTERM, or a number 1-64)")
            }
            PlanError::BadItem => f.write_str("an item is neither a signal nor a duration"),
            PlanError::StartsWithWait => f.write_str("must start with a signal"),
            PlanError::EndsWithWait => f.write_str(
                "must end with a signal (RESTART_TIMEOUT is the wait after the last one)",
            ),
            PlanError::TwoWaits => f.write_str("two waits in a row"),
            PlanError::TooLong => write!(f, "more than {MAX_STEPS} items"),
            PlanError::BadBudget => f.write_str("want N/period, e.g. 1/1h or 3/1d"),
            PlanError::BudgetRange => {
                write!(
                    f,
                    "N must be 1..={MAX_BUDGET} and the period longer than zero"
                )
            }
            PlanError::NotEvent => f.write_str("an item is not an event name"),
            PlanError::NotTrigger(k) => write!(
                f,
                "{k} cannot trigger a restart (want slow-leak, spike, leak-rate, time-to-limit, \
                 growth, pre-oom, memory-high or memory-pressure)"
            ),
        }
    }
}

impl std::error::Error for PlanError {}

impl Plan {
    pub fn parse(s: &str) -> Result<Plan, PlanError> {
        let mut steps = heapless::Vec::new();
        for item in s.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(PlanError::Empty);
            }
            // A bare number is a signal; a wait always has a unit.
            let digits = item.bytes().take_while(u8::is_ascii_digit).count();
            let step = if digits == 0 || digits == item.len() {
                Step::Signal(Signal::parse(item)?)
            } else {
                Step::Wait(units::parse_duration(item).map_err(|_| PlanError::BadItem)?)
            };
            match (steps.last(), step) {
                (None, Step::Wait(_)) => return Err(PlanError::StartsWithWait),
                (Some(Step::Wait(_)), Step::Wait(_)) => return Err(PlanError::TwoWaits),
                _ => {}
            }
            steps.push(step).map_err(|_| PlanError::TooLong)?;
        }
        match steps.last() {
            None => Err(PlanError::Empty),
            Some(Step::Wait(_)) => Err(PlanError::EndsWithWait),
            Some(Step::Signal(_)) => Ok(Plan { steps }),
        }
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The plan holds a signal that stops a process: CONT is sent before
    /// each later signal and when the sequence is abandoned.
    pub fn stops(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Signal(sig) if sig.stops()))
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match step {
                Step::Signal(sig) => write!(f, "SIG{sig}")?,
                Step::Wait(d) => write!(f, "wait {}", Short(*d))?,
            }
        }
        Ok(())
    }
}

/// `RESTART_BUDGET`: at most `count` restarts in any `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSpec {
    pub count: usize,
    pub period: Duration,
}

impl BudgetSpec {
    pub const DEFAULT: BudgetSpec = BudgetSpec {
        count: 1,
        period: Duration::from_secs(3600),
    };

    pub fn parse(s: &str) -> Result<BudgetSpec, PlanError> {
        let (n, period) = s.trim().split_once('/').ok_or(PlanError::BadBudget)?;
        let count = n
            .trim()
            .parse::<usize>()
            .map_err(|_| PlanError::BadBudget)?;
        let period = units::parse_duration(period).map_err(|_| PlanError::BadBudget)?;
        if !(1..=MAX_BUDGET).contains(&count) || period.is_zero() {
            return Err(PlanError::BudgetRange);
        }
        Ok(BudgetSpec { count, period })
    }
}

/// `RESTART_ON`: the events that start a sequence, as a bit set over [`Kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triggers(u32);

impl Triggers {
    /// `slow-leak`, plus the robust detector's `leak-rate` and `time-to-limit`.
    pub const DEFAULT: Triggers = Triggers(
        1 << Kind::SlowLeak as u32 | 1 << Kind::LeakRate as u32 | 1 << Kind::TimeToLimit as u32,
    );

    /// A comma-separated list of event names.
    pub fn parse(s: &str) -> Result<Triggers, PlanError> {
        let mut bits = 0u32;
        for item in s.split(',').map(str::trim) {
            let kind = Kind::parse(item).ok_or(PlanError::NotEvent)?;
            if !can_trigger(kind) {
                return Err(PlanError::NotTrigger(kind));
            }
            bits |= 1 << kind as u32;
        }
        Ok(Triggers(bits))
    }

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & (1 << kind as u32) != 0
    }
}

impl fmt::Display for Triggers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for kind in Kind::ALL.into_iter().filter(|&k| self.contains(k)) {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(kind.as_str())?;
            first = false;
        }
        Ok(())
    }
}

/// Detections about the target's memory; not the restart's own events,
/// not bookkeeping, not `baseline`, not `oom-kill` (the kernel already did).
fn can_trigger(kind: Kind) -> bool {
    (kind.takes_dump() && kind != Kind::Baseline)
        || matches!(kind, Kind::MemoryHigh | Kind::MemoryPressure)
}

/// Everything the restart sequence needs (see PRODUCT §3.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartConfig {
    pub plan: Plan,
    pub on: Triggers,
    pub budget: BudgetSpec,
    pub dry_run: bool,
    /// How long after the last signal the target may take to exit.
    pub timeout: Duration,
}

/// A duration the way users write it: `1h30m`, `30s`, `1s500ms`.
#[derive(Debug, Clone, Copy)]
pub struct Short(pub Duration);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let ms = self.0.subsec_millis();
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if secs == 0 && ms == 0 {
            return f.write_str("0s");
        }
        for (v, unit) in [(h, "h"), (m, "m"), (s, "s"), (u64::from(ms), "ms")] {
            if v > 0 {
                write!(f, "{v}{unit}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "restart_plan_tests.rs"]
mod tests;
