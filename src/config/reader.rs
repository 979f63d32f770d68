//! Reads one setting at a time from a [`Source`], recording every problem
//! instead of stopping at the first.

use std::fmt;
use std::time::Duration;

use super::{ConfigError, Source};
use crate::core::units;
use crate::core::window::CAPACITY;

/// Collects values and problems; every getter records its own error.
pub(super) struct Reader<'s, 'a> {
    pub(super) src: &'s Source<'a>,
    pub(super) errors: Vec<ConfigError>,
}

impl Reader<'_, '_> {
    pub(super) fn fail(&mut self, var: &str, value: &str, why: impl fmt::Display) {
        self.errors.push(ConfigError {
            name: var.to_string(),
            message: format!("{value:?}: {why}"),
        });
    }

    pub(super) fn missing(&mut self, var: &str, hint: &str) {
        self.errors.push(ConfigError {
            name: var.to_string(),
            message: format!("is required{hint}"),
        });
    }

    pub(super) fn parsed<T, E: fmt::Display>(
        &mut self,
        var: &str,
        f: impl Fn(&str) -> Result<T, E>,
    ) -> Option<T> {
        let value = self.src.get(var)?;
        match f(&value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(var, &value, e);
                None
            }
        }
    }

    pub(super) fn required<T, E: fmt::Display>(
        &mut self,
        var: &str,
        f: impl Fn(&str) -> Result<T, E>,
    ) -> Option<T> {
        if self.src.get(var).is_none() {
            self.missing(var, "");
            return None;
        }
        self.parsed(var, f)
    }

    pub(super) fn string(&self, var: &str) -> Option<String> {
        self.src.get(var)
    }
}

/// A duration above zero and at most 30 days.
pub(super) fn positive_duration(s: &str) -> Result<Duration, String> {
    super::bounds::positive_duration(s)
}

pub(super) fn bool_value(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("want true or false".into()),
    }
}

pub(super) fn window_size(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=CAPACITY).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is outside 1..={CAPACITY}")),
        Err(_) => Err("want a whole number".into()),
    }
}

pub(super) fn multiplier(s: &str) -> Result<u64, String> {
    match units::parse_multiplier_micros(s) {
        Ok(0) => Err("must be greater than zero".into()),
        Ok(m) => Ok(m),
        Err(e) => Err(e.to_string()),
    }
}

/// An `http://` or `https://` URL with a host.
pub(super) fn http_url(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("want an http:// or https:// URL")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("want an http:// or https:// URL with a host");
    }
    Ok(s.to_string())
}

/// `IP:port`, or `:port` for every interface.
pub(super) fn socket_addr(s: &str) -> Result<std::net::SocketAddr, &'static str> {
    let s = s.trim();
    let full = match s.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => s.to_string(),
    };
    full.parse()
        .map_err(|_| "want IP:port, e.g. 0.0.0.0:9464 or [::]:9464 (or :9464)")
}
