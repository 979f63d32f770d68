//! The home of per-target rules beyond the detector (cgroup events, pre-oom,
//! trend rules, restart sequences). See the lifecycle's module doc for how
//! to add one.

use std::time::Instant;

use super::{metric, Note, Params, Tick};
use crate::core::cgroup_rules::{self, CgroupParams, Reading};
use crate::core::event::Kind;

/// What a rule wants done (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Want {
    Report(Note),
    /// Report and capture.
    Capture(Note),
}

/// Every rule beyond the detector. Each is off unless its setting asks for it.
#[derive(Debug)]
pub struct Rules {
    cgroup_params: CgroupParams,
    /// oom-kill, memory-high, memory-pressure, pre-oom (issue 9).
    cgroup: cgroup_rules::Rules,
}

impl Rules {
    pub fn new(params: &Params) -> Rules {
        Rules {
            cgroup_params: params.cgroup,
            cgroup: cgroup_rules::Rules::new(params.cgroup.rules),
        }
    }

    /// Feeds every rule one tick; what they want goes to `out` (at most
    /// [`MAX_ACTIONS`] / 2 per tick).
    pub fn on_tick(&mut self, tick: &Tick<'_>, out: &mut heapless::Vec<Want, 4>) {
        let Some(bytes) = metric(&self.cgroup_params, tick) else {
            return;
        };
        if let Some(r) = tick.cgroup {
            // Held-back detections are not notified (NAMES.md).
            for f in self.cgroup.on_reading(tick.now, r) {
                if !f.held_back {
                    let _ = out.push(Want::Report(Note::new(f.kind, bytes)));
                }
            }
        }
        let limit = cgroup_rules::known_limit(self.cgroup_params.memory_limit, tick.cgroup);
        if self.cgroup.pre_oom(bytes, limit) {
            let mut note = Note::new(Kind::PreOom, bytes);
            note.dump = true;
            let _ = out.push(Want::Capture(note));
        }
    }

    /// The target vanished; `r` was read right then.
    pub fn on_vanish(&mut self, now: Instant, r: &Reading) -> Option<Note> {
        let fired = self.cgroup.on_reading(now, r);
        fired
            .into_iter()
            .find(|f| f.kind == Kind::OomKill && !f.held_back)
            .map(|f| Note::new(f.kind, 0))
    }

    /// A rule's capture was handled: its cooldown starts.
    pub fn handled(&mut self, _kind: Kind, _now: Instant) {}

    /// Whether a rule's condition for `kind` still holds (true if not a rule's).
    pub fn holds(&self, _kind: Kind) -> bool {
        true
    }
}
