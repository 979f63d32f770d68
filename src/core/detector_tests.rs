//! Unit tests of `detector.rs` (beside it to keep that file short).

use super::*;

const S: Duration = Duration::from_secs(1);

fn params(window: usize) -> Params {
    Params {
        window_size: window,
        threshold_bytes: 100,
        spike_multiplier_micros: 3_000_000,
        spike_cooldown: S * window as u32,
        leak_cooldown: S * 30,
    }
}

/// Feeds `values` one second apart starting at `t0 + start` seconds;
/// every offered dump is handled at once, as replay does.
fn feed(d: &mut Detector, t0: Instant, start: u64, values: &[u64]) -> Vec<(u64, Event)> {
    let mut out = Vec::new();
    for (i, &v) in values.iter().enumerate() {
        let t = start + i as u64;
        let now = t0 + Duration::from_secs(t);
        if let Some(e) = d.on_sample(now, v) {
            if e.dump {
                d.handled(e.kind, now);
            }
            out.push((t, e));
        }
    }
    out
}

/// Feeds without handling anything.
fn feed_raw(d: &mut Detector, t0: Instant, start: u64, values: &[u64]) -> Vec<(u64, Event)> {
    let mut out = Vec::new();
    for (i, &v) in values.iter().enumerate() {
        let t = start + i as u64;
        if let Some(e) = d.on_sample(t0 + Duration::from_secs(t), v) {
            out.push((t, e));
        }
    }
    out
}

#[test]
fn an_offered_dump_moves_nothing_until_handled() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(3));
    feed(&mut d, t0, 0, &[1000; 3]);
    let ev = feed_raw(&mut d, t0, 3, &[1200, 1200]);
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].1.kind, ev[0].1.dump), (Kind::SlowLeak, true));
    assert_eq!(d.baseline(), Some(1000), "not moved before handled");
    assert!(d.holds(Kind::SlowLeak));
    // Still leaking, capture still pending: nothing else is offered.
    assert!(feed_raw(&mut d, t0, 5, &[1300, 1400]).is_empty());
    d.handled(Kind::SlowLeak, t0 + Duration::from_secs(7));
    assert_eq!(d.baseline(), Some(1300), "P50 of [1200, 1300, 1400]");
    // The cooldown started at handled: a new crossing is held back.
    let ev = feed(&mut d, t0, 8, &[1500, 1500]);
    assert_eq!((ev[0].1.kind, ev[0].1.dump), (Kind::SlowLeak, false));
}

#[test]
fn holds_follows_the_condition() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(60));
    feed(&mut d, t0, 0, &[100; 60]);
    let ev = feed_raw(&mut d, t0, 60, &[1000]);
    assert_eq!((ev[0].1.kind, ev[0].1.dump), (Kind::Spike, true));
    assert!(d.holds(Kind::Spike));
    feed_raw(&mut d, t0, 61, &[900]);
    assert!(d.holds(Kind::Spike), "900 > 3 × 100");
    feed_raw(&mut d, t0, 62, &[250]);
    assert!(!d.holds(Kind::Spike));
    assert!(!d.holds(Kind::SlowLeak));
    assert!(d.holds(Kind::PreOom), "not this detector's");
}

#[test]
fn baseline_once_the_window_is_first_full() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(5));
    let ev = feed(&mut d, t0, 0, &[10, 30, 20, 50, 40]);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0, 4);
    assert_eq!(ev[0].1.kind, Kind::Baseline);
    assert_eq!(ev[0].1.p50, 30);
    assert!(!ev[0].1.dump);
    assert_eq!(d.baseline(), Some(30));
}

#[test]
fn spike_compares_with_p95_before_the_sample_strictly() {
    let t0 = Instant::now();
    let full = || {
        let mut d = Detector::new(params(5));
        feed(&mut d, t0, 0, &[100; 5]);
        d
    };
    // Exactly P95 × 3 is not a spike; one byte more is.
    assert!(feed(&mut full(), t0, 5, &[300]).is_empty());
    let mut d = full();
    let ev = feed(&mut d, t0, 5, &[301]);
    assert_eq!(ev.len(), 1);
    let e = ev[0].1;
    assert_eq!((e.kind, e.dump, e.bytes), (Kind::Spike, true, 301));
    // On a small window the spike fires although the sample would be the max.
    assert_eq!(d.baseline(), Some(100));
}

#[test]
fn fractional_multiplier() {
    let t0 = Instant::now();
    let mut p = params(4);
    p.spike_multiplier_micros = 1_500_000;
    let full = || {
        let mut d = Detector::new(p);
        feed(&mut d, t0, 0, &[1000; 4]);
        d
    };
    assert!(feed(&mut full(), t0, 4, &[1500]).is_empty());
    assert_eq!(feed(&mut full(), t0, 4, &[1501])[0].1.kind, Kind::Spike);
}

