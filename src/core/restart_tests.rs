use super::*;

fn cfg(plan: &str, budget: &str) -> RestartConfig {
    RestartConfig {
        plan: Plan::parse(plan).unwrap(),
        on: Triggers::DEFAULT,
        budget: BudgetSpec::parse(budget).unwrap(),
        dry_run: false,
        timeout: Duration::from_secs(30),
    }
}

fn sig(name: &str) -> Action {
    Action::Send(Signal::parse(name).unwrap())
}

/// Everything `poll` yields at `now`.
fn drain(seq: &mut Sequence, now: Instant, cfg: &RestartConfig) -> Vec<Action> {
    std::iter::from_fn(|| seq.poll(now, cfg)).collect()
}

fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

#[test]
fn signals_and_waits_in_order_with_cont_after_a_stopping_signal() {
    let c = cfg("TSTP,30s,TERM,10s,KILL", "1/1h");
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    assert_eq!(seq.poll(t0, &c), None);
    seq.trigger(Kind::SlowLeak, t0, &c, &mut budget);
    assert_eq!(
        drain(&mut seq, t0, &c),
        [Action::Requested { used: 1 }, sig("TSTP")]
    );
    assert_eq!(seq.due(), Some(at(t0, 30)));
    assert_eq!(drain(&mut seq, at(t0, 29), &c), []);
    assert_eq!(drain(&mut seq, at(t0, 30), &c), [sig("CONT"), sig("TERM")]);
    assert_eq!(drain(&mut seq, at(t0, 39), &c), []);
    assert_eq!(drain(&mut seq, at(t0, 40), &c), [sig("CONT"), sig("KILL")]);
    // RESTART_TIMEOUT (30 s) after the last signal: CONT, then restart-failed.
    assert_eq!(seq.due(), Some(at(t0, 70)));
    assert_eq!(drain(&mut seq, at(t0, 69), &c), []);
    assert!(seq.active());
    assert_eq!(
        drain(&mut seq, at(t0, 70), &c),
        [sig("CONT"), Action::Failed]
    );
    assert!(!seq.active() && seq.due().is_none());
}

#[test]
fn waits_count_from_when_the_step_ran_and_late_ticks_catch_up() {
    let c = cfg("HUP,2s,USR1,2s,TERM", "1/1h");
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    seq.trigger(Kind::SlowLeak, t0, &c, &mut budget);
    assert_eq!(drain(&mut seq, t0, &c).len(), 2);
    // A tick 5 s late sends USR1 now and waits 2 s from now for TERM.
    assert_eq!(drain(&mut seq, at(t0, 5), &c), [sig("USR1")]);
    assert_eq!(seq.due(), Some(at(t0, 7)));
    assert_eq!(drain(&mut seq, at(t0, 7), &c), [sig("TERM")]);
}

#[test]
fn signals_without_a_wait_go_together_and_no_cont_without_a_stop() {
    let c = cfg("HUP,TERM", "1/1h");
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    seq.trigger(Kind::LeakRate, t0, &c, &mut budget);
    assert_eq!(
        drain(&mut seq, t0, &c),
        [Action::Requested { used: 1 }, sig("HUP"), sig("TERM")]
    );
    assert_eq!(drain(&mut seq, at(t0, 30), &c), [Action::Failed]);
}

#[test]
fn an_explicit_cont_is_not_doubled() {
    let c = cfg("STOP,1s,CONT,TERM", "1/1h");
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    seq.trigger(Kind::SlowLeak, t0, &c, &mut budget);
    assert_eq!(drain(&mut seq, t0, &c).len(), 2);
    assert_eq!(drain(&mut seq, at(t0, 1), &c), [sig("CONT"), sig("TERM")]);
}

#[test]
fn only_listed_events_trigger_and_one_sequence_at_a_time() {
    let c = cfg("TERM", "5/1h");
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    seq.trigger(Kind::Spike, t0, &c, &mut budget);
    seq.trigger(Kind::Baseline, t0, &c, &mut budget);
    assert_eq!(drain(&mut seq, t0, &c), []);
    seq.trigger(Kind::TimeToLimit, t0, &c, &mut budget);
    seq.trigger(Kind::SlowLeak, t0, &c, &mut budget);
    assert_eq!(
        drain(&mut seq, t0, &c),
        [Action::Requested { used: 1 }, sig("TERM")]
    );
    seq.trigger(Kind::SlowLeak, at(t0, 1), &c, &mut budget);
    assert_eq!(drain(&mut seq, at(t0, 1), &c), []);
    assert_eq!(budget.used(at(t0, 1), c.budget), 1);
}

