//! Environment variables and `--flags` -> [`Config`]. Every problem is
//! collected and reported at once; `main` exits with status 2 on any.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::units;
use crate::core::window::CAPACITY;

/// How the target is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// Matched against comm (15-byte truncation handled), exe file name, argv[0] file name.
    Name(String),
    Pid(u32),
    PidFile(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Logfmt,
    Json,
}

/// Detection thresholds: everything `replay` needs as well as `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectConfig {
    pub interval: Duration,
    pub threshold_bytes: u64,
    pub dump_cooldown: Duration,
    pub window_size: usize,
    /// SPIKE_MULTIPLIER in millionths (3 -> 3_000_000, 1.5 -> 1_500_000).
    pub spike_multiplier_micros: u64,
}

/// The heap-dump socket client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// HEAP_DUMP_SOCKET; default `/tmp/heap_dump_<exe file name>.sock`.
    pub socket_override: Option<PathBuf>,
    /// DUMP_MAX_BYTES, default 4 GiB.
    pub max_bytes: u64,
    /// DUMP_CONNECT_TIMEOUT, default 5 s.
    pub connect_timeout: Duration,
    /// DUMP_READ_TIMEOUT, default 90 s (above the server's own 60 s abort).
    pub read_timeout: Duration,
}

/// The durable on-disk spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// SPOOL_DIR, default `/tmp/memory-monitor-spool`.
    pub dir: PathBuf,
    /// SPOOL_MAX_BYTES, default 10 GiB.
    pub max_bytes: u64,
}

/// Where dumps go. `None` in [`Config::s3`] means the spool is the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// S3_PATH_PREFIX, used verbatim as the key prefix (may be empty).
    pub prefix: String,
    /// AWS_REGION / AWS_DEFAULT_REGION, default `us-east-1`.
    pub region: String,
    /// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
    pub endpoint: Option<String>,
    /// S3_FORCE_PATH_STYLE (automatic for IPs and `localhost`, decided by the s3 module).
    pub force_path_style: bool,
    /// SSL_CERT_FILE: an extra CA bundle (PEM).
    pub ca_file: Option<PathBuf>,
}

/// Who gets told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub slack_token: Option<String>,
    pub slack_channel: String,
    pub environment: String,
    pub network: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub target: TargetSpec,
    pub detect: DetectConfig,
    pub initial_delay: Duration,
    pub baseline_settle: Duration,
    pub pod_name: String,
    pub capture: CaptureConfig,
    pub spool: SpoolConfig,
    pub s3: Option<S3Config>,
    pub notify: NotifyConfig,
    pub log_format: LogFormat,
    /// --record FILE: CSV `seconds,bytes` of every sample.
    pub record: Option<PathBuf>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run,
    CheckConfig,
    Replay { file: PathBuf, json: bool },
    Inspect { target: String },
    Help,
    Version,
}

/// One configuration problem, naming the variable (or flag) and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub name: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
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
    ("SSL_CERT_FILE", "--ssl-cert-file", "extra CA bundle (PEM)"),
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
        "SLACK_API_TOKEN",
        "--slack-api-token",
        "Slack bot token (secret)",
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
    ("LOG_FORMAT", "--log-format", "logfmt (default) or json"),
    (
        "RECORD_FILE",
        "--record",
        "append every sample as CSV seconds,bytes",
    ),
];

