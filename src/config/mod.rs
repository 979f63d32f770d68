//! Environment variables and `--flags` -> [`Config`]. Every problem is
//! collected and reported at once; `main` exits with status 2 on any.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::detectors::DetectParams;
use crate::core::event::Kind;
use crate::core::lifecycle;
use crate::core::notify::{channel_for, Secret};
use crate::core::restart::RestartConfig;
use crate::core::units;

mod args;
mod bounds;
mod describe;
mod detect;
mod explain;
mod reader;
mod restart;

pub use args::{parse_args, Command, Source, SETTINGS};
pub use bounds::{longest_key_bytes, DURATION_MAX, KEY_MAX_BYTES, PUT_MAX_BYTES};
pub use describe::describe;
pub use detect::{detect_config, DetectConfig};
pub use explain::{explain_config, ExplainConfig};

use reader::{bool_value, http_url, positive_duration, socket_addr, Reader};

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
    /// DUMP_TOTAL_TIMEOUT, default 10 min: the whole dump, however it trickles.
    pub total_timeout: Duration,
}

/// The durable on-disk spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// SPOOL_DIR, default `/tmp/memory-monitor/spool`.
    pub dir: PathBuf,
    /// SPOOL_MAX_BYTES, default 5 GiB.
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

/// Who gets told, and where metrics are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub slack_token: Option<String>,
    /// SLACK_API_URL without a trailing `/`, default `https://slack.com/api`.
    pub slack_api_url: String,
    pub slack_channel: String,
    pub slack_webhook_url: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Secret>,
    pub environment: String,
    pub network: Option<String>,
    /// METRICS_ADDR: `/metrics` and `/healthz`; off when unset.
    pub metrics_addr: Option<SocketAddr>,
    /// SSL_CERT_FILE, for HTTPS to Slack and webhooks too.
    pub ca_file: Option<PathBuf>,
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
    /// DUMP_RETRIES, default 3: retries of a failed capture.
    pub dump_retries: u32,
    /// The watched metric, cgroup events and `pre-oom` (issue 9).
    pub explain: ExplainConfig,
    /// RESTART_SIGNALS and friends; `None` = never restart (the default).
    pub restart: Option<RestartConfig>,
    /// TARGET_MISSING_AFTER (default 10 min); `None` = `0` or disabled.
    pub target_missing_after: Option<Duration>,
}

/// The first wait before a failed capture is retried; doubled each time.
pub const RETRY_BACKOFF: Duration = Duration::from_secs(2);

impl Config {
    /// A target lifecycle's parameters.
    /// The detector's parameters, with MEMORY_LIMIT for the trend rules.
    pub fn detect_params(&self) -> DetectParams {
        let mut p = self.detect.detect_params();
        p.trend.memory_limit = self.explain.memory_limit;
        p
    }

