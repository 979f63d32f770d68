use super::*;

const MIB: u64 = 1 << 20;

fn cfg() -> RuleConfig {
    RuleConfig {
        oom_kill: true,
        memory_high: true,
        psi_threshold: Some(1000),
        pre_oom_percent: Some(90),
        oom_kill_cooldown: Duration::ZERO,
        memory_high_cooldown: Duration::from_secs(60),
        memory_pressure_cooldown: Duration::from_secs(60),
    }
}

fn reading(oom_kill: u64, high: u64, psi: u32) -> Reading {
    Reading {
        events: Events {
            oom_kill: Some(oom_kill),
            high: Some(high),
            ..Events::default()
        },
        pressure: Pressure {
            some_avg10: Some(psi),
            ..Pressure::default()
        },
        ..Reading::default()
    }
}

fn kinds(f: &[Fired]) -> Vec<(Kind, bool, u64)> {
    f.iter().map(|f| (f.kind, f.held_back, f.count)).collect()
}

#[test]
fn oom_kill_fires_when_the_counter_moves_and_not_on_the_first_read() {
    let t0 = Instant::now();
    let mut r = Rules::new(cfg());
    assert!(
        r.on_reading(t0, &reading(3, 0, 0)).is_empty(),
        "starting point"
    );
    assert!(r.on_reading(t0, &reading(3, 0, 0)).is_empty());
    let f = r.on_reading(t0 + Duration::from_secs(1), &reading(5, 0, 0));
    assert_eq!(kinds(&f), [(Kind::OomKill, false, 2)]);
    // Every kill is reported (no cooldown by default).
    let f = r.on_reading(t0 + Duration::from_secs(2), &reading(6, 0, 0));
    assert_eq!(kinds(&f), [(Kind::OomKill, false, 1)]);
    // A counter that restarts (a new cgroup) is a new starting point.
    assert!(r.on_reading(t0, &reading(0, 0, 0)).is_empty());
    // Switched off.
    let mut off = Rules::new(RuleConfig {
        oom_kill: false,
        ..cfg()
    });
    off.on_reading(t0, &reading(0, 0, 0));
    assert!(off.on_reading(t0, &reading(1, 0, 0)).is_empty());
}

#[test]
fn memory_high_and_pressure_have_cooldowns_and_log_once_per_episode() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut r = Rules::new(cfg());
    r.on_reading(t0, &reading(0, 10, 0));
    let f = r.on_reading(t0 + s(1), &reading(0, 20, 1001));
    assert_eq!(
        kinds(&f),
        [
            (Kind::MemoryHigh, false, 10),
            (Kind::MemoryPressure, false, 0)
        ]
    );
    // Still throttled within the cooldown: held back, once.
    let f = r.on_reading(t0 + s(2), &reading(0, 30, 2000));
    assert_eq!(
        kinds(&f),
        [
            (Kind::MemoryHigh, true, 10),
            (Kind::MemoryPressure, true, 0)
        ]
    );
    assert!(r.on_reading(t0 + s(3), &reading(0, 40, 2000)).is_empty());
    // The episode ends (no rise, pressure at the threshold is not above it) ...
    assert!(r.on_reading(t0 + s(4), &reading(0, 40, 1000)).is_empty());
    // ... a new one inside the cooldown is logged once more.
    let f = r.on_reading(t0 + s(5), &reading(0, 41, 0));
    assert_eq!(kinds(&f), [(Kind::MemoryHigh, true, 1)]);
    // After the cooldown it fires again.
    let f = r.on_reading(t0 + s(70), &reading(0, 42, 1500));
    assert_eq!(
        kinds(&f),
        [
            (Kind::MemoryHigh, false, 1),
            (Kind::MemoryPressure, false, 0)
        ]
    );
    // PSI off when unset.
    let mut quiet = Rules::new(RuleConfig {
        psi_threshold: None,
        ..cfg()
    });
    assert!(quiet.on_reading(t0, &reading(0, 0, 9999)).is_empty());
}

#[test]
fn pre_oom_fires_once_until_the_metric_falls_five_points_below() {
    let mut r = Rules::new(cfg());
    let limit = Some(1000 * MIB);
    assert!(!r.pre_oom(899 * MIB, limit));
    assert!(r.pre_oom(900 * MIB, limit));
    assert!(!r.pre_oom(950 * MIB, limit), "once");
    assert!(!r.pre_oom(860 * MIB, limit), "not 5 points below yet");
    assert!(!r.pre_oom(910 * MIB, limit));
    assert!(!r.pre_oom(849 * MIB, limit), "re-armed");
    assert!(r.pre_oom(901 * MIB, limit));
    assert!(!r.pre_oom(u64::MAX, None), "no known limit");
    let mut off = Rules::new(RuleConfig {
        pre_oom_percent: None,
        ..cfg()
    });
    assert!(!off.pre_oom(u64::MAX, limit));
}