const SECRETS: &[&str] = &["SLACK_API_TOKEN"];

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
    fn get(&self, var: &str) -> Option<String> {
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
            Some(t) => Command::Inspect { target: t.clone() },
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

/// Collects values and problems; every getter records its own error.
struct Reader<'s, 'a> {
    src: &'s Source<'a>,
    errors: Vec<ConfigError>,
}

impl Reader<'_, '_> {
    fn fail(&mut self, var: &str, value: &str, why: impl fmt::Display) {
        self.errors.push(ConfigError {
            name: var.to_string(),
            message: format!("{value:?}: {why}"),
        });
    }

    fn missing(&mut self, var: &str, hint: &str) {
        self.errors.push(ConfigError {
            name: var.to_string(),
            message: format!("is required{hint}"),
        });
    }

    fn parsed<T, E: fmt::Display>(
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

    fn required<T, E: fmt::Display>(
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

    fn string(&self, var: &str) -> Option<String> {
        self.src.get(var)
    }
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    match units::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("must be greater than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

fn bool_value(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("want true or false".into()),
    }
}

fn window_size(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=CAPACITY).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is outside 1..={CAPACITY}")),
        Err(_) => Err("want a whole number".into()),
    }
}

fn multiplier(s: &str) -> Result<u64, String> {
    match units::parse_multiplier_micros(s) {
        Ok(0) => Err("must be greater than zero".into()),
        Ok(m) => Ok(m),
        Err(e) => Err(e.to_string()),
    }
}

fn detect(r: &mut Reader<'_, '_>) -> Option<DetectConfig> {
    let interval = r.required("CHECK_INTERVAL", positive_duration);
    let threshold = r.required("MEMORY_CHANGE_THRESHOLD", units::parse_size);
    let cooldown = r.required("DUMP_COOLDOWN", units::parse_duration);
    let window = r.parsed("HISTORY_WINDOW_SIZE", window_size).unwrap_or(60);
    let mult = r
        .parsed("SPIKE_MULTIPLIER", multiplier)
        .unwrap_or(3_000_000);
    Some(DetectConfig {
        interval: interval?,
        threshold_bytes: threshold?,
        dump_cooldown: cooldown?,
        window_size: window,
        spike_multiplier_micros: mult,
    })
}

/// Only the detection settings: what `replay` needs.
pub fn detect_config(src: &Source<'_>) -> Result<DetectConfig, Vec<ConfigError>> {
    let mut r = Reader {
        src,
        errors: Vec::new(),
    };
    match (detect(&mut r), r.errors.is_empty()) {
        (Some(d), true) => Ok(d),
        _ => Err(r.errors),
    }
}

fn target(r: &mut Reader<'_, '_>) -> Option<TargetSpec> {
    let pid = r.parsed("TARGET_PID", |s| match s.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err("want a process id (a positive whole number)"),
        Ok(p) => Ok(p),
    });
    if let Some(p) = pid {
        return Some(TargetSpec::Pid(p));
    }
    if let Some(f) = r.string("TARGET_PIDFILE") {
        return Some(TargetSpec::PidFile(PathBuf::from(f)));
    }
    if let Some(name) = r.string("BINARY_NAME") {
        if name.contains('/') {
            r.fail(
                "BINARY_NAME",
                &name,
                "a process name, not a path (drop the directories)",
            );
            return None;
        }
        return Some(TargetSpec::Name(name));
    }
    if r.src.get("TARGET_PID").is_none() {
        r.missing("BINARY_NAME", " (or --pid / --pidfile)");
    }
    None
}

fn s3(r: &mut Reader<'_, '_>) -> Option<S3Config> {
    let bucket = r.string("S3_BUCKET");
    let prefix = r.string("S3_PATH_PREFIX");
    let endpoint = r
        .string("AWS_ENDPOINT_URL_S3")
        .or_else(|| r.string("AWS_ENDPOINT_URL"));
    if let Some(e) = &endpoint {
        if !(e.starts_with("https://") || e.starts_with("http://")) {
            r.fail("AWS_ENDPOINT_URL_S3", e, "want an http:// or https:// URL");
        }
    }
    let force = r.parsed("S3_FORCE_PATH_STYLE", bool_value).unwrap_or(false);
    let Some(bucket) = bucket else {
        if let Some(p) = prefix {
            r.fail("S3_PATH_PREFIX", &p, "is set but S3_BUCKET is not");
        }
        return None;
    };
    Some(S3Config {
        bucket,
        prefix: prefix.unwrap_or_default(),
        region: r
            .string("AWS_REGION")
            .or_else(|| r.string("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into()),
        endpoint,
        force_path_style: force,
        ca_file: r.string("SSL_CERT_FILE").map(PathBuf::from),
    })
}

fn channel_for(environment: &str) -> &'static str {
    match environment {
        "prod" => "alerts-prod",
        "staging" | "shadow" => "alerts-barn",
        _ => "alerts-temp",
    }
}

/// The heap-dump socket settings alone (for `inspect`); bad values fall back
/// to the defaults.
pub fn capture_config(src: &Source<'_>) -> CaptureConfig {
    let mut r = Reader {
        src,
        errors: Vec::new(),
    };
    capture(&mut r)
}

fn capture(r: &mut Reader<'_, '_>) -> CaptureConfig {
    CaptureConfig {
        socket_override: r.string("HEAP_DUMP_SOCKET").map(PathBuf::from),
        max_bytes: r
            .parsed("DUMP_MAX_BYTES", units::parse_size)
            .unwrap_or(4 << 30),
        connect_timeout: r
            .parsed("DUMP_CONNECT_TIMEOUT", positive_duration)
            .unwrap_or(Duration::from_secs(5)),
        read_timeout: r
            .parsed("DUMP_READ_TIMEOUT", positive_duration)
            .unwrap_or(Duration::from_secs(90)),
    }
}

/// The full configuration of `run` (and `check-config`), all errors at once.
/// `hostname` is the POD_NAME fallback.
pub fn parse(src: &Source<'_>, hostname: &str) -> Result<Config, Vec<ConfigError>> {
    let mut r = Reader {
        src,
        errors: Vec::new(),
    };
    let target = target(&mut r);
    let detect = detect(&mut r);
    let initial_delay = r.required("INITIAL_DELAY", units::parse_duration);
    let settle = r
        .parsed("BASELINE_SETTLE", units::parse_duration)
        .unwrap_or(Duration::from_secs(60));
    let capture = capture(&mut r);
    let spool = SpoolConfig {
        dir: PathBuf::from(
            r.string("SPOOL_DIR")
                .unwrap_or_else(|| "/tmp/memory-monitor/spool".into()),
        ),
        max_bytes: r
            .parsed("SPOOL_MAX_BYTES", units::parse_size)
            .unwrap_or(5 << 30),
    };
    let s3 = s3(&mut r);
    let environment = r.string("ENVIRONMENT").unwrap_or_default();
    let notify = NotifyConfig {
        slack_token: r.string("SLACK_API_TOKEN"),
        slack_channel: r
            .string("SLACK_CHANNEL")
            .unwrap_or_else(|| channel_for(&environment).into()),
        environment,
        network: r.string("NETWORK"),
    };
    let log_format = r
        .parsed("LOG_FORMAT", |s| match s.trim() {
            "logfmt" | "text" => Ok(LogFormat::Logfmt),
            "json" => Ok(LogFormat::Json),
            _ => Err("want logfmt or json"),
        })
        .unwrap_or(LogFormat::Logfmt);
    let pod_name = r.string("POD_NAME").unwrap_or_else(|| hostname.to_string());
    let record = r.string("RECORD_FILE").map(PathBuf::from);
    match (target, detect, initial_delay, r.errors.is_empty()) {
        (Some(target), Some(detect), Some(initial_delay), true) => Ok(Config {
            target,
            detect,
            initial_delay,
            baseline_settle: settle,
            pod_name,
            capture,
            spool,
            s3,
            notify,
            log_format,
            record,
        }),
        _ => Err(r.errors),
    }
}

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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const MINIMAL: &[(&str, &str)] = &[
        ("BINARY_NAME", "api"),
        ("CHECK_INTERVAL", "10s"),
        ("MEMORY_CHANGE_THRESHOLD", "200MB"),
        ("INITIAL_DELAY", "1m"),
        ("DUMP_COOLDOWN", "30m"),
    ];

    fn parse_with(
        pairs: &'static [(&'static str, &'static str)],
        args: &[&str],
    ) -> Result<Config, Vec<ConfigError>> {
        let env = env_of(pairs);
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (_, src, errors) = parse_args(&args, &env);
        assert!(errors.is_empty(), "{errors:?}");
        parse(&src, "host-a")
    }

    #[test]
    fn the_drop_in_contract_with_its_defaults() {
        let c = parse_with(MINIMAL, &[]).unwrap();
        assert_eq!(c.target, TargetSpec::Name("api".into()));
        assert_eq!(c.detect.interval, Duration::from_secs(10));
        assert_eq!(c.detect.threshold_bytes, 200_000_000);
        assert_eq!(c.detect.window_size, 60);
        assert_eq!(c.detect.spike_multiplier_micros, 3_000_000);
        assert_eq!(c.initial_delay, Duration::from_secs(60));
        assert_eq!(c.baseline_settle, Duration::from_secs(60));
        assert_eq!(c.pod_name, "host-a");
        assert_eq!(c.s3, None);
        assert_eq!(c.notify.slack_channel, "alerts-temp");
    }

    #[test]
    fn channels_follow_environment() {
        for (env, channel) in [
            ("prod", "alerts-prod"),
            ("staging", "alerts-barn"),
            ("shadow", "alerts-barn"),
            ("dev", "alerts-temp"),
        ] {
            assert_eq!(channel_for(env), channel);
        }
    }

    #[test]
    fn every_problem_at_once_naming_variable_and_value() {
        const BAD: &[(&str, &str)] = &[
            ("CHECK_INTERVAL", "0s"),
            ("MEMORY_CHANGE_THRESHOLD", "12 parsecs"),
            ("DUMP_COOLDOWN", "soon"),
            ("SPIKE_MULTIPLIER", "x3"),
            ("S3_PATH_PREFIX", "dumps/"),
            ("LOG_FORMAT", "xml"),
            ("AWS_ENDPOINT_URL_S3", "minio:9000"),
            ("S3_BUCKET", "b"),
        ];
        let errors = parse_with(BAD, &[]).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let want = [
            "BINARY_NAME: is required (or --pid / --pidfile)",
            "CHECK_INTERVAL: \"0s\": must be greater than zero",
            "MEMORY_CHANGE_THRESHOLD: \"12 parsecs\": unknown unit \"parsecs\"",
            "DUMP_COOLDOWN: \"soon\": bad number \"\"",
            "INITIAL_DELAY: is required",
            "SPIKE_MULTIPLIER: \"x3\": bad number \"\"",
            "AWS_ENDPOINT_URL_S3: \"minio:9000\": want an http:// or https:// URL",
            "LOG_FORMAT: \"xml\": want logfmt or json",
        ];
        for w in want {
            assert!(text.iter().any(|t| t == w), "missing {w:?} in {text:#?}");
        }
        assert_eq!(text.len(), want.len(), "{text:#?}");
    }

    #[test]
    fn flags_win_and_unknown_flags_are_reported() {
        let c = parse_with(
            MINIMAL,
            &["--binary-name", "worker", "--history-window-size=120"],
        )
        .unwrap();
        assert_eq!(c.target, TargetSpec::Name("worker".into()));
        assert_eq!(c.detect.window_size, 120);
        let env = env_of(MINIMAL);
        let args: Vec<String> = ["--frobnicate", "1", "--check-interval"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (_, _, errors) = parse_args(&args, &env);
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "--frobnicate: unknown flag (see --help)",
                "--check-interval: needs a value",
                // An unknown flag cannot say whether it takes a value.
                "command: unknown command \"1\" (run, check-config, replay, inspect)",
            ]
        );
    }

    #[test]
    fn a_path_is_not_a_process_name_and_pid_wins() {
        const PATHY: &[(&str, &str)] = &[
            ("BINARY_NAME", "/usr/bin/api"),
            ("CHECK_INTERVAL", "1s"),
            ("MEMORY_CHANGE_THRESHOLD", "1MB"),
            ("INITIAL_DELAY", "0"),
            ("DUMP_COOLDOWN", "1m"),
        ];
        let e = parse_with(PATHY, &[]).unwrap_err();
        assert!(e[0]
            .to_string()
            .starts_with("BINARY_NAME: \"/usr/bin/api\": a process name"));
        let c = parse_with(PATHY, &["--pid", "42"]).unwrap();
        assert_eq!(c.target, TargetSpec::Pid(42));
    }

    #[test]
    fn s3_settings() {
        const S3: &[(&str, &str)] = &[
            ("BINARY_NAME", "api"),
            ("CHECK_INTERVAL", "10s"),
            ("MEMORY_CHANGE_THRESHOLD", "200MB"),
            ("INITIAL_DELAY", "1m"),
            ("DUMP_COOLDOWN", "30m"),
            ("S3_BUCKET", "dumps"),
            ("S3_PATH_PREFIX", "api/"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ];
        let s3 = parse_with(S3, &[]).unwrap().s3.unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str(), s3.region.as_str()),
            ("dumps", "api/", "eu-west-1")
        );
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    }
}