    pub fn lifecycle(&self) -> lifecycle::Params {
        lifecycle::Params {
            detect: self.detect_params(),
            interval: self.detect.interval,
            initial_delay: self.initial_delay,
            baseline_settle: self.baseline_settle,
            dump_retries: self.dump_retries,
            retry_backoff: RETRY_BACKOFF,
            cgroup: self.explain.params(self.detect.dump_cooldown),
        }
    }
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
    let bucket = r.parsed("S3_BUCKET", bounds::bucket);
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
        if let (Some(p), None) = (prefix, r.string("S3_BUCKET")) {
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

fn notify(r: &mut Reader<'_, '_>) -> NotifyConfig {
    let environment = r.string("ENVIRONMENT").unwrap_or_default();
    let webhook_url = r.parsed("WEBHOOK_URL", http_url);
    // Parsed by hand: a bad secret must not be echoed in the error.
    let webhook_secret = match r.src.get("WEBHOOK_SECRET").map(|s| Secret::parse(&s)) {
        Some(Ok(secret)) => Some(secret),
        Some(Err(e)) => {
            r.fail("WEBHOOK_SECRET", "<redacted>", e);
            None
        }
        None => None,
    };
    let secret_set = r.src.get("WEBHOOK_SECRET").is_some();
    let url_set = r.src.get("WEBHOOK_URL").is_some();
    if url_set && !secret_set {
        r.missing(
            "WEBHOOK_SECRET",
            " when WEBHOOK_URL is set (receivers verify the signature)",
        );
    }
    if secret_set && !url_set {
        r.fail(
            "WEBHOOK_SECRET",
            "<redacted>",
            "is set but WEBHOOK_URL is not",
        );
    }
    NotifyConfig {
        slack_token: r.string("SLACK_API_TOKEN"),
        slack_api_url: r.parsed("SLACK_API_URL", http_url).map_or_else(
            || "https://slack.com/api".into(),
            |u| u.trim_end_matches('/').to_string(),
        ),
        slack_channel: r
            .string("SLACK_CHANNEL")
            .map(|c| c.trim().to_string())
            .unwrap_or_else(|| channel_for(environment.trim()).into()),
        slack_webhook_url: r.parsed("SLACK_WEBHOOK_URL", http_url),
        webhook_url,
        webhook_secret,
        environment: environment.trim().to_string(),
        network: r.string("NETWORK"),
        metrics_addr: r.parsed("METRICS_ADDR", socket_addr),
        ca_file: r.string("SSL_CERT_FILE").map(PathBuf::from),
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
            .parsed("DUMP_MAX_BYTES", bounds::dump_max_bytes)
            .unwrap_or(4 << 30),
        connect_timeout: r
            .parsed("DUMP_CONNECT_TIMEOUT", positive_duration)
            .unwrap_or(Duration::from_secs(5)),
        read_timeout: r
            .parsed("DUMP_READ_TIMEOUT", positive_duration)
            .unwrap_or(Duration::from_secs(90)),
        total_timeout: r
            .parsed("DUMP_TOTAL_TIMEOUT", positive_duration)
            .unwrap_or(Duration::from_secs(600)),
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
    let detect = detect::read(&mut r);
    let initial_delay = r.required("INITIAL_DELAY", bounds::duration);
    let settle = r
        .parsed("BASELINE_SETTLE", bounds::duration)
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
    let notify = notify(&mut r);
    let log_format = r
        .parsed("LOG_FORMAT", |s| match s.trim() {
            "logfmt" | "text" => Ok(LogFormat::Logfmt),
            "json" => Ok(LogFormat::Json),
            _ => Err("want logfmt or json"),
        })
        .unwrap_or(LogFormat::Logfmt);
    let pod_name = r.string("POD_NAME").unwrap_or_else(|| hostname.to_string());
    if let Some(s3) = &s3 {
        key_fits(&mut r, &s3.prefix, &pod_name);
    }
    let record = r.string("RECORD_FILE").map(PathBuf::from);
    let dump_retries = r
        .parsed("DUMP_RETRIES", |s| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n <= 100)
                .ok_or("want a whole number from 0 to 100")
        })
        .unwrap_or(3);
    let explain = explain::read(&mut r);
    let restart = restart::restart(&mut r);
    let target_missing_after = r
        .parsed("TARGET_MISSING_AFTER", bounds::duration)
        .unwrap_or(Duration::from_secs(600));
    let target_missing_after = (!target_missing_after.is_zero()
        && explain.enabled(Kind::TargetMissing))
    .then_some(target_missing_after);
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
            dump_retries,
            explain,
            restart,
            target_missing_after,
        }),
        _ => Err(r.errors),
    }
}

/// The longest key this monitor can make must fit S3's 1,024 bytes; the
/// error names the longer of S3_PATH_PREFIX and POD_NAME.
fn key_fits(r: &mut Reader<'_, '_>, prefix: &str, pod: &str) {
    let longest = longest_key_bytes(prefix, pod);
    if longest <= KEY_MAX_BYTES {
        return;
    }
    let (var, value) = if prefix.len() >= pod.len() {
        ("S3_PATH_PREFIX", prefix)
    } else {
        ("POD_NAME", pod)
    };
    let shown: String = value.chars().take(40).collect();
    r.fail(
        var,
        &format!("{shown}..."),
        format!(
            "too long: object keys would reach {longest} bytes, S3 takes at most {KEY_MAX_BYTES} \
             (S3_PATH_PREFIX {} + POD_NAME {} bytes + {} for time, event and .pprof)",
            prefix.len(),
            pod.len(),
            longest - prefix.len() - pod.len()
        ),
    );
}

#[cfg(test)]
mod tests;
