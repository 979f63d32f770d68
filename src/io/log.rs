//! Structured log lines on stderr: logfmt by default, JSON with
//! `LOG_FORMAT=json`. One line per event, written with a single `write`.
//! Secrets are never passed here.

use std::fmt::{self, Display, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::LogFormat;
use crate::core::json::Quoted;
use crate::core::timefmt::Utc;

static JSON: AtomicBool = AtomicBool::new(false);

pub fn set_format(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

pub type Fields<'a> = &'a [(&'a str, &'a dyn Display)];

pub fn info(event: &str, fields: Fields<'_>) {
    write(Level::Info, event, fields);
}

pub fn warn(event: &str, fields: Fields<'_>) {
    write(Level::Warn, event, fields);
}

pub fn error(event: &str, fields: Fields<'_>) {
    write(Level::Error, event, fields);
}

pub fn write(level: Level, event: &str, fields: Fields<'_>) {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let line = format_line(JSON.load(Ordering::Relaxed), ms, level, event, fields);
    // Logging must never take the monitor down: a closed stderr is ignored.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Formats one line (pure, for tests).
pub fn format_line(
    json: bool,
    unix_ms: u64,
    level: Level,
    event: &str,
    fields: Fields<'_>,
) -> String {
    let ts = Utc::from_unix_ms(unix_ms).rfc3339().to_string();
    let mut out = String::with_capacity(160);
    let mut value = String::new();
    if json {
        let _ = write!(
            out,
            "{{\"ts\":\"{ts}\",\"level\":\"{}\",\"event\":{}",
            level.as_str(),
            Quoted(event)
        );
        for (k, v) in fields {
            value.clear();
            let _ = write!(value, "{v}");
            let _ = write!(out, ",{}:", Quoted(k));
            if is_json_scalar(&value) {
                out.push_str(&value);
            } else {
                let _ = write!(out, "{}", Quoted(&value));
            }
        }
        out.push_str("}\n");
    } else {
        let _ = write!(
            out,
            "ts={ts} level={} event={}",
            level.as_str(),
            Logfmt(event)
        );
        for (k, v) in fields {
            value.clear();
            let _ = write!(value, "{v}");
            let _ = write!(out, " {k}={}", Logfmt(&value));
        }
        out.push('\n');
    }
    out
}

fn is_json_scalar(s: &str) -> bool {
    s == "true"
        || s == "false"
        || (!s.is_empty()
            && s.len() < 20
            && s.bytes().all(|b| b.is_ascii_digit())
            && !(s.len() > 1 && s.starts_with('0')))
}

/// A logfmt value: bare when safe, quoted and escaped otherwise.
struct Logfmt<'a>(&'a str);

impl Display for Logfmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bare = !self.0.is_empty()
            && self
                .0
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
        if bare {
            f.write_str(self.0)
        } else {
            Quoted(self.0).fmt(f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_and_json_lines() {
        let fields: Fields<'_> = &[
            ("pid", &42),
            ("msg", &"heap profiling not enabled"),
            ("name", &"a=b"),
        ];
        let line = format_line(false, 0, Level::Warn, "dump-failed", fields);
        assert_eq!(
            line,
            "ts=1970-01-01T00:00:00.000Z level=warn event=dump-failed pid=42 msg=\"heap profiling not enabled\" name=\"a=b\"\n"
        );
        let line = format_line(
            true,
            0,
            Level::Info,
            "spike",
            &[("bytes", &1024), ("dump", &true), ("v", &"007")],
        );
        assert_eq!(
            line,
            "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\",\"event\":\"spike\",\"bytes\":1024,\"dump\":true,\"v\":\"007\"}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["bytes"], 1024);
    }
}
