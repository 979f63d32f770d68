//! `check-config`: every setting's effective value, secrets redacted.

use super::args::{SECRETS, SETTINGS};
use super::{detect, restart, Config, Source, TargetSpec};

/// `check-config`: the effective value of every setting, secrets redacted.
pub fn describe(src: &Source<'_>, config: &Config) -> String {
    let mut out = String::new();
    for (var, _, _) in SETTINGS {
        let value = match src.get(var) {
            Some(_) if SECRETS.contains(var) => "<redacted>".to_string(),
            Some(v) => v,
            None => "(unset)".to_string(),
        };
        out.push_str(&format!("{var}={value}\n"));
    }
    let d = &config.detect;
    let target = match &config.target {
        TargetSpec::Name(n) => format!("name {n:?}"),
        TargetSpec::Pid(p) => format!("pid {p}"),
        TargetSpec::PidFile(f) => format!("pidfile {}", f.display()),
    };
    let store = match &config.s3 {
        Some(s3) => format!("s3://{}/{} (region {})", s3.bucket, s3.prefix, s3.region),
        None => format!("local spool only ({})", config.spool.dir.display()),
    };
    out.push_str(&format!(
        "# effective: target {target}; every {:?}; window {} samples; slow leak > baseline + {} B; \
         spike > P95 x {}; spike cooldown {:?}; slow-leak cooldown {:?}; pod {:?}; dumps to {store}; \
         slack channel {}{}\n",
        d.interval,
        d.window_size,
        d.threshold_bytes,
        d.spike_multiplier_micros as f64 / 1e6,
        d.interval.saturating_mul(u32::try_from(d.window_size).unwrap_or(u32::MAX)),
        d.dump_cooldown,
        config.pod_name,
        config.notify.slack_channel,
        if config.notify.slack_token.is_some() { "" } else { " (no SLACK_API_TOKEN: not sent)" },
    ));
    out.push_str(&detect::describe(d, config.explain.memory_limit));
    let n = &config.notify;
    let on = |b: bool| if b { "on" } else { "off" };
    out.push_str(&format!(
        "# notify: slack bot {} ({}), slack webhook {}, webhook {}; metrics {}\n",
        on(n.slack_token.is_some()),
        n.slack_api_url,
        on(n.slack_webhook_url.is_some()),
        on(n.webhook_url.is_some()),
        n.metrics_addr
            .map_or_else(|| "off".to_string(), |a| format!("on {a}")),
    ));
    out.push_str(&restart::describe(config.restart.as_ref()));
    out
}
