//! Restart pairing, per target: when a process incarnation ends it is
//! remembered; a new incarnation found later is reported as its restart.
//! Two targets that restart at once are paired each with its own old
//! incarnation: by name and parent pid first (a supervisor restarts its own
//! child), then the oldest ended incarnation of the same name.

use crate::core::status::StatusSample;

/// At most this many ended incarnations are remembered; older ones are forgotten.
pub const MAX_ENDED: usize = 64;

/// An incarnation that ended, waiting for its successor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub name: String,
    /// The parent's pid when it was found.
    pub ppid: u32,
    pub pid: u32,
    pub last: StatusSample,
}

#[derive(Debug, Default)]
pub struct Pairing {
    /// Oldest first.
    ended: Vec<Ended>,
}

impl Pairing {
    pub fn new() -> Pairing {
        Pairing::default()
    }

    pub fn ended(&mut self, e: Ended) {
        if self.ended.len() >= MAX_ENDED {
            self.ended.remove(0);
        }
        self.ended.push(e);
    }

    /// The ended incarnation a new one called `name` with parent `ppid`
    /// replaces, if any (taken: each is paired once).
    pub fn found(&mut self, name: &str, ppid: u32) -> Option<Ended> {
        let i = self
            .ended
            .iter()
            .position(|e| e.name == name && e.ppid == ppid)
            .or_else(|| self.ended.iter().position(|e| e.name == name))?;
        Some(self.ended.remove(i))
    }

    pub fn len(&self) -> usize {
        self.ended.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ended.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(name: &str, ppid: u32, pid: u32) -> Ended {
        Ended {
            name: name.into(),
            ppid,
            pid,
            last: StatusSample::default(),
        }
    }

    #[test]
    fn two_targets_restarting_at_once_are_paired_each_with_its_own() {
        let mut p = Pairing::new();
        p.ended(ended("api", 10, 100));
        p.ended(ended("worker", 20, 200));
        // The worker comes back first: it is not taken for the api's restart.
        assert_eq!(p.found("worker", 20).map(|e| e.pid), Some(200));
        assert_eq!(p.found("api", 10).map(|e| e.pid), Some(100));
        assert!(p.is_empty());
        assert_eq!(p.found("api", 10), None, "each is paired once");
    }

    #[test]
    fn twins_pair_by_parent_then_by_name() {
        let mut p = Pairing::new();
        p.ended(ended("api", 10, 100));
        p.ended(ended("api", 11, 101));
        assert_eq!(p.found("api", 11).map(|e| e.pid), Some(101));
        // A new parent (the supervisor restarted too): the oldest of the name.
        assert_eq!(p.found("api", 99).map(|e| e.pid), Some(100));
        assert_eq!(p.found("other", 10), None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut p = Pairing::new();
        for pid in 0..(MAX_ENDED as u32 + 5) {
            p.ended(ended("api", 1, pid));
        }
        assert_eq!(p.len(), MAX_ENDED);
        assert_eq!(p.found("api", 1).map(|e| e.pid), Some(5));
    }
}
