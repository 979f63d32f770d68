//! Detection settings: the drop-in thresholds (PRODUCT §1), `DETECTION`
//! and the trend rules (issue 10): `LEAK_RATE_THRESHOLD`,
//! `TIME_TO_LIMIT_THRESHOLD`, `GROWTH_PERCENT` + `GROWTH_PERIOD`.

use std::time::Duration;

use super::bounds;
use super::explain::percent_hundredths;
use super::reader::{multiplier, window_size, Reader};
use super::{ConfigError, Source};
use crate::core::detector::Params;
use crate::core::detectors::{DetectParams, Detection};
use crate::core::trend::{POINT_S, RING};
use crate::core::trend_rules::{Rate, TrendParams};
use crate::core::units;

/// Detection thresholds: everything `replay` needs as well as `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectConfig {
    pub interval: Duration,
    pub threshold_bytes: u64,
    pub dump_cooldown: Duration,
    pub window_size: usize,
    /// SPIKE_MULTIPLIER in millionths (3 -> 3_000_000, 1.5 -> 1_500_000).
    pub spike_multiplier_micros: u64,
    /// DETECTION, default compat.
    pub detection: Detection,
    /// LEAK_RATE_THRESHOLD (robust's default when unset: threshold per 8 h).
    pub leak_rate: Option<Rate>,
    /// TIME_TO_LIMIT_THRESHOLD.
    pub time_to_limit: Option<Duration>,
    /// GROWTH_PERCENT (whole percent) over GROWTH_PERIOD (default 1 h).
    pub growth: Option<(u32, Duration)>,
}

impl DetectConfig {
    /// The drop-in rules' parameters (spike cooldown = window × interval).
    pub fn params(&self) -> Params {
        let ticks = u32::try_from(self.window_size).unwrap_or(u32::MAX);
        Params {
            window_size: self.window_size,
            threshold_bytes: self.threshold_bytes,
            spike_multiplier_micros: self.spike_multiplier_micros,
            spike_cooldown: self.interval.saturating_mul(ticks),
            leak_cooldown: self.dump_cooldown,
        }
    }

    /// What a detector is built from (trend rules use DUMP_COOLDOWN).
    pub fn detect_params(&self) -> DetectParams {
        DetectParams {
            detection: self.detection,
            rules: self.params(),
            trend: TrendParams {
                leak_rate: self.leak_rate,
                rise_min: 0,
                time_to_limit: self.time_to_limit,
                growth: self.growth,
                cooldown: self.dump_cooldown,
                memory_limit: None,
            },
        }
    }
}

/// `100MB/h`, a bare size (per hour), or `5%/h` of the known limit.
fn leak_rate(s: &str) -> Result<Rate, String> {
    let t = s.trim();
    let per_hour = t
        .strip_suffix("/h")
        .or_else(|| t.strip_suffix("/H"))
        .unwrap_or(t)
        .trim_end();
    if per_hour.ends_with('%') {
        return match percent_hundredths(per_hour) {
            Some(h) if h > 0 => Ok(Rate::LimitBasisPointsPerHour(h)),
            _ => Err("want a size per hour (100MB/h) or a percentage of the limit (5%/h)".into()),
        };
    }
    match units::parse_size(per_hour) {
        Ok(0) => Err("must be greater than zero".into()),
        Ok(b) => Ok(Rate::BytesPerHour(b)),
        Err(e) => Err(format!(
            "{e} (want a size per hour, 100MB/h, or a percentage of the limit, 5%/h)"
        )),
    }
}

/// The trend history the rules can look back on.
const HISTORY: Duration = Duration::from_secs(POINT_S as u64 * RING as u64);

pub(super) fn read(r: &mut Reader<'_, '_>) -> Option<DetectConfig> {
    let interval = r.required("CHECK_INTERVAL", bounds::interval);
    let threshold = r.required("MEMORY_CHANGE_THRESHOLD", units::parse_size);
    let cooldown = r.required("DUMP_COOLDOWN", bounds::duration);
    let window = r.parsed("HISTORY_WINDOW_SIZE", window_size).unwrap_or(60);
    let mult = r
        .parsed("SPIKE_MULTIPLIER", multiplier)
        .unwrap_or(3_000_000);
    let detection = r
        .parsed("DETECTION", |s| {
            Detection::parse(s).ok_or("want compat (the drop-in rules) or robust")
        })
        .unwrap_or_default();
    let leak_rate = r.parsed("LEAK_RATE_THRESHOLD", leak_rate);
    let time_to_limit = r.parsed("TIME_TO_LIMIT_THRESHOLD", bounds::positive_duration);
    let percent = r.parsed("GROWTH_PERCENT", |s| match percent_hundredths(s) {
        Some(h) if h > 0 && h % 100 == 0 => Ok(h / 100),
        _ => Err("want a whole percentage above 0, e.g. 50%"),
    });
    let period = r.parsed("GROWTH_PERIOD", |s| match bounds::positive_duration(s) {
        Ok(d) if d > HISTORY => Err(format!(
            "at most {}h, the trend history",
            HISTORY.as_secs() / 3600
        )),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    });
    if let (None, Some(_)) = (percent, period) {
        if r.src.get("GROWTH_PERCENT").is_none() {
            let value = r.src.get("GROWTH_PERIOD").unwrap_or_default();
            r.fail("GROWTH_PERIOD", &value, "is set but GROWTH_PERCENT is not");
        }
    }
    Some(DetectConfig {
        interval: interval?,
        threshold_bytes: threshold?,
        dump_cooldown: cooldown?,
        window_size: window,
        spike_multiplier_micros: mult,
        detection,
        leak_rate,
        time_to_limit,
        growth: percent.map(|p| (p, period.unwrap_or(Duration::from_secs(3600)))),
    })
}

