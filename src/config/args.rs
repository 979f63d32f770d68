//! argv -> [`Command`] plus the `--flag` values, and the table of every
//! setting that `--help` and `check-config` list.

use std::path::PathBuf;

use super::ConfigError;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run,
    CheckConfig,
    Replay { file: PathBuf, json: bool },
    Inspect { target: String, json: bool },
    Help,
    Version,
}

/// Every setting: env var name, flag name, meaning (for `--help`).
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "BINARY_NAME",
        "--binary-name",
        "target process name (comm, exe or argv[0] file name)",
    ),
    ("TARGET_PID", "--pid", "watch this pid instead of a name"),
    (
        "TARGET_PIDFILE",
        "--pidfile",
        "read the target pid from this file",
    ),
    (
        "CHECK_INTERVAL",
        "--check-interval",
        "time between samples (500ms, 10s, 1m)",
    ),
    (
        "MEMORY_CHANGE_THRESHOLD",
        "--memory-change-threshold",
        "bytes above baseline P50 that count as a slow leak (200MB, 1.5GiB)",
    ),
    (
        "INITIAL_DELAY",
        "--initial-delay",
        "wait before the baseline dump",
    ),
    (
        "DUMP_COOLDOWN",
        "--dump-cooldown",
        "minimum time between slow-leak dumps",
    ),
    (
        "HISTORY_WINDOW_SIZE",
        "--history-window-size",
        "samples in the sliding window (default 60, max 4096)",
    ),
    (
        "SPIKE_MULTIPLIER",
        "--spike-multiplier",
        "spike when a sample > P95 x this (default 3)",
    ),
    (
        "DETECTION",
        "--detection",
        "compat (default: the drop-in rules, exactly) or robust (baseline once memory settled, \
         steps are not leaks, leak-rate on by default)",
    ),
    (
        "LEAK_RATE_THRESHOLD",
        "--leak-rate-threshold",
        "leak-rate: straight-line growth above this (100MB/h, or 5%/h of the known limit); \
         robust default MEMORY_CHANGE_THRESHOLD per 8h",
    ),
    (
        "TIME_TO_LIMIT_THRESHOLD",
        "--time-to-limit-threshold",
        "time-to-limit: the known limit is reached sooner than this at the current growth (2h)",
    ),
    (
        "GROWTH_PERCENT",
        "--growth-percent",
        "growth: P50 rose this much over GROWTH_PERIOD (50%; off by default)",
    ),
    (
        "GROWTH_PERIOD",
        "--growth-period",
        "the period of GROWTH_PERCENT (default 1h, at most 8h)",
    ),
    (
        "BASELINE_SETTLE",
        "--baseline-settle",
        "pause after the baseline dump before the window fills (default 60s)",
    ),
    (
        "POD_NAME",
        "--pod-name",
        "used in object keys and messages (default: hostname)",
    ),
    (
        "S3_BUCKET",
        "--s3-bucket",
        "bucket for dumps (without it dumps stay in the spool)",
    ),
    (
        "S3_PATH_PREFIX",
        "--s3-path-prefix",
        "key prefix, used verbatim",
    ),
    (
        "AWS_REGION",
        "--aws-region",
        "S3 region (or AWS_DEFAULT_REGION; default us-east-1)",
    ),
    (
        "AWS_ENDPOINT_URL_S3",
        "--s3-endpoint",
        "S3-compatible endpoint (or AWS_ENDPOINT_URL)",
    ),
    (
        "S3_FORCE_PATH_STYLE",
        "--s3-force-path-style",
        "path-style addressing (true/false)",
    ),
    (
        "SSL_CERT_FILE",
        "--ssl-cert-file",
        "CA bundle (PEM) for a private endpoint (replaces the built-in roots)",
    ),
    (
        "SPOOL_DIR",
        "--spool-dir",
        "durable local spool (default /tmp/memory-monitor/spool)",
    ),
    (
        "SPOOL_MAX_BYTES",
        "--spool-max-bytes",
        "spool cap; new dumps are refused beyond it (default 5GiB)",
    ),
    (
        "HEAP_DUMP_SOCKET",
        "--heap-dump-socket",
        "socket path (default /tmp/heap_dump_<exe name>.sock)",
    ),
    (
        "DUMP_MAX_BYTES",
        "--dump-max-bytes",
        "size cap for one dump (default 4GiB)",
    ),
    (
        "DUMP_CONNECT_TIMEOUT",
        "--dump-connect-timeout",
        "socket connect timeout (default 5s)",
    ),
    (
        "DUMP_READ_TIMEOUT",
        "--dump-read-timeout",
        "socket read timeout (default 90s)",
    ),
    (
        "DUMP_TOTAL_TIMEOUT",
        "--dump-total-timeout",
        "bound on one whole dump, however slowly it arrives (default 10m)",
    ),
    (
        "TARGET_MISSING_AFTER",
        "--target-missing-after",
        "alert when no target has been found for this long (default 10m, 0 = off)",
    ),
    (
        "DUMP_RETRIES",
        "--dump-retries",
        "retries of a failed capture, after 2s, 4s, 8s... while the event lasts (default 3)",
    ),
    (
        "SLACK_API_TOKEN",
        "--slack-api-token",
        "Slack bot token (secret)",
    ),
    (
        "SLACK_API_URL",
        "--slack-api-url",
        "Slack Web API base URL (default https://slack.com/api; for proxies and tests)",
    ),
    (
        "SLACK_CHANNEL",
        "--slack-channel",
        "override the channel chosen from ENVIRONMENT",
    ),
    (
        "ENVIRONMENT",
        "--environment",
        "prod -> alerts-prod; staging/shadow -> alerts-barn; other -> alerts-temp",
    ),
    ("NETWORK", "--network", "included in alert text"),
    (
        "SLACK_WEBHOOK_URL",
        "--slack-webhook-url",
        "Slack incoming webhook URL (secret): the same alert text",
    ),
    (
        "WEBHOOK_URL",
        "--webhook-url",
        "generic JSON webhook, signed per Standard Webhooks (needs WEBHOOK_SECRET)",
    ),
    (
        "WEBHOOK_SECRET",
        "--webhook-secret",
        "Standard Webhooks signing key: whsec_ + base64 (secret)",
    ),
    (
        "METRICS_ADDR",
        "--metrics-addr",
        "serve /metrics and /healthz on IP:port, e.g. 0.0.0.0:9464 (off when unset)",
    ),
    ("LOG_FORMAT", "--log-format", "logfmt (default) or json"),
    (
        "RECORD_FILE",
        "--record",
        "append every sample as CSV seconds,bytes",
    ),
    (
        "MEMORY_METRIC",
        "--memory-metric",
        "what the detector watches: rss_anon (default), rss, rss_anon_swap, cgroup_usage, cgroup_working_set (usage - inactive file)",
    ),
    (
        "MEMORY_LIMIT",
        "--memory-limit",
        "the known limit for pre-oom (default: the target's cgroup limit)",
    ),
    (
        "PRE_OOM_DUMP",
        "--pre-oom-dump",
        "take a pre-oom dump when the metric crosses this share of the known limit, e.g. 90% (off by default)",
    ),
    (
        "PSI_THRESHOLD",
        "--psi-threshold",
        "memory-pressure event when the cgroup's PSI some avg10 is above this percent, e.g. 10% (off by default)",
    ),
    (
        "DISABLE_EVENTS",
        "--disable-events",
        "comma-separated events to switch off (oom-kill, memory-high, memory-pressure, pre-oom, ...)",
    ),
    (
        "CGROUP_ROOT",
        "--cgroup-root",
        "where the cgroup hierarchies are mounted (default: from mountinfo)",
    ),
    (
        "PROC_ROOT",
        "--proc-root",
        "where the target's /proc entries for its cgroup are read (default /proc)",
    ),
    (
        "RESTART_SIGNALS",
        "--restart-signals",
        "restart after a confirmed leak: signals and waits, e.g. TSTP,30s,TERM (off when unset)",
    ),
    (
        "RESTART_ON",
        "--restart-on",
        "events that trigger it (default slow-leak,leak-rate,time-to-limit)",
    ),
    (
        "RESTART_BUDGET",
        "--restart-budget",
        "at most N restarts per period, N/period (default 1/1h; resets when the monitor restarts)",
    ),
    (
        "RESTART_DRY_RUN",
        "--restart-dry-run",
        "log and notify what would be sent, send nothing (true/false)",
    ),
    (
        "RESTART_TIMEOUT",
        "--restart-timeout",
        "report restart-failed if the target still runs this long after the last signal (default 30s)",
    ),
];

