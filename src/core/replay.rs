//! Replay: the same detector (`DETECTION`) over a recorded trace, so
//! thresholds can be tuned offline. Rows are `seconds,bytes` (seconds since
//! the first sample, fractions allowed); a header line and `#` comments are
//! skipped, except `# restart`: the rows after it are a new incarnation and
//! the detector starts afresh (older replays, which skipped every comment,
//! read such files the same way otherwise). The window fills from the first
//! row: no initial delay, no baseline dump, no settle.

use std::fmt;
use std::time::{Duration, Instant};

use crate::core::detector::Event;
use crate::core::detectors::{DetectParams, Detectors};
use crate::core::json::Quoted;

#[derive(Debug, Clone, PartialEq)]
pub enum ReplayError {
    Columns {
        line: usize,
    },
    Seconds {
        line: usize,
        value: String,
    },
    Bytes {
        line: usize,
        value: String,
    },
    Backwards {
        line: usize,
        seconds: f64,
        previous: f64,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Columns { line } => {
                write!(f, "line {line}: expected two columns `seconds,bytes`")
            }
            ReplayError::Seconds { line, value } => {
                write!(f, "line {line}: bad seconds {value:?} (want a number >= 0)")
            }
            ReplayError::Bytes { line, value } => {
                write!(f, "line {line}: bad bytes {value:?} (want a whole number)")
            }
            ReplayError::Backwards {
                line,
                seconds,
                previous,
            } => write!(
                f,
                "line {line}: time goes backwards ({seconds} after {previous})"
            ),
        }
    }
}

/// Parses one line. `Ok(None)` for blank lines, comments and a header on
/// line 1.
pub fn parse_row(line: &str, line_no: usize) -> Result<Option<(f64, u64)>, ReplayError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let Some((secs, bytes)) = line.split_once(',') else {
        return Err(ReplayError::Columns { line: line_no });
    };
    let (secs, bytes) = (secs.trim(), bytes.trim());
    let first_is_text = secs.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    if line_no == 1 && first_is_text {
        return Ok(None);
    }
    let seconds = secs
        .parse::<f64>()
        .ok()
        .filter(|s| {
            s.is_finite() && *s >= 0.0 && secs.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
        .ok_or_else(|| ReplayError::Seconds {
            line: line_no,
            value: secs.to_string(),
        })?;
    let bytes = bytes.parse::<u64>().map_err(|_| ReplayError::Bytes {
        line: line_no,
        value: bytes.to_string(),
    })?;
    Ok(Some((seconds, bytes)))
}

/// A `# restart` comment: the next row belongs to a new incarnation.
pub fn is_restart(line: &str) -> bool {
    line.trim()
        .strip_prefix('#')
        .and_then(|c| c.split_whitespace().next())
        .is_some_and(|w| w.eq_ignore_ascii_case("restart"))
}

/// Feeds rows to a detector with synthetic time.
pub struct Replayer {
    detector: Box<Detectors>,
    origin: Instant,
    last_seconds: f64,
    pub samples: u64,
    pub restarts: u64,
}

impl Replayer {
    /// `origin` is any instant: rows are placed at `origin + seconds`.
    pub fn new(params: DetectParams, origin: Instant) -> Replayer {
        Replayer {
            detector: Box::new(Detectors::new(params)),
            origin,
            last_seconds: 0.0,
            samples: 0,
            restarts: 0,
        }
    }

    pub fn line(
        &mut self,
        line: &str,
        line_no: usize,
    ) -> Result<Option<(f64, Event)>, ReplayError> {
        if is_restart(line) {
            // A new incarnation: the detector starts from scratch, as `run` does.
            self.detector.reset();
            self.restarts += 1;
            return Ok(None);
        }
        let Some((seconds, bytes)) = parse_row(line, line_no)? else {
            return Ok(None);
        };
        if seconds < self.last_seconds {
            return Err(ReplayError::Backwards {
                line: line_no,
                seconds,
                previous: self.last_seconds,
            });
        }
        self.last_seconds = seconds;
        self.samples += 1;
        // Clamp absurd offsets so the Instant arithmetic cannot overflow.
        let offset = Duration::from_secs_f64(seconds.min(1e12));
        let now = self.origin.checked_add(offset).unwrap_or(self.origin);
        let event = self.detector.on_sample(now, bytes);
        if let Some(e) = event.filter(|e| e.dump) {
            // Replay has no capture: every event's capture counts as taken.
            self.detector.handled(e.kind, now);
        }
        Ok(event.map(|e| (seconds, e)))
    }
}

/// One replay event as a JSON line (PRODUCT §3.4).
pub struct JsonLine<'a>(pub f64, pub &'a Event);