#[test]
fn the_budget_spans_incarnations_and_says_exhausted_once() {
    let c = cfg("TERM", "2/1h");
    let (mut budget, t0) = (Budget::new(), Instant::now());
    for (n, secs) in [(1, 0), (2, 600)] {
        let mut seq = Sequence::new();
        seq.trigger(Kind::SlowLeak, at(t0, secs), &c, &mut budget);
        assert_eq!(
            drain(&mut seq, at(t0, secs), &c),
            [Action::Requested { used: n }, sig("TERM")]
        );
        assert_eq!(seq.exited(), Exit::AsAsked);
    }
    let mut third = Sequence::new();
    third.trigger(Kind::SlowLeak, at(t0, 1200), &c, &mut budget);
    assert_eq!(
        drain(&mut third, at(t0, 1200), &c),
        [Action::Exhausted { used: 2 }]
    );
    assert_eq!(
        Detail {
            action: Action::Exhausted { used: 2 },
            cfg: &c
        }
        .to_string(),
        "restart budget exhausted: 2 in the last 1h"
    );
    // Said once, even to a later incarnation.
    for secs in [1300, 3000] {
        let mut seq = Sequence::new();
        seq.trigger(Kind::SlowLeak, at(t0, secs), &c, &mut budget);
        assert_eq!(drain(&mut seq, at(t0, secs), &c), []);
    }
    // An hour after the first restart one slot is free again.
    third.trigger(Kind::SlowLeak, at(t0, 3600), &c, &mut budget);
    assert_eq!(
        drain(&mut third, at(t0, 3600), &c),
        [Action::Requested { used: 2 }, sig("TERM")]
    );
    third.exited();
    // Exhausted again: said again, once.
    third.trigger(Kind::SlowLeak, at(t0, 3700), &c, &mut budget);
    third.trigger(Kind::SlowLeak, at(t0, 3800), &c, &mut budget);
    assert_eq!(
        drain(&mut third, at(t0, 3800), &c),
        [Action::Exhausted { used: 2 }]
    );
}

#[test]
fn a_dry_run_sends_nothing_and_never_uses_the_budget() {
    let mut c = cfg("TSTP,30s,TERM", "1/1h");
    c.dry_run = true;
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    for secs in [0, 10, 20] {
        seq.trigger(Kind::SlowLeak, at(t0, secs), &c, &mut budget);
        assert_eq!(drain(&mut seq, at(t0, secs), &c), [Action::DryRun]);
        assert!(!seq.active());
    }
    assert_eq!(budget.used(at(t0, 20), c.budget), 0);
    let text = Detail {
        action: Action::DryRun,
        cfg: &c,
    }
    .to_string();
    assert!(text.contains("dry run") && text.contains("SIGTSTP, wait 30s, SIGTERM"));
    assert!(text.contains("CONT"), "{text}");
}

#[test]
fn an_exit_mid_sequence_stops_it() {
    let c = cfg("TSTP,30s,TERM", "1/1h");
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    seq.trigger(Kind::SlowLeak, t0, &c, &mut budget);
    assert_eq!(drain(&mut seq, t0, &c).len(), 2);
    assert_eq!(seq.exited(), Exit::MidSequence);
    for secs in [30, 60, 3600] {
        assert_eq!(drain(&mut seq, at(t0, secs), &c), []);
    }
    assert_eq!(seq.abandon(), None);
    assert_eq!(seq.exited(), Exit::Unasked);
}

#[test]
fn abandoning_after_a_stopping_signal_sends_cont() {
    let c = cfg("TSTP,30s,TERM", "1/1h");
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    seq.trigger(Kind::SlowLeak, t0, &c, &mut budget);
    assert_eq!(drain(&mut seq, t0, &c).len(), 2);
    assert_eq!(seq.abandon(), Some(sig("CONT")));
    assert_eq!(drain(&mut seq, at(t0, 30), &c), []);
    let c = cfg("HUP,30s,TERM", "1/1h");
    let mut seq = Sequence::new();
    seq.trigger(Kind::SlowLeak, at(t0, 4000), &c, &mut budget);
    assert_eq!(drain(&mut seq, at(t0, 4000), &c).len(), 2);
    assert_eq!(seq.abandon(), None);
}

#[test]
fn after_a_failed_restart_a_new_trigger_may_try_again_within_budget() {
    let c = cfg("TERM", "2/1h");
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    seq.trigger(Kind::SlowLeak, t0, &c, &mut budget);
    drain(&mut seq, t0, &c);
    assert_eq!(drain(&mut seq, at(t0, 30), &c), [Action::Failed]);
    seq.trigger(Kind::SlowLeak, at(t0, 40), &c, &mut budget);
    assert_eq!(
        drain(&mut seq, at(t0, 40), &c),
        [Action::Requested { used: 2 }, sig("TERM")]
    );
}

#[test]
fn huge_waits_do_not_overflow() {
    let mut c = cfg("TERM,1000000000h,KILL", "1/1h");
    c.timeout = Duration::MAX;
    let (mut seq, mut budget, t0) = (Sequence::new(), Budget::new(), Instant::now());
    seq.trigger(Kind::SlowLeak, t0, &c, &mut budget);
    assert_eq!(drain(&mut seq, t0, &c).len(), 2);
    assert!(seq.due().is_some_and(|d| d > t0));
}

#[test]
fn requested_detail_names_the_plan_and_the_budget() {
    let c = cfg("TSTP,30s,TERM", "2/1h");
    let text = Detail {
        action: Action::Requested { used: 1 },
        cfg: &c,
    }
    .to_string();
    assert!(
        text.starts_with(
            "restart requested: SIGTSTP, wait 30s, SIGTERM (restart 1 of 2 in 1h); CONT"
        ),
        "{text}"
    );
    let c = cfg("HUP,2s,TERM", "1/1h");
    let text = Detail {
        action: Action::Requested { used: 1 },
        cfg: &c,
    }
    .to_string();
    assert_eq!(
        text,
        "restart requested: SIGHUP, wait 2s, SIGTERM (restart 1 of 1 in 1h)"
    );
    let failed = Detail {
        action: Action::Failed,
        cfg: &c,
    };
    assert_eq!(
        failed.to_string(),
        "restart failed: the target is still running 30s after the last signal"
    );
}
