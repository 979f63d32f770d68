//! Settings of the cgroup events, `pre-oom` and the watched metric
//! (issue 9): `MEMORY_METRIC`, `MEMORY_LIMIT`, `PRE_OOM_DUMP`,
//! `PSI_THRESHOLD`, `DISABLE_EVENTS`, `CGROUP_ROOT`, `PROC_ROOT`.

use std::path::PathBuf;
use std::time::Duration;

use super::reader::Reader;
use super::Source;
use crate::core::cgroup_rules::{CgroupParams, Metric, RuleConfig};
use crate::core::event::Kind;
use crate::core::units;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExplainConfig {
    pub metric: Metric,
    /// MEMORY_LIMIT: the known limit, over the cgroup's.
    pub memory_limit: Option<u64>,
    /// PRE_OOM_DUMP, percent of the known limit (off when unset).
    pub pre_oom_percent: Option<u32>,
    /// PSI_THRESHOLD, `some avg10` in hundredths of a percent (off when unset).
    pub psi_threshold: Option<u32>,
    /// DISABLE_EVENTS.
    pub disabled: Vec<Kind>,
    /// PROC_ROOT, default `/proc`: where the target's cgroup membership,
    /// mounts and root are read.
    pub proc_root: PathBuf,
    /// CGROUP_ROOT: replaces the cgroup mount points found in mountinfo.
    pub cgroup_root: Option<PathBuf>,
}

impl ExplainConfig {
    pub fn enabled(&self, kind: Kind) -> bool {
        !self.disabled.contains(&kind)
    }

    /// What a lifecycle needs (metric, known limit, rules).
    pub fn params(&self, dump_cooldown: Duration) -> CgroupParams {
        CgroupParams {
            metric: self.metric,
            memory_limit: self.memory_limit,
            rules: self.rules(dump_cooldown),
        }
    }

    /// The rules' settings: `oom-kill` reports every kill; `memory-high`
    /// and `memory-pressure` use `DUMP_COOLDOWN`.
    pub fn rules(&self, dump_cooldown: Duration) -> RuleConfig {
        RuleConfig {
            oom_kill: self.enabled(Kind::OomKill),
            memory_high: self.enabled(Kind::MemoryHigh),
            psi_threshold: self
                .psi_threshold
                .filter(|_| self.enabled(Kind::MemoryPressure)),
            pre_oom_percent: self.pre_oom_percent.filter(|_| self.enabled(Kind::PreOom)),
            oom_kill_cooldown: Duration::ZERO,
            memory_high_cooldown: dump_cooldown,
            memory_pressure_cooldown: dump_cooldown,
        }
    }
}

/// Events the drop-in contract defines: they cannot be switched off.
const ALWAYS_ON: [Kind; 3] = [Kind::Baseline, Kind::Spike, Kind::SlowLeak];

pub(super) fn read(r: &mut Reader<'_, '_>) -> ExplainConfig {
    let metric = r
        .parsed("MEMORY_METRIC", |s| {
            Metric::parse(s).ok_or_else(|| format!("want one of {}", Metric::NAMES))
        })
        .unwrap_or_default();
    let memory_limit = r.parsed("MEMORY_LIMIT", |s| match units::parse_size(s) {
        Ok(0) => Err("must be greater than zero".to_string()),
        Ok(v) => Ok(v),
        Err(e) => Err(e.to_string()),
    });
    let pre_oom_percent = r.parsed("PRE_OOM_DUMP", |s| match percent_hundredths(s) {
        Some(h) if h % 100 == 0 && (1..=100).contains(&(h / 100)) => Ok(h / 100),
        _ => Err("want a whole percentage of the limit from 1 to 100, e.g. 90%"),
    });
    let psi_threshold = r.parsed("PSI_THRESHOLD", |s| match percent_hundredths(s) {
        Some(h) if (1..10_000).contains(&h) => Ok(h),
        _ => Err("want a percentage above 0 and below 100, e.g. 10%"),
    });
    let disabled = r
        .parsed("DISABLE_EVENTS", |s| {
            let mut out = Vec::new();
            for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                match Kind::parse(name) {
                    Some(k) if ALWAYS_ON.contains(&k) => {
                        return Err(format!("{name} cannot be switched off"));
                    }
                    Some(k) => out.push(k),
                    None => return Err(format!("{name:?} is not an event name")),
                }
            }
            Ok(out)
        })
        .unwrap_or_default();
    ExplainConfig {
        metric,
        memory_limit,
        pre_oom_percent,
        psi_threshold,
        disabled,
        proc_root: r
            .string("PROC_ROOT")
            .map_or_else(|| PathBuf::from("/proc"), PathBuf::from),
        cgroup_root: r.string("CGROUP_ROOT").map(PathBuf::from),
    }
}