impl fmt::Display for JsonLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (t, e) = (self.0, self.1);
        write!(
            f,
            "{{\"t\": {t:?}, \"event\": {}, \"bytes\": {}, \"p50\": {}, \"p95\": {}, \"baseline\": {}, \"dump\": {}}}",
            Quoted(e.kind.as_str()),
            e.bytes,
            e.p50,
            e.p95,
            e.baseline,
            e.dump
        )
    }
}

/// One replay event for a human.
pub struct TextLine<'a>(pub f64, pub &'a Event);

impl fmt::Display for TextLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::core::units::human_bytes as h;
        let (t, e) = (self.0, self.1);
        write!(
            f,
            "t={t:>10.1}s {:<9} sample={} p50={} p95={} baseline={} {}",
            e.kind.as_str(),
            h(e.bytes),
            h(e.p50),
            h(e.p95),
            h(e.baseline),
            if e.dump {
                "DUMP"
            } else {
                "(cooldown: no dump)"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::detector::Params;
    use crate::core::detectors::Detection;
    use crate::core::event::Kind;
    use crate::core::trend_rules::TrendParams;

    fn params() -> DetectParams {
        DetectParams {
            detection: Detection::Compat,
            rules: Params {
                window_size: 3,
                threshold_bytes: 100,
                spike_multiplier_micros: 3_000_000,
                spike_cooldown: Duration::from_secs(30),
                leak_cooldown: Duration::from_secs(60),
            },
            trend: TrendParams::off(Duration::from_secs(60)),
        }
    }

    #[test]
    fn a_restart_line_starts_a_new_incarnation() {
        let trace = "0,1000\n10,1000\n20,1000\n# restart (pid 42)\n30,1000\n40,1000\n50,1000\n";
        let mut r = Replayer::new(params(), Instant::now());
        let mut baselines = Vec::new();
        for (i, line) in trace.lines().enumerate() {
            if let Some((t, e)) = r.line(line, i + 1).unwrap() {
                assert_eq!(e.kind, Kind::Baseline);
                baselines.push(t);
            }
        }
        // The window refills after the restart: a second baseline, 3 rows later.
        assert_eq!(baselines, [20.0, 50.0]);
        assert_eq!((r.samples, r.restarts), (6, 1));
        assert!(is_restart("  # Restart"));
        assert!(!is_restart("# restarted"));
        assert!(!is_restart("# warm-up"));
    }

    #[test]
    fn trace_to_json_lines() {
        let trace = "seconds,bytes\n# warm-up\n0,1000\n10,1000\n20.5,1000\n30,5000\n40,5000\n";
        let mut r = Replayer::new(params(), Instant::now());
        let mut out = Vec::new();
        for (i, line) in trace.lines().enumerate() {
            if let Some((t, e)) = r.line(line, i + 1).unwrap() {
                out.push(JsonLine(t, &e).to_string());
            }
        }
        assert_eq!(
            out,
            [
                r#"{"t": 20.5, "event": "baseline", "bytes": 1000, "p50": 1000, "p95": 1000, "baseline": 1000, "dump": false}"#,
                r#"{"t": 30.0, "event": "spike", "bytes": 5000, "p50": 1000, "p95": 5000, "baseline": 1000, "dump": true}"#,
                // P50 rose past baseline + threshold, but the spike dump restarted
                // the slow-leak cooldown: reported without a dump.
                r#"{"t": 40.0, "event": "slow-leak", "bytes": 5000, "p50": 5000, "p95": 5000, "baseline": 1000, "dump": false}"#,
            ]
        );
        assert_eq!(r.samples, 5);
        let e = Event {
            kind: Kind::SlowLeak,
            bytes: 1,
            p50: 1,
            p95: 1,
            baseline: 0,
            dump: true,
        };
        assert!(TextLine(1.0, &e).to_string().contains("slow-leak"));
    }

    #[test]
    fn bad_rows_name_the_line() {
        assert_eq!(parse_row("1;2", 3), Err(ReplayError::Columns { line: 3 }));
        assert_eq!(parse_row("x,2", 1), Ok(None), "header");
        assert!(matches!(
            parse_row("x,2", 2),
            Err(ReplayError::Seconds { line: 2, .. })
        ));
        assert!(matches!(
            parse_row("-1,2", 2),
            Err(ReplayError::Seconds { .. })
        ));
        assert!(matches!(
            parse_row("inf,2", 2),
            Err(ReplayError::Seconds { .. })
        ));
        assert!(matches!(
            parse_row("1,2.5", 2),
            Err(ReplayError::Bytes { .. })
        ));
        let mut r = Replayer::new(params(), Instant::now());
        r.line("5,1", 1).unwrap();
        assert!(matches!(
            r.line("4,1", 2),
            Err(ReplayError::Backwards { line: 2, .. })
        ));
    }
}