#[test]
fn slow_leak_strictly_above_baseline_plus_threshold() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(3));
    feed(&mut d, t0, 0, &[1000; 3]);
    // P50 = 1100 = baseline + threshold: not a leak.
    assert!(feed(&mut d, t0, 3, &[1100, 1100]).is_empty());
    let ev = feed(&mut d, t0, 5, &[1101, 1101]);
    assert_eq!(ev.len(), 1);
    let e = ev[0].1;
    assert_eq!(
        (e.kind, e.dump, e.p50, e.baseline),
        (Kind::SlowLeak, true, 1101, 1000)
    );
    assert_eq!(
        d.baseline(),
        Some(1101),
        "baseline moves to P50 after a dump"
    );
}

#[test]
fn leak_cooldown_reports_once_per_episode_then_dumps_again() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(1));
    feed(&mut d, t0, 0, &[1000]);
    let ev = feed(&mut d, t0, 1, &[1200]);
    assert!(ev[0].1.dump);
    // Still above the moved baseline on the next tick: the same episode.
    assert!(feed(&mut d, t0, 2, &[1350]).is_empty());
    // Back under, then a new crossing inside the 30 s cooldown: reported
    // once, without a dump.
    assert!(feed(&mut d, t0, 3, &[1250]).is_empty());
    let ev = feed(&mut d, t0, 4, &[1400, 1500, 1600]);
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].0, ev[0].1.dump), (4, false));
    // At exactly 30 s after the dump the cooldown has passed.
    let ev = feed(&mut d, t0, 31, &[1700]);
    assert_eq!(ev.len(), 1);
    assert!(ev[0].1.dump);
    assert_eq!(ev[0].1.baseline, 1200);
}

#[test]
fn spike_priority_cooldown_and_leak_restart() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(3));
    feed(&mut d, t0, 0, &[100; 3]);
    // A spike that is also a slow leak once P50 rises: spike wins.
    let ev = feed(&mut d, t0, 3, &[1000]);
    assert_eq!(ev[0].1.kind, Kind::Spike);
    assert!(ev[0].1.dump);
    // Back to normal, then within the spike cooldown (3 ticks × 1 s) a
    // new spike is held back and reported once.
    assert!(feed(&mut d, t0, 4, &[100]).is_empty());
    let ev = feed(&mut d, t0, 5, &[5000]);
    assert_eq!((ev[0].1.kind, ev[0].1.dump), (Kind::Spike, false));
    // The spike dump restarted the slow-leak cooldown: a leak 10 s later is held back.
    let ev = feed(&mut d, t0, 14, &[5000, 5000]);
    assert!(ev.iter().all(|(_, e)| e.kind == Kind::SlowLeak && !e.dump));
    assert_eq!(ev.len(), 1);
    // 30 s after the spike it may dump.
    let ev = feed(&mut d, t0, 33, &[6000]);
    assert_eq!((ev[0].1.kind, ev[0].1.dump), (Kind::SlowLeak, true));
}

#[test]
fn a_spike_still_high_on_the_next_tick_is_the_same_episode() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(60));
    feed(&mut d, t0, 0, &[100; 60]);
    assert!(feed(&mut d, t0, 60, &[1000])[0].1.dump);
    // P95 of 60 samples ignores one high sample: the condition holds, silently.
    assert!(feed(&mut d, t0, 61, &[1000, 1000]).is_empty());
}

#[test]
fn spike_cooldown_is_window_times_interval() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(3));
    feed(&mut d, t0, 0, &[100; 3]);
    assert!(feed(&mut d, t0, 3, &[1000])[0].1.dump);
    feed(&mut d, t0, 4, &[100, 100, 100, 100]);
    // t=6 is exactly 3 s after the dump: allowed again.
    let t = t0 + Duration::from_secs(6);
    let mut d2 = Detector::new(params(3));
    feed(&mut d2, t0, 0, &[100; 3]);
    feed(&mut d2, t0, 3, &[1000]);
    assert_eq!(d2.on_sample(t - Duration::from_millis(1), 100), None);
    let e = d2.on_sample(t, 10_000).unwrap();
    assert_eq!((e.kind, e.dump), (Kind::Spike, true));
}

#[test]
fn reset_starts_over() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(2));
    feed(&mut d, t0, 0, &[100, 100, 1000]);
    d.reset();
    assert_eq!(d.baseline(), None);
    assert!(d.window().is_empty());
    let ev = feed(&mut d, t0, 10, &[5000, 5000]);
    assert_eq!(ev[0].1.kind, Kind::Baseline);
}

#[test]
fn a_jump_landing_over_several_ticks_is_one_spike_episode() {
    let t0 = Instant::now();
    let mut d = Detector::new(params(20));
    feed(&mut d, t0, 0, &[100; 20]);
    // 1100 is not above the rolling P95 (400) × 3, but is still above the
    // P95 that opened the episode (100) × 3: the climb goes on, no new line.
    let ev = feed(&mut d, t0, 20, &[400, 500, 1100, 1600]);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].1.kind, ev[0].1.dump), (Kind::Spike, true));
    // Back down ends the episode: a new jump in the cooldown is said once.
    let ev = feed(&mut d, t0, 24, &[100, 5000, 5000]);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].1.kind, ev[0].1.dump), (Kind::Spike, false));
}