#[test]
fn metric_selection() {
    let s = StatusSample {
        rss_anon: Some(100),
        rss_file: Some(50),
        vm_rss: Some(150),
        vm_swap: Some(7),
        ..StatusSample::default()
    };
    let cg = Reading {
        usage: Some(1000),
        stat: Some(MemStat {
            inactive_file: Some(300),
            ..MemStat::default()
        }),
        limit: Some(4000),
        ..Reading::default()
    };
    assert_eq!(select(Metric::RssAnon, &s, None), Some(100));
    assert_eq!(select(Metric::Rss, &s, None), Some(150));
    assert_eq!(select(Metric::RssAnonSwap, &s, None), Some(107));
    assert_eq!(select(Metric::CgroupUsage, &s, Some(&cg)), Some(1000));
    assert_eq!(select(Metric::CgroupWorkingSet, &s, Some(&cg)), Some(700));
    assert_eq!(select(Metric::CgroupWorkingSet, &s, None), None);
    let old = StatusSample {
        vm_rss: Some(9),
        ..StatusSample::default()
    };
    assert_eq!(
        select(Metric::RssAnon, &old, None),
        Some(9),
        "pre-4.5 kernels"
    );
    assert_eq!(known_limit(None, Some(&cg)), Some(4000));
    assert_eq!(known_limit(Some(5), Some(&cg)), Some(5));
    for m in [
        Metric::RssAnon,
        Metric::Rss,
        Metric::RssAnonSwap,
        Metric::CgroupUsage,
        Metric::CgroupWorkingSet,
    ] {
        assert_eq!(Metric::parse(m.as_str()), Some(m));
        assert!(Metric::NAMES.contains(m.as_str()));
    }
    assert_eq!(Metric::parse("heap"), None);
    let v = cg.view("/a");
    assert_eq!(
        (v.working_set_bytes, v.limit_bytes, v.version),
        (Some(700), Some(4000), 0)
    );
}

/// The rules inside a target's lifecycle: reported from the first tick
/// (initial delay included), `pre-oom` captures without moving the
/// detector's baseline, and an OOM kill seen when the target vanishes.
mod in_the_lifecycle {
    use super::*;
    use crate::core::detector;
    use crate::core::event::CaptureOutcome;
    use crate::core::lifecycle::{Action, Actions, Lifecycle, Params, Tick};

    fn params(metric: Metric) -> Params {
        Params {
            detect: crate::core::detectors::DetectParams::compat(detector::Params {
                window_size: 5,
                threshold_bytes: 10 * MIB,
                spike_multiplier_micros: 3_000_000,
                spike_cooldown: Duration::from_secs(5),
                leak_cooldown: Duration::from_secs(60),
            }),
            interval: Duration::from_secs(1),
            initial_delay: Duration::from_secs(3600),
            baseline_settle: Duration::ZERO,
            dump_retries: 3,
            retry_backoff: Duration::from_secs(2),
            cgroup: CgroupParams {
                metric,
                memory_limit: None,
                rules: cfg(),
            },
        }
    }

    #[test]
    fn oom_kill_pre_oom_and_vanish() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut life = Lifecycle::new(params(Metric::CgroupUsage), t0);
        let mut r = reading(0, 0, 0);
        r.limit = Some(1000 * MIB);
        r.usage = Some(100 * MIB);
        let sample = StatusSample {
            rss_anon: Some(50 * MIB),
            ..StatusSample::default()
        };
        let step = |life: &mut Lifecycle, now, r: &Reading| -> Vec<Action> {
            let mut out = Actions::new();
            let tick = Tick {
                now,
                sample,
                cgroup: Some(r),
            };
            life.on_tick(&tick, &mut out);
            out.into_iter().collect()
        };
        assert!(
            step(&mut life, t0, &r).is_empty(),
            "still in the initial delay"
        );
        r.events.oom_kill = Some(1);
        let a = step(&mut life, t0 + s(1), &r);
        assert!(
            matches!(a.as_slice(), [Action::Report(n)] if n.kind == Kind::OomKill && n.bytes == 100 * MIB),
            "{a:?}"
        );
        // The watched metric is the cgroup's usage: 90 % of the limit.
        r.usage = Some(900 * MIB);
        let a = step(&mut life, t0 + s(2), &r);
        assert!(
            matches!(a.as_slice(), [Action::Report(n), Action::Capture(c)]
                if n.kind == Kind::PreOom && n.dump && c.kind == Kind::PreOom),
            "{a:?}"
        );
        let done: Vec<_> = life
            .on_capture(Kind::PreOom, CaptureOutcome::Spooled, t0 + s(2))
            .into_iter()
            .collect();
        assert_eq!(done, [Action::Handled(Kind::PreOom)]);
        assert!(
            step(&mut life, t0 + s(3), &r).is_empty(),
            "once per episode"
        );
        r.events.oom_kill = Some(2);
        let n = life.on_vanish(t0 + s(4), &r).expect("oom-kill on vanish");
        assert_eq!(n.kind, Kind::OomKill);
        assert!(life.on_vanish(t0 + s(5), &r).is_none(), "counted once");
    }
}
