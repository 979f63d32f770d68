//! Pure rules on memory cgroup readings — `oom-kill`, `memory-high`,
//! `memory-pressure` and `pre-oom` — and the `MEMORY_METRIC` choice. Small
//! state machines that take readings and `Instant`s and return event kinds;
//! the per-target lifecycle owns one [`Rules`] per incarnation.

use std::time::{Duration, Instant};

use crate::core::cgroup::{Events, MemStat, Pressure, Version};
use crate::core::event::{CgroupView, Kind};
use crate::core::status::StatusSample;

/// What the detector watches (`MEMORY_METRIC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// `RssAnon` from `/proc/<pid>/status`: the drop-in contract.
    #[default]
    RssAnon,
    /// `VmRSS`.
    Rss,
    /// `RssAnon + VmSwap`: a heap that is being swapped out still counts.
    RssAnonSwap,
    /// The cgroup's usage (`memory.current` / `memory.usage_in_bytes`).
    CgroupUsage,
    /// usage − inactive file: what the kubelet evicts on.
    CgroupWorkingSet,
}

impl Metric {
    pub const NAMES: &'static str =
        "rss_anon, rss, rss_anon_swap, cgroup_usage, cgroup_working_set";

    pub fn parse(s: &str) -> Option<Metric> {
        Some(match s.trim() {
            "rss_anon" => Metric::RssAnon,
            "rss" => Metric::Rss,
            "rss_anon_swap" => Metric::RssAnonSwap,
            "cgroup_usage" => Metric::CgroupUsage,
            "cgroup_working_set" => Metric::CgroupWorkingSet,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::RssAnon => "rss_anon",
            Metric::Rss => "rss",
            Metric::RssAnonSwap => "rss_anon_swap",
            Metric::CgroupUsage => "cgroup_usage",
            Metric::CgroupWorkingSet => "cgroup_working_set",
        }
    }

    /// Needs `memory.stat` on every cgroup read.
    pub fn needs_stat(self) -> bool {
        self == Metric::CgroupWorkingSet
    }

    pub fn needs_cgroup(self) -> bool {
        matches!(self, Metric::CgroupUsage | Metric::CgroupWorkingSet)
    }
}

/// One read of the target's memory cgroup (bytes; `None` = not readable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    pub version: Option<Version>,
    pub usage: Option<u64>,
    /// `None` when unlimited or unreadable.
    pub limit: Option<u64>,
    pub high_limit: Option<u64>,
    /// Only when the read asked for it.
    pub stat: Option<MemStat>,
    pub events: Events,
    pub failcnt: Option<u64>,
    pub pressure: Pressure,
    /// v2 `memory.swap.current`.
    pub swap: Option<u64>,
}

impl Reading {
    /// usage − inactive file (saturating), when both are known.
    pub fn working_set(&self) -> Option<u64> {
        let inactive = self.stat?.inactive_file?;
        Some(self.usage?.saturating_sub(inactive))
    }

    /// The shared view for reports (allocates the path: not for the tick).
    pub fn view(&self, path: &str) -> CgroupView {
        let mut view = CgroupView {
            path: path.to_string(),
            ..CgroupView::default()
        };
        self.update(&mut view);
        view
    }

    /// Refreshes the numbers of `view` in place (no allocation; the path
    /// stays). Stat fields keep their last value when this read had no stat.
    pub fn update(&self, view: &mut CgroupView) {
        view.version = self.version.map_or(0, Version::number);
        view.usage_bytes = self.usage;
        view.limit_bytes = self.limit;
        view.high_bytes = self.high_limit;
        view.oom_kills = self.events.oom_kill;
        view.psi_some_avg10 = self.pressure.some_avg10_percent();
        if let Some(stat) = self.stat {
            view.working_set_bytes = self.working_set();
            view.anon_bytes = stat.anon;
            view.file_bytes = stat.file;
            view.inactive_file_bytes = stat.inactive_file;
        }
    }
}

/// The watched metric from a status sample and, for `cgroup_*`, a cgroup
/// reading. `None` when what the metric needs is not there (the caller
/// falls back to `rss_anon` and says so once).
pub fn select(metric: Metric, s: &StatusSample, cg: Option<&Reading>) -> Option<u64> {
    match metric {
        // Kernels before 4.5 have no RssAnon: VmRSS is the closest we have.
        Metric::RssAnon => s.rss_anon.or(s.vm_rss),
        Metric::Rss => s.vm_rss,
        Metric::RssAnonSwap => Some(s.rss_anon?.saturating_add(s.vm_swap.unwrap_or(0))),
        Metric::CgroupUsage => cg?.usage,
        Metric::CgroupWorkingSet => cg?.working_set(),
    }
}

/// The known limit (NAMES.md): `MEMORY_LIMIT` when set, else the cgroup's.
pub fn known_limit(memory_limit: Option<u64>, cg: Option<&Reading>) -> Option<u64> {
    memory_limit.or_else(|| cg.and_then(|c| c.limit))
}

