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
        ("S3_BUCKET", "bkt"),
    ];
    let errors = parse_with(BAD, &[]).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let want = [
        "BINARY_NAME: is required (or --pid / --pidfile)",
        "CHECK_INTERVAL: \"0s\": must be between 10ms and 1h",
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

#[test]
fn notify_settings_and_their_errors() {
    const N: &[(&str, &str)] = &[
        ("BINARY_NAME", "api"),
        ("CHECK_INTERVAL", "10s"),
        ("MEMORY_CHANGE_THRESHOLD", "200MB"),
        ("INITIAL_DELAY", "1m"),
        ("DUMP_COOLDOWN", "30m"),
        ("ENVIRONMENT", "staging"),
        ("SLACK_API_URL", "http://127.0.0.1:8080/api/"),
        ("WEBHOOK_URL", "https://hooks.example.com/in"),
        ("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("METRICS_ADDR", ":9464"),
    ];
    let c = parse_with(N, &[]).unwrap();
    assert_eq!(c.notify.slack_channel, "alerts-barn");
    assert_eq!(c.notify.slack_api_url, "http://127.0.0.1:8080/api");
    assert!(c.notify.webhook_secret.is_some());
    assert_eq!(c.notify.metrics_addr, Some("0.0.0.0:9464".parse().unwrap()));
    let c = parse_with(N, &["--slack-channel", "mine"]).unwrap();
    assert_eq!(c.notify.slack_channel, "mine");
    assert_eq!(c.notify.slack_api_url, "http://127.0.0.1:8080/api");

    const BAD: &[(&str, &str)] = &[
        ("BINARY_NAME", "api"),
        ("CHECK_INTERVAL", "10s"),
        ("MEMORY_CHANGE_THRESHOLD", "200MB"),
        ("INITIAL_DELAY", "1m"),
        ("DUMP_COOLDOWN", "30m"),
        ("SLACK_API_URL", "slack.com/api"),
        ("SLACK_WEBHOOK_URL", "ftp://x"),
        ("WEBHOOK_SECRET", "whsec_s3cr3t!!"),
        ("METRICS_ADDR", "everywhere"),
    ];
    let errors = parse_with(BAD, &[]).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let want = [
        "SLACK_API_URL: \"slack.com/api\": want an http:// or https:// URL",
        "SLACK_WEBHOOK_URL: \"ftp://x\": want an http:// or https:// URL",
        "WEBHOOK_SECRET: \"<redacted>\": want whsec_ followed by base64",
        "WEBHOOK_SECRET: \"<redacted>\": is set but WEBHOOK_URL is not",
        "METRICS_ADDR: \"everywhere\": want IP:port, e.g. 0.0.0.0:9464 or [::]:9464 (or :9464)",
    ];
    for w in want {
        assert!(text.iter().any(|t| t == w), "missing {w:?} in {text:#?}");
    }
    assert_eq!(text.len(), want.len(), "{text:#?}");
    assert!(!text.iter().any(|t| t.contains("s3cr3t")));
}

#[test]
fn absurd_settings_are_refused_naming_the_variable() {
    fn errors_for(extra: &[(&'static str, String)]) -> Vec<String> {
        let env = move |k: &str| {
            extra
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
                .or_else(|| env_of(MINIMAL)(k))
        };
        let (_, src, errors) = parse_args(&[], &env);
        assert!(errors.is_empty(), "{errors:?}");
        match parse(&src, "host-a") {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
        }
    }
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "INITIAL_DELAY",
            "10000000000000000000".into(),
            "INITIAL_DELAY: ",
        ),
        ("BASELINE_SETTLE", "31d".into(), "at most 30 days"),
        ("DUMP_COOLDOWN", "9999999h".into(), "DUMP_COOLDOWN: "),
        ("DUMP_READ_TIMEOUT", "100d".into(), "at most 30 days"),
        ("CHECK_INTERVAL", "1ns".into(), "between 10ms and 1h"),
        ("CHECK_INTERVAL", "2h".into(), "between 10ms and 1h"),
        ("DUMP_MAX_BYTES", "6GiB".into(), "at most 5GiB"),
        ("S3_BUCKET", "no spaces allowed".into(), "A-Z a-z 0-9 . _ -"),
        ("S3_BUCKET", "ab".into(), "3 to 255"),
    ];
    for (var, value, why) in cases {
        let errors = errors_for(&[(var, value.clone())]);
        assert_eq!(errors.len(), 1, "{var}={value}: {errors:?}");
        assert!(errors[0].starts_with(&format!("{var}: ")), "{errors:?}");
        assert!(errors[0].contains(why), "{var}={value}: {errors:?}");
    }
    let long = "p".repeat(1_100);
    let errors = errors_for(&[("S3_BUCKET", "dumps".into()), ("S3_PATH_PREFIX", long)]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("S3_PATH_PREFIX: "), "{errors:?}");
    assert!(errors[0].contains("S3 takes at most 1024"), "{errors:?}");
    // Just within: the longest key is exactly 1,024 bytes.
    let fits = "p".repeat(1024 - longest_key_bytes("", "host-a"));
    assert_eq!(longest_key_bytes(&fits, "host-a"), 1024);
    let errors = errors_for(&[("S3_BUCKET", "dumps".into()), ("S3_PATH_PREFIX", fits)]);
    assert!(errors.is_empty(), "{errors:?}");
    let errors = errors_for(&[
        ("S3_BUCKET", "dumps".into()),
        ("POD_NAME", "x".repeat(1_000)),
    ]);
    assert!(errors[0].starts_with("POD_NAME: "), "{errors:?}");
    // The edges themselves are fine.
    let errors = errors_for(&[
        ("CHECK_INTERVAL", "10ms".into()),
        ("INITIAL_DELAY", "30d".into()),
        ("DUMP_MAX_BYTES", "5GiB".into()),
        ("S3_BUCKET", "Legacy_Bucket.name".into()),
    ]);
    assert!(errors.is_empty(), "{errors:?}");
}
