//! The home of per-target rules beyond the detector (cgroup events, pre-oom,
//! trend rules, restart sequences). See the lifecycle's module doc for how
//! to add one.

use std::time::Instant;

use super::{Note, Params, Tick};
use crate::core::event::Kind;

/// What a rule wants done (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Want {
    Report(Note),
    /// Report and capture.
    Capture(Note),
}

/// Every rule beyond the detector (none yet; see the lifecycle's module doc). Every field is an `Option`: `None` = that rule is off.
#[derive(Debug, Default)]
pub struct Rules {}

impl Rules {
    pub fn new(_params: &Params) -> Rules {
        Rules {}
    }

    /// Feeds every rule one tick; what they want goes to `out` (at most
    /// [`MAX_ACTIONS`] / 2 per tick).
    pub fn on_tick(&mut self, _tick: &Tick<'_>, _out: &mut heapless::Vec<Want, 4>) {}

    /// A rule's capture was handled: its cooldown starts.
    pub fn handled(&mut self, _kind: Kind, _now: Instant) {}

    /// Whether a rule's condition for `kind` still holds (true if not a rule's).
    pub fn holds(&self, _kind: Kind) -> bool {
        true
    }
}