/// Everything a lifecycle needs about cgroups (built by `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CgroupParams {
    pub metric: Metric,
    /// `MEMORY_LIMIT`: the known limit, over the cgroup's.
    pub memory_limit: Option<u64>,
    pub rules: RuleConfig,
}

/// Settings of the rules (from `Config`; `None` / `false` = off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuleConfig {
    pub oom_kill: bool,
    pub memory_high: bool,
    /// `PSI_THRESHOLD` in hundredths of a percent.
    pub psi_threshold: Option<u32>,
    /// `PRE_OOM_DUMP`, percent of the known limit.
    pub pre_oom_percent: Option<u32>,
    pub oom_kill_cooldown: Duration,
    pub memory_high_cooldown: Duration,
    pub memory_pressure_cooldown: Duration,
}

/// A rule that fired. `held_back`: its cooldown holds it back (log once,
/// never notify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    pub kind: Kind,
    pub held_back: bool,
    /// How far the counter moved (kills, throttle events); 0 for PSI.
    pub count: u64,
}

/// A cooldown with its episode: held-back detections are reported once
/// until the condition clears.
#[derive(Debug, Clone, Copy, Default)]
struct Gate {
    last: Option<Instant>,
    held_reported: bool,
}

impl Gate {
    fn fire(&mut self, now: Instant, cooldown: Duration, kind: Kind, count: u64) -> Option<Fired> {
        let cooling = self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < cooldown);
        if !cooling {
            self.last = Some(now);
            self.held_reported = false;
            return Some(Fired {
                kind,
                held_back: false,
                count,
            });
        }
        if self.held_reported {
            return None;
        }
        self.held_reported = true;
        Some(Fired {
            kind,
            held_back: true,
            count,
        })
    }

    fn clear(&mut self) {
        self.held_reported = false;
    }
}

/// The cgroup rules of one target incarnation.
#[derive(Debug, Clone)]
pub struct Rules {
    cfg: RuleConfig,
    last_oom_kill: Option<u64>,
    last_high: Option<u64>,
    oom: Gate,
    high: Gate,
    psi: Gate,
    pre_oom_armed: bool,
}

impl Rules {
    pub fn new(cfg: RuleConfig) -> Rules {
        Rules {
            cfg,
            last_oom_kill: None,
            last_high: None,
            oom: Gate::default(),
            high: Gate::default(),
            psi: Gate::default(),
            pre_oom_armed: true,
        }
    }

    /// Feeds one cgroup read; returns what fired (at most three). The first
    /// read only sets the counters' starting points.
    pub fn on_reading(&mut self, now: Instant, r: &Reading) -> heapless::Vec<Fired, 3> {
        let mut out = heapless::Vec::new();
        let c = self.cfg;
        if let Some(moved) = rise(&mut self.last_oom_kill, r.events.oom_kill) {
            if c.oom_kill {
                let f = self
                    .oom
                    .fire(now, c.oom_kill_cooldown, Kind::OomKill, moved);
                out.extend(f);
            }
        } else {
            self.oom.clear();
        }
        if let Some(moved) = rise(&mut self.last_high, r.events.high) {
            if c.memory_high {
                let f = self
                    .high
                    .fire(now, c.memory_high_cooldown, Kind::MemoryHigh, moved);
                out.extend(f);
            }
        } else {
            self.high.clear();
        }
        match (c.psi_threshold, r.pressure.some_avg10) {
            (Some(limit), Some(avg10)) if avg10 > limit => {
                let cooldown = c.memory_pressure_cooldown;
                out.extend(self.psi.fire(now, cooldown, Kind::MemoryPressure, 0));
            }
            _ => self.psi.clear(),
        }
        out
    }

    /// `pre-oom`: `bytes` (the watched metric) crossed `PRE_OOM_DUMP` of the
    /// known `limit`. Fires once, then again only after the metric fell 5
    /// points below the threshold.
    pub fn pre_oom(&mut self, bytes: u64, limit: Option<u64>) -> bool {
        let (Some(pct), Some(limit)) = (self.cfg.pre_oom_percent, limit) else {
            return false;
        };
        let share = |p: u32| u128::from(limit) * u128::from(p) / 100;
        let bytes = u128::from(bytes);
        if self.pre_oom_armed && bytes >= share(pct) {
            self.pre_oom_armed = false;
            return true;
        }
        if !self.pre_oom_armed && bytes < share(pct.saturating_sub(5)) {
            self.pre_oom_armed = true;
        }
        false
    }
}

/// How far a counter rose since the last read (and remembers it). A counter
/// that went down (a new cgroup) just restarts from there.
fn rise(last: &mut Option<u64>, now: Option<u64>) -> Option<u64> {
    let now = now?;
    let before = last.replace(now)?;
    (now > before).then(|| now - before)
}

#[cfg(test)]
mod tests;