/// `check-config`'s line on the detector and its trend rules.
pub(super) fn describe(d: &DetectConfig, memory_limit: Option<u64>) -> String {
    let mut s = format!("# detection: {}", d.detection.as_str());
    let p = d.detect_params();
    let rate = match (d.leak_rate, d.detection) {
        (Some(Rate::BytesPerHour(b)), _) => format!("{b} B/h"),
        (Some(Rate::LimitBasisPointsPerHour(bp)), _) => {
            format!("{}.{:02}%/h of the known limit", bp / 100, bp % 100)
        }
        (None, Detection::Robust) => format!(
            "{} B/h (MEMORY_CHANGE_THRESHOLD per 8 h, the default)",
            p.rules.threshold_bytes / 8
        ),
        (None, Detection::Compat) => "off".into(),
    };
    s += &format!("; leak-rate {rate}");
    s += &match d.time_to_limit {
        Some(t) => format!("; time-to-limit below {t:?}"),
        None => "; time-to-limit off".into(),
    };
    s += &match d.growth {
        Some((pct, period)) => format!("; growth {pct}% over {period:?}"),
        None => "; growth off".into(),
    };
    s += &match memory_limit {
        Some(l) => format!("; known limit MEMORY_LIMIT {l} B\n"),
        None => "; known limit: the target's cgroup limit, if any\n".into(),
    };
    s
}

/// Only the detection settings: what `replay` needs.
pub fn detect_config(src: &Source<'_>) -> Result<DetectConfig, Vec<ConfigError>> {
    let mut r = Reader {
        src,
        errors: Vec::new(),
    };
    match (read(&mut r), r.errors.is_empty()) {
        (Some(d), true) => Ok(d),
        _ => Err(r.errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(extra: &[(&str, &str)]) -> Result<DetectConfig, Vec<ConfigError>> {
        let pairs: Vec<(String, String)> = [
            ("CHECK_INTERVAL", "10s"),
            ("MEMORY_CHANGE_THRESHOLD", "100MB"),
            ("DUMP_COOLDOWN", "10m"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let env = move |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        detect_config(&Source::new(&env))
    }

    #[test]
    fn defaults_are_compat_without_trend_rules() {
        let d = with(&[]).unwrap();
        assert_eq!(d.detection, Detection::Compat);
        assert_eq!((d.leak_rate, d.time_to_limit, d.growth), (None, None, None));
        assert!(!d.detect_params().trend.any());
    }

    #[test]
    fn trend_settings() {
        let d = with(&[
            ("DETECTION", "Robust"),
            ("LEAK_RATE_THRESHOLD", "50MB/h"),
            ("TIME_TO_LIMIT_THRESHOLD", "2h"),
            ("GROWTH_PERCENT", "50%"),
        ])
        .unwrap();
        assert_eq!(d.detection, Detection::Robust);
        assert_eq!(d.leak_rate, Some(Rate::BytesPerHour(50_000_000)));
        assert_eq!(d.time_to_limit, Some(Duration::from_secs(7200)));
        assert_eq!(d.growth, Some((50, Duration::from_secs(3600))));
        assert_eq!(leak_rate("5%/h"), Ok(Rate::LimitBasisPointsPerHour(500)));
        assert_eq!(leak_rate("1GiB"), Ok(Rate::BytesPerHour(1 << 30)));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let errors = with(&[
            ("DETECTION", "smart"),
            ("LEAK_RATE_THRESHOLD", "fast"),
            ("TIME_TO_LIMIT_THRESHOLD", "0s"),
            ("GROWTH_PERIOD", "2h"),
        ])
        .unwrap_err();
        let names: Vec<&str> = errors.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "DETECTION",
                "LEAK_RATE_THRESHOLD",
                "TIME_TO_LIMIT_THRESHOLD",
                "GROWTH_PERIOD"
            ]
        );
        assert!(errors[3].message.contains("GROWTH_PERCENT is not"));
        let long = with(&[("GROWTH_PERCENT", "10"), ("GROWTH_PERIOD", "9h")]).unwrap_err();
        assert!(long[0].message.contains("at most 8h"), "{long:?}");
        assert!(with(&[("LEAK_RATE_THRESHOLD", "0%/h")]).is_err());
    }
}