/// The settings alone (for `inspect`); bad values fall back to defaults.
pub fn explain_config(src: &Source<'_>) -> ExplainConfig {
    let mut r = Reader {
        src,
        errors: Vec::new(),
    };
    read(&mut r)
}

/// `10`, `10%`, `2.5`, `2.55%` -> hundredths of a percent.
pub(super) fn percent_hundredths(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s.strip_suffix('%').unwrap_or(s).trim_end();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (s.contains('.') && !digits(frac)) || frac.len() > 2 {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let cents: u32 = match frac.len() {
        0 => 0,
        1 => frac.parse::<u32>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> (ExplainConfig, Vec<String>) {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let src = Source::new(&env);
        let mut r = Reader {
            src: &src,
            errors: Vec::new(),
        };
        let c = read(&mut r);
        (c, r.errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_are_the_drop_in_contract() {
        let (c, errors) = with(&[]);
        assert!(errors.is_empty());
        assert_eq!(c.metric, Metric::RssAnon);
        assert_eq!(
            (c.pre_oom_percent, c.psi_threshold, c.memory_limit),
            (None, None, None)
        );
        assert_eq!(c.proc_root, PathBuf::from("/proc"));
        let rules = c.rules(Duration::from_secs(60));
        assert!(rules.oom_kill && rules.memory_high);
        assert_eq!((rules.psi_threshold, rules.pre_oom_percent), (None, None));
    }

    #[test]
    fn values_and_switches() {
        let (c, errors) = with(&[
            ("MEMORY_METRIC", "cgroup_working_set"),
            ("MEMORY_LIMIT", "2GiB"),
            ("PRE_OOM_DUMP", "90%"),
            ("PSI_THRESHOLD", "12.5"),
            ("DISABLE_EVENTS", "memory-high, oom-kill"),
            ("CGROUP_ROOT", "/host/sys/fs/cgroup"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.metric, Metric::CgroupWorkingSet);
        assert_eq!(c.memory_limit, Some(2 << 30));
        assert_eq!((c.pre_oom_percent, c.psi_threshold), (Some(90), Some(1250)));
        let rules = c.rules(Duration::from_secs(60));
        assert!(!rules.oom_kill && !rules.memory_high);
        assert_eq!(rules.psi_threshold, Some(1250));
        assert!(!c.enabled(Kind::OomKill) && c.enabled(Kind::PreOom));
        assert_eq!(with(&[("PRE_OOM_DUMP", "90")]).0.pre_oom_percent, Some(90));
    }

    #[test]
    fn bad_values_are_config_errors() {
        let (_, errors) = with(&[
            ("MEMORY_METRIC", "heap"),
            ("MEMORY_LIMIT", "lots"),
            ("PRE_OOM_DUMP", "150%"),
            ("PSI_THRESHOLD", "0"),
            ("DISABLE_EVENTS", "oom-kill,spike"),
        ]);
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors[0].starts_with("MEMORY_METRIC: \"heap\": want one of rss_anon"));
        assert!(
            errors[4].contains("spike cannot be switched off"),
            "{errors:?}"
        );
        for bad in ["90.5%", "0", "-1", "%", "1e2"] {
            assert_eq!(with(&[("PRE_OOM_DUMP", bad)]).1.len(), 1, "{bad}");
        }
        let (_, errors) = with(&[("DISABLE_EVENTS", "oom_kill")]);
        assert!(errors[0].contains("not an event name"), "{errors:?}");
    }
}
