//! Whole target lives, without a process: samples and time in, actions out.

use std::time::{Duration, Instant};

use super::pairing::{Ended, Pairing};
use super::*;
use crate::core::detectors::Detection;
use crate::core::trend_rules::TrendParams;

const S: Duration = Duration::from_secs(1);
const MB: u64 = 1 << 20;

fn params() -> Params {
    Params {
        detect: DetectParams {
            detection: Detection::Compat,
            rules: crate::core::detector::Params {
                window_size: 5,
                threshold_bytes: 10 * MB,
                spike_multiplier_micros: 3_000_000,
                spike_cooldown: 5 * S,
                leak_cooldown: 60 * S,
            },
            trend: TrendParams::off(60 * S),
        },
        interval: S,
        initial_delay: 3 * S,
        baseline_settle: 2 * S,
        dump_retries: 3,
        retry_backoff: 2 * S,
        cgroup: Default::default(),
    }
}

/// One tick's actions.
fn on_tick(lc: &mut Lifecycle, tick: &Tick<'_>) -> Vec<Action> {
    let mut out = Actions::new();
    lc.on_tick(tick, &mut out);
    out.into_iter().collect()
}

fn sample(bytes: u64) -> StatusSample {
    StatusSample {
        rss_anon: Some(bytes),
        vm_rss: Some(bytes + MB),
        ..StatusSample::default()
    }
}

/// A target life on a one-second clock.
struct Life {
    t0: Instant,
    secs: u64,
    lc: Lifecycle,
}

impl Life {
    /// Found `found_at` seconds after the monitor started (a late start).
    fn new(t0: Instant, found_at: u64) -> Life {
        Life {
            t0,
            secs: found_at,
            lc: Lifecycle::new(params(), t0 + Duration::from_secs(found_at)),
        }
    }

    fn now(&self) -> Instant {
        self.t0 + Duration::from_secs(self.secs)
    }

    /// One tick of `bytes`, one second after the last.
    fn tick(&mut self, bytes: u64) -> Vec<Action> {
        self.secs += 1;
        let tick = Tick {
            now: self.now(),
            sample: sample(bytes),
            cgroup: None,
        };
        on_tick(&mut self.lc, &tick)
    }

    fn ticks(&mut self, bytes: u64, n: usize) -> Vec<Action> {
        (0..n).flat_map(|_| self.tick(bytes)).collect()
    }

    fn outcome(&mut self, kind: Kind, outcome: CaptureOutcome) -> Vec<Action> {
        self.lc
            .on_capture(kind, outcome, self.now())
            .into_iter()
            .collect()
    }

    /// Through the delay, the baseline dump (spooled) and the settle, with a
    /// full window at `bytes`.
    fn settle_and_watch(&mut self, bytes: u64) {
        let mut seen = self.ticks(bytes, 3);
        assert!(seen.contains(&Action::Phase(Phase::BaselineDump { bytes })));
        seen.extend(self.outcome(Kind::Baseline, CaptureOutcome::Spooled));
        seen.extend(self.ticks(bytes, 2));
        assert_eq!(seen.last(), Some(&Action::Phase(Phase::Watching)));
        let events = self.ticks(bytes, 5);
        assert!(matches!(
            events[..],
            [Action::Report(Note {
                kind: Kind::Baseline,
                dump: false,
                ..
            })]
        ));
    }
}

fn captures(actions: &[Action]) -> Vec<(Kind, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Capture(c) => Some((c.kind, c.attempt)),
            _ => None,
        })
        .collect()
}

fn reports(actions: &[Action]) -> Vec<(Kind, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Report(n) => Some((n.kind, n.dump)),
            _ => None,
        })
        .collect()
}

#[test]
fn late_start_waits_the_initial_delay_then_dumps_a_baseline_and_settles() {
    let t0 = Instant::now();
    let mut life = Life::new(t0, 500);
    assert!(life.ticks(100 * MB, 2).is_empty(), "within INITIAL_DELAY");
    let a = life.tick(100 * MB);
    assert_eq!(captures(&a), [(Kind::Baseline, 1)]);
    assert_eq!(life.lc.at_baseline(), Some(sample(100 * MB)));
    // Settling: a huge sample is not judged, the detector is not fed.
    assert!(life.tick(900 * MB).is_empty());
    assert_eq!(life.tick(100 * MB), [Action::Phase(Phase::Watching)]);
    assert!(life.lc.watching());
    assert!(life.lc.detector().window().is_empty());
}

