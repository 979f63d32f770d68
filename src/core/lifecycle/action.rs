//! What a lifecycle asks the run loop to do.

use std::time::Duration;

use crate::core::detector::Event;
use crate::core::event::{CaptureFailure, Kind};

use super::MAX_ACTIONS;

/// Something the run loop must do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Ask the capture worker for a dump; answer with [`Lifecycle::on_capture`].
    Capture(Capture),
    /// Tell people: log it, notify, count it.
    Report(Note),
    /// A milestone of the life, for the log.
    Phase(Phase),
    /// The event's dump was captured, is impossible, or failed for good:
    /// what waits for the evidence (the restart sequence) may go ahead.
    Handled(Kind),
    /// A failed capture will be retried after `after`.
    Retry {
        kind: Kind,
        failed: CaptureFailure,
        attempt: u32,
        after: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture {
    pub kind: Kind,
    /// The watched metric when the event was detected.
    pub bytes: u64,
    pub baseline: Option<u64>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// INITIAL_DELAY is over: the baseline dump is requested.
    BaselineDump { bytes: u64 },
    /// BASELINE_SETTLE is over: the detector is fed from now on.
    Watching,
}

/// One reported event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Note {
    pub kind: Kind,
    /// The watched metric.
    pub bytes: u64,
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub baseline: Option<u64>,
    /// A dump is requested for it.
    pub dump: bool,
    /// For [`Kind::DumpFailed`]: which event's capture, and how it ended.
    pub failure: Option<Failure>,
}

impl Note {
    pub fn new(kind: Kind, bytes: u64) -> Note {
        Note {
            kind,
            bytes,
            p50: None,
            p95: None,
            baseline: None,
            dump: false,
            failure: None,
        }
    }

    pub(super) fn from_event(e: &Event) -> Note {
        Note {
            kind: e.kind,
            bytes: e.bytes,
            p50: Some(e.p50),
            p95: Some(e.p95),
            baseline: Some(e.baseline),
            dump: e.dump,
            failure: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The event whose dump was not taken.
    pub event: Kind,
    /// The last attempt's cause.
    pub last: CaptureFailure,
    pub attempts: u32,
    /// Given up because the event's condition no longer held.
    pub cleared: bool,
}

pub type Actions = heapless::Vec<Action, MAX_ACTIONS>;
