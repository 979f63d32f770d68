use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn signals_by_name_any_case_with_or_without_sig_or_number() {
    for s in ["TERM", "SIGTERM", "sigterm", "Term", " 15 ", "SigTerm"] {
        assert_eq!(Signal::parse(s), Ok(Signal::TERM), "{s}");
    }
    assert_eq!(Signal::parse("tstp").map(Signal::number), Ok(20));
    assert_eq!(Signal::parse("SIGRTMIN"), Err(PlanError::BadSignal));
    assert_eq!(Signal::parse("34").map(Signal::number), Ok(34));
    assert_eq!(Signal::parse("64").map(Signal::number), Ok(64));
    for bad in ["0", "65", "300", "", "SIG", "TERMX", "-15", "+15", "1.5"] {
        assert_eq!(Signal::parse(bad), Err(PlanError::BadSignal), "{bad:?}");
    }
    assert_eq!(Signal::parse("IOT").map(Signal::number), Ok(6));
    assert_eq!(Signal(34).to_string(), "34");
    assert_eq!(Signal(6).to_string(), "ABRT");
}

#[test]
fn exactly_tstp_stop_ttin_ttou_stop_a_process() {
    let stopping: Vec<_> = (1..=64u8)
        .map(Signal)
        .filter(|s| s.stops())
        .map(|s| s.to_string())
        .collect();
    assert_eq!(stopping, ["STOP", "TSTP", "TTIN", "TTOU"]);
}

#[test]
fn plans_parse_into_signals_and_waits() {
    let plan = Plan::parse("TSTP, 30s ,SIGTERM").unwrap();
    assert_eq!(
        plan.steps(),
        [
            Step::Signal(Signal(20)),
            Step::Wait(secs(30)),
            Step::Signal(Signal::TERM)
        ]
    );
    assert!(plan.stops());
    assert_eq!(plan.to_string(), "SIGTSTP, wait 30s, SIGTERM");
    let plan = Plan::parse("hup,1m30s,15,10,9").unwrap();
    assert_eq!(plan.steps().len(), 5);
    assert!(!plan.stops());
    assert_eq!(
        plan.to_string(),
        "SIGHUP, wait 1m30s, SIGTERM, SIGUSR1, SIGKILL"
    );
    assert_eq!(Plan::parse("TERM").unwrap().steps().len(), 1);
}

#[test]
fn bad_plans_say_why() {
    let cases = [
        ("30s,TERM", PlanError::StartsWithWait),
        ("TERM,30s", PlanError::EndsWithWait),
        ("TERM,1s,2s,KILL", PlanError::TwoWaits),
        ("TERM,,KILL", PlanError::Empty),
        ("TERM,FOO", PlanError::BadSignal),
        ("TERM,30x,KILL", PlanError::BadItem),
        ("0", PlanError::BadSignal),
    ];
    for (input, want) in cases {
        assert_eq!(Plan::parse(input), Err(want), "{input}");
    }
    let long = ["TERM"; MAX_STEPS + 1].join(",");
    assert_eq!(Plan::parse(&long), Err(PlanError::TooLong));
    assert!(Plan::parse(&["TERM"; MAX_STEPS].join(",")).is_ok());
    // Every prefix of a valid plan is handled without a panic.
    let text = "SIGTSTP,1m30s,TERM,2s,KILL";
    for n in 0..=text.len() {
        let _ = Plan::parse(&text[..n]);
    }
}

#[test]
fn budgets() {
    assert_eq!(BudgetSpec::parse("1/1h"), Ok(BudgetSpec::DEFAULT));
    assert_eq!(
        BudgetSpec::parse(" 3 / 30m "),
        Ok(BudgetSpec {
            count: 3,
            period: secs(1800)
        })
    );
    for bad in ["1", "/1h", "x/1h", "1/x", "1h/1", ""] {
        assert_eq!(BudgetSpec::parse(bad), Err(PlanError::BadBudget), "{bad}");
    }
    for bad in ["0/1h", "65/1h", "1/0s"] {
        assert_eq!(BudgetSpec::parse(bad), Err(PlanError::BudgetRange), "{bad}");
    }
}

#[test]
fn triggers() {
    let d = Triggers::DEFAULT;
    assert_eq!(d.to_string(), "slow-leak,leak-rate,time-to-limit");
    assert!(d.contains(Kind::SlowLeak) && d.contains(Kind::LeakRate));
    assert!(d.contains(Kind::TimeToLimit));
    assert!(!d.contains(Kind::Spike) && !d.contains(Kind::Baseline));
    let t = Triggers::parse("spike, slow-leak").unwrap();
    assert!(t.contains(Kind::Spike) && t.contains(Kind::SlowLeak));
    assert!(!t.contains(Kind::LeakRate));
    assert_eq!(Triggers::parse("slow_leak"), Err(PlanError::NotEvent));
    assert_eq!(
        Triggers::parse("slow-leak,restart-failed"),
        Err(PlanError::NotTrigger(Kind::RestartFailed))
    );
    for k in Kind::ALL {
        let ok = Triggers::parse(k.as_str()).is_ok();
        assert_eq!(ok, can_trigger(k), "{k}");
    }
    assert!(Triggers::parse("baseline").is_err() && Triggers::parse("oom-kill").is_err());
}

#[test]
fn short_durations() {
    let cases = [
        (secs(3600), "1h"),
        (secs(5400), "1h30m"),
        (secs(30), "30s"),
        (Duration::from_millis(1500), "1s500ms"),
        (Duration::ZERO, "0s"),
        (secs(86400), "24h"),
    ];
    for (d, want) in cases {
        assert_eq!(Short(d).to_string(), want);
    }
}

#[test]
fn the_fuzz_entry_point_survives_its_seeds_and_prefixes() {
    for seed in [
        "TSTP,30s,TERM",
        "SIGHUP, 1m30s ,15,2s,kill",
        "2/1h",
        "slow-leak,spike",
    ] {
        for n in 0..=seed.len() {
            crate::fuzzing::restart_settings(&seed.as_bytes()[..n]);
        }
    }
    crate::fuzzing::restart_settings(&[0xff, 0xfe]);
}
