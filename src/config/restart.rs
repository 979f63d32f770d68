//! `RESTART_*` settings -> [`RestartConfig`]; off when `RESTART_SIGNALS`
//! is unset. The other `RESTART_*` settings without it are an error, so a
//! half-configured restart never silently does nothing.

use std::time::Duration;

use super::reader::{bool_value, positive_duration, Reader};
use crate::core::restart::{BudgetSpec, Plan, RestartConfig, Short, Triggers};

const DEPENDENT: [&str; 4] = [
    "RESTART_ON",
    "RESTART_BUDGET",
    "RESTART_DRY_RUN",
    "RESTART_TIMEOUT",
];

pub(super) fn restart(r: &mut Reader<'_, '_>) -> Option<RestartConfig> {
    let plan = r.parsed("RESTART_SIGNALS", Plan::parse);
    let on = r
        .parsed("RESTART_ON", Triggers::parse)
        .unwrap_or(Triggers::DEFAULT);
    let budget = r
        .parsed("RESTART_BUDGET", BudgetSpec::parse)
        .unwrap_or(BudgetSpec::DEFAULT);
    let dry_run = r.parsed("RESTART_DRY_RUN", bool_value).unwrap_or(false);
    let timeout = r
        .parsed("RESTART_TIMEOUT", positive_duration)
        .unwrap_or(Duration::from_secs(30));
    if r.src.get("RESTART_SIGNALS").is_none() {
        for var in DEPENDENT {
            if let Some(v) = r.string(var) {
                r.fail(var, &v, "is set but RESTART_SIGNALS is not");
            }
        }
        return None;
    }
    Some(RestartConfig {
        plan: plan?,
        on,
        budget,
        dry_run,
        timeout,
    })
}

/// The `check-config` line about restarts.
pub(super) fn describe(cfg: Option<&RestartConfig>) -> String {
    let Some(c) = cfg else {
        return "# restart: off (RESTART_SIGNALS unset)\n".to_string();
    };
    format!(
        "# restart: {}{} on {}; budget {} per {} (in memory: starts afresh with the monitor); \
         restart-failed {} after the last signal{}\n",
        if c.dry_run {
            "dry run, would send "
        } else {
            ""
        },
        c.plan,
        c.on,
        c.budget.count,
        Short(c.budget.period),
        Short(c.timeout),
        if c.plan.stops() {
            "; CONT before each later signal and if abandoned"
        } else {
            ""
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::{parse_args, ConfigError, Source};
    use super::*;
    use crate::core::event::Kind;

    fn run(pairs: &[(&str, &str)]) -> (Option<RestartConfig>, Vec<ConfigError>) {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (_, src, errors): (_, Source<'_>, _) = parse_args(&[], &env);
        assert!(errors.is_empty());
        let mut r = Reader {
            src: &src,
            errors: Vec::new(),
        };
        let c = restart(&mut r);
        (c, r.errors)
    }

    #[test]
    fn off_unless_restart_signals_is_set() {
        assert_eq!(run(&[]), (None, vec![]));
        assert_eq!(run(&[("RESTART_SIGNALS", "  ")]), (None, vec![]));
    }

    #[test]
    fn check_config_says_what_will_happen() {
        assert_eq!(describe(None), "# restart: off (RESTART_SIGNALS unset)\n");
        let (c, _) = run(&[("RESTART_SIGNALS", "tstp,30s,15"), ("RESTART_DRY_RUN", "1")]);
        assert_eq!(
            describe(c.as_ref()),
            "# restart: dry run, would send SIGTSTP, wait 30s, SIGTERM on \
             slow-leak,leak-rate,time-to-limit; budget 1 per 1h (in memory: starts afresh with \
             the monitor); restart-failed 30s after the last signal; CONT before each later \
             signal and if abandoned\n"
        );
    }

    #[test]
    fn defaults() {
        let (c, errors) = run(&[("RESTART_SIGNALS", "TSTP,30s,TERM")]);
        assert!(errors.is_empty());
        let c = c.unwrap();
        assert_eq!(c.plan.steps().len(), 3);
        assert_eq!(c.on, Triggers::DEFAULT);
        assert_eq!(c.budget, BudgetSpec::DEFAULT);
        assert!(!c.dry_run);
        assert_eq!(c.timeout, Duration::from_secs(30));
    }

    #[test]
    fn every_setting() {
        let (c, errors) = run(&[
            ("RESTART_SIGNALS", "HUP,2s,TERM"),
            ("RESTART_ON", "spike,slow-leak"),
            ("RESTART_BUDGET", "2/30m"),
            ("RESTART_DRY_RUN", "yes"),
            ("RESTART_TIMEOUT", "1m"),
        ]);
        assert!(errors.is_empty());
        let c = c.unwrap();
        assert!(c.on.contains(Kind::Spike) && !c.on.contains(Kind::LeakRate));
        assert_eq!(c.budget.count, 2);
        assert_eq!(c.budget.period, Duration::from_secs(1800));
        assert!(c.dry_run);
        assert_eq!(c.timeout, Duration::from_secs(60));
    }

    #[test]
    fn every_problem_at_once_naming_the_variable() {
        let (c, errors) = run(&[
            ("RESTART_SIGNALS", "30s,TERM"),
            ("RESTART_ON", "slow-leak,baseline"),
            ("RESTART_BUDGET", "0/1h"),
            ("RESTART_DRY_RUN", "maybe"),
            ("RESTART_TIMEOUT", "0s"),
        ]);
        assert_eq!(c, None);
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "RESTART_SIGNALS: \"30s,TERM\": must start with a signal",
                "RESTART_ON: \"slow-leak,baseline\": baseline cannot trigger a restart (want \
                 slow-leak, spike, leak-rate, time-to-limit, growth, pre-oom, memory-high or \
                 memory-pressure)",
                "RESTART_BUDGET: \"0/1h\": N must be 1..=64 and the period longer than zero",
                "RESTART_DRY_RUN: \"maybe\": want true or false",
                "RESTART_TIMEOUT: \"0s\": must be greater than zero",
            ]
        );
    }

    #[test]
    fn other_restart_settings_without_signals_are_an_error() {
        let (c, errors) = run(&[("RESTART_BUDGET", "2/1h"), ("RESTART_DRY_RUN", "true")]);
        assert_eq!(c, None);
        let names: Vec<&str> = errors.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["RESTART_BUDGET", "RESTART_DRY_RUN"]);
        assert!(errors[0].message.contains("RESTART_SIGNALS is not"));
    }
}