pub(super) const SECRETS: &[&str] = &["SLACK_API_TOKEN", "SLACK_WEBHOOK_URL", "WEBHOOK_SECRET"];

/// Env lookups and `--flag` values, flags winning.
pub struct Source<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    flags: Vec<(&'static str, String)>,
}

impl<'a> Source<'a> {
    pub fn new(env: &'a dyn Fn(&str) -> Option<String>) -> Source<'a> {
        Source {
            env,
            flags: Vec::new(),
        }
    }

    /// The value of a variable: a flag beats the environment; empty is unset.
    pub(super) fn get(&self, var: &str) -> Option<String> {
        let flag = self.flags.iter().rev().find(|(v, _)| *v == var);
        let value = match flag {
            Some((_, value)) => Some(value.clone()),
            None => (self.env)(var),
        };
        value.filter(|v| !v.trim().is_empty())
    }
}

/// Splits argv (without the program name) into a command and flag values.
pub fn parse_args<'a>(
    args: &[String],
    env: &'a dyn Fn(&str) -> Option<String>,
) -> (Command, Source<'a>, Vec<ConfigError>) {
    let mut src = Source::new(env);
    let mut errors = Vec::new();
    let mut positional = Vec::new();
    let mut json = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return (Command::Help, src, errors),
            "-V" | "--version" => return (Command::Version, src, errors),
            _ => {}
        }
        let Some(flag) = arg.strip_prefix("--") else {
            positional.push(arg.clone());
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        if name == "format" {
            match inline.or_else(|| it.next().cloned()).as_deref() {
                Some("json") => json = true,
                Some("text") => json = false,
                other => errors.push(ConfigError {
                    name: "--format".into(),
                    message: format!("{:?} is not one of text, json", other.unwrap_or("")),
                }),
            }
            continue;
        }
        let Some(&(var, _, _)) = SETTINGS.iter().find(|(_, f, _)| &f[2..] == name) else {
            errors.push(ConfigError {
                name: format!("--{name}"),
                message: "unknown flag (see --help)".into(),
            });
            continue;
        };
        match inline.or_else(|| it.next().cloned()) {
            Some(value) => src.flags.push((var, value)),
            None => errors.push(ConfigError {
                name: format!("--{name}"),
                message: "needs a value".into(),
            }),
        }
    }
    let command = match positional.first().map(String::as_str) {
        None | Some("run") => Command::Run,
        Some("check-config") => Command::CheckConfig,
        Some("replay") => match positional.get(1) {
            Some(file) => Command::Replay {
                file: PathBuf::from(file),
                json,
            },
            None => {
                errors.push(ConfigError {
                    name: "replay".into(),
                    message: "needs a trace file: replay FILE".into(),
                });
                Command::Help
            }
        },
        Some("inspect") => match positional.get(1) {
            Some(t) => Command::Inspect {
                target: t.clone(),
                json,
            },
            None => {
                errors.push(ConfigError {
                    name: "inspect".into(),
                    message: "needs a pid or name: inspect <pid|name>".into(),
                });
                Command::Help
            }
        },
        Some(other) => {
            errors.push(ConfigError {
                name: "command".into(),
                message: format!("unknown command {other:?} (run, check-config, replay, inspect)"),
            });
            Command::Help
        }
    };
    let extra = match &command {
        Command::Run | Command::CheckConfig => positional.len().saturating_sub(1),
        _ => positional.len().saturating_sub(2),
    };
    if extra > 0
        && matches!(
            command,
            Command::Run | Command::CheckConfig | Command::Replay { .. }
        )
    {
        errors.push(ConfigError {
            name: "arguments".into(),
            message: format!("unexpected {:?}", positional.last()),
        });
    }
    (command, src, errors)
}