#[test]
fn spike_then_leak_take_dumps_and_handle_them_on_their_outcome() {
    let t0 = Instant::now();
    let mut life = Life::new(t0, 0);
    life.settle_and_watch(100 * MB);
    let a = life.tick(400 * MB);
    assert_eq!(reports(&a), [(Kind::Spike, true)]);
    assert_eq!(captures(&a), [(Kind::Spike, 1)]);
    // The baseline moves only once the dump is in.
    assert_eq!(life.lc.detector().baseline(), Some(100 * MB));
    assert_eq!(
        life.outcome(Kind::Spike, CaptureOutcome::Spooled),
        [Action::Handled(Kind::Spike)]
    );
    assert_eq!(life.lc.pending(), 0);
    // A slow leak: P50 climbs past baseline + 10 MB.
    let a = life.ticks(120 * MB, 3);
    assert_eq!(
        reports(&a),
        [(Kind::SlowLeak, false)],
        "spike restarted the leak cooldown"
    );
    life.secs += 60;
    let a = life.ticks(140 * MB, 3);
    assert_eq!(captures(&a), [(Kind::SlowLeak, 1)]);
    // No socket: dump impossible, handled at once.
    assert_eq!(
        life.outcome(Kind::SlowLeak, CaptureOutcome::NoSocket),
        [Action::Handled(Kind::SlowLeak)]
    );
    assert_eq!(life.lc.detector().baseline(), Some(140 * MB));
    assert!(life.lc.leak_rate_per_hour() >= 0);
}

#[test]
fn a_failed_capture_is_retried_with_backoff_and_keeps_the_cooldown() {
    let t0 = Instant::now();
    let mut life = Life::new(t0, 0);
    life.settle_and_watch(100 * MB);
    let a = life.ticks(150 * MB, 3);
    assert_eq!(captures(&a), [(Kind::SlowLeak, 1)]);
    let empty = CaptureOutcome::Failed(CaptureFailure::Empty);
    let a = life.outcome(Kind::SlowLeak, empty);
    assert!(matches!(a[..], [Action::Retry { attempt: 2, after, .. }] if after == 2 * S));
    assert_eq!(life.lc.detector().baseline(), Some(100 * MB), "not burnt");
    assert!(life.tick(150 * MB).is_empty(), "1 s: not yet");
    assert_eq!(captures(&life.tick(150 * MB)), [(Kind::SlowLeak, 2)]);
    // The socket answers the second time: now the baseline moves.
    life.outcome(Kind::SlowLeak, CaptureOutcome::Spooled);
    assert_eq!(life.lc.detector().baseline(), Some(150 * MB));
    assert_eq!(life.lc.pending(), 0);
}

#[test]
fn after_the_last_retry_the_event_is_handled_as_dump_failed() {
    let t0 = Instant::now();
    let mut life = Life::new(t0, 0);
    life.settle_and_watch(100 * MB);
    life.ticks(150 * MB, 3);
    let timeout = CaptureOutcome::Failed(CaptureFailure::IdleTimeout);
    let mut waits = Vec::new();
    for attempt in 2..=4 {
        let a = life.outcome(Kind::SlowLeak, timeout);
        let Action::Retry { after, .. } = a[0] else {
            panic!("{a:?}")
        };
        waits.push(after.as_secs());
        let mut seen = Vec::new();
        while seen.is_empty() {
            seen = captures(&life.tick(150 * MB));
        }
        assert_eq!(seen, [(Kind::SlowLeak, attempt)]);
    }
    assert_eq!(waits, [2, 4, 8]);
    let a = life.outcome(Kind::SlowLeak, timeout);
    let [Action::Report(note), Action::Handled(Kind::SlowLeak)] = a[..] else {
        panic!("{a:?}")
    };
    assert_eq!(note.kind, Kind::DumpFailed);
    let f = note.failure.unwrap();
    assert_eq!(
        (f.event, f.last, f.attempts, f.cleared),
        (Kind::SlowLeak, CaptureFailure::IdleTimeout, 4, false)
    );
    assert_eq!(life.lc.detector().baseline(), Some(150 * MB), "handled now");
    assert_eq!(life.lc.pending(), 0);
}

#[test]
fn a_retry_is_dropped_when_the_condition_no_longer_holds() {
    let t0 = Instant::now();
    let mut life = Life::new(t0, 0);
    life.settle_and_watch(100 * MB);
    life.ticks(150 * MB, 3);
    // Memory falls back while the first attempt is in flight.
    assert!(life.ticks(100 * MB, 3).is_empty());
    life.outcome(
        Kind::SlowLeak,
        CaptureOutcome::Failed(CaptureFailure::Empty),
    );
    let a = life.ticks(100 * MB, 3);
    assert!(captures(&a).is_empty());
    let failed: Vec<_> = a
        .iter()
        .filter_map(|a| match a {
            Action::Report(n) if n.kind == Kind::DumpFailed => n.failure,
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].cleared);
}

#[test]
fn the_baseline_dump_is_retried_too() {
    let t0 = Instant::now();
    let mut life = Life::new(t0, 0);
    life.ticks(100 * MB, 3);
    let a = life.outcome(
        Kind::Baseline,
        CaptureOutcome::Failed(CaptureFailure::ConnectRefused),
    );
    assert!(matches!(
        a[..],
        [Action::Retry {
            kind: Kind::Baseline,
            ..
        }]
    ));
    // Settling continues meanwhile; the retry comes 2 s later.
    let a = life.ticks(100 * MB, 2);
    assert!(a.contains(&Action::Phase(Phase::Watching)));
    assert_eq!(captures(&a), [(Kind::Baseline, 2)]);
    life.outcome(Kind::Baseline, CaptureOutcome::Spooled);
    assert_eq!(life.lc.pending(), 0);
}

#[test]
fn a_restart_starts_a_new_life_paired_with_the_old_one() {
    let t0 = Instant::now();
    let mut pairing = Pairing::new();
    let mut old = Life::new(t0, 0);
    old.settle_and_watch(100 * MB);
    pairing.ended(Ended {
        name: "api".into(),
        ppid: 1,
        pid: 100,
        last: old.lc.last().unwrap(),
    });
    let new = Life::new(t0, old.secs + 1);
    assert_eq!(
        pairing.found("api", 1).map(|e| e.last),
        Some(sample(100 * MB))
    );
    // The new incarnation starts from scratch: delay, baseline dump, settle.
    assert!(!new.lc.watching());
    assert!(new.lc.detector().baseline().is_none());
}

#[test]
fn two_targets_restarting_at_once_keep_their_own_history() {
    let t0 = Instant::now();
    let mut pairing = Pairing::new();
    let mut a = Life::new(t0, 0);
    let mut b = Life::new(t0, 0);
    a.settle_and_watch(100 * MB);
    b.settle_and_watch(300 * MB);
    for (name, ppid, pid, life) in [("api", 7, 70, &a), ("worker", 8, 80, &b)] {
        pairing.ended(Ended {
            name: name.into(),
            ppid,
            pid,
            last: life.lc.last().unwrap(),
        });
    }
    let worker = pairing.found("worker", 8).unwrap();
    let api = pairing.found("api", 7).unwrap();
    assert_eq!((worker.pid, worker.last.rss_anon), (80, Some(300 * MB)));
    assert_eq!((api.pid, api.last.rss_anon), (70, Some(100 * MB)));
}

#[test]
fn a_delay_too_long_for_the_clock_never_ends_instead_of_overflowing() {
    let mut p = params();
    p.initial_delay = Duration::MAX;
    let mut lc = Lifecycle::new(p, Instant::now());
    let tick = Tick {
        now: Instant::now(),
        sample: sample(MB),
        cgroup: None,
    };
    assert!(on_tick(&mut lc, &tick).is_empty());
}

#[test]
fn samples_without_memory_fields_are_skipped() {
    let mut lc = Lifecycle::new(params(), Instant::now());
    let tick = Tick {
        now: Instant::now() + 10 * S,
        sample: StatusSample::default(),
        cgroup: None,
    };
    assert!(on_tick(&mut lc, &tick).is_empty());
    assert!(!lc.watching());
}
