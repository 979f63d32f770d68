//! The command line without a target to watch: configuration errors,
//! `check-config`, flags over the environment, `--help`, `--version`, and
//! `inspect`.

mod common;

use std::process::Command;

use common::*;

#[test]
fn config_errors_are_all_reported_at_once_with_status_2() {
    let out = Command::new(monitor_bin())
        .env_clear()
        .env("CHECK_INTERVAL", "10x")
        .env("MEMORY_CHANGE_THRESHOLD", "lots")
        .env("HISTORY_WINDOW_SIZE", "99999")
        .env("SPIKE_MULTIPLIER", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "BINARY_NAME: is required",
        "CHECK_INTERVAL: \"10x\": unknown unit \"x\"",
        "MEMORY_CHANGE_THRESHOLD: \"lots\"",
        "INITIAL_DELAY: is required",
        "DUMP_COOLDOWN: is required",
        "HISTORY_WINDOW_SIZE: \"99999\": 99999 is outside 1..=4096",
        "SPIKE_MULTIPLIER: \"0\": must be greater than zero",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn check_config_redacts_secrets() {
    let out = Command::new(monitor_bin())
        .arg("check-config")
        .env_clear()
        .envs([
            ("BINARY_NAME", "api"),
            ("CHECK_INTERVAL", "10s"),
            ("MEMORY_CHANGE_THRESHOLD", "200MB"),
            ("INITIAL_DELAY", "1m"),
            ("DUMP_COOLDOWN", "30m"),
            ("SLACK_API_TOKEN", "xoxb-very-secret-token"),
            ("ENVIRONMENT", "prod"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("xoxb-very-secret-token"), "{text}");
    assert!(text.contains("SLACK_API_TOKEN=<redacted>"));
    assert!(
        text.contains("slow leak > baseline + 200000000 B"),
        "{text}"
    );
    assert!(text.contains("slack channel alerts-prod"), "{text}");
}

#[test]
fn flags_override_env_and_help_and_version_work() {
    let out = Command::new(monitor_bin())
        .args([
            "check-config",
            "--binary-name",
            "from-flag",
            "--check-interval=500ms",
        ])
        .env_clear()
        .envs([
            ("BINARY_NAME", "from-env"),
            ("CHECK_INTERVAL", "10s"),
            ("MEMORY_CHANGE_THRESHOLD", "1GiB"),
            ("INITIAL_DELAY", "0"),
            ("DUMP_COOLDOWN", "1m"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("BINARY_NAME=from-flag") && text.contains("every 500ms"),
        "{text}"
    );
    let help = Command::new(monitor_bin()).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("MEMORY_CHANGE_THRESHOLD"));
    let version = Command::new(monitor_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("memory-monitor 0."));
}

#[test]
fn inspect_prints_the_breakdown_and_a_verdict() {
    let dir = scratch("inspect");
    let name = unique_name("mminsp", 12);
    let exe = named_target(&dir, &name);
    let t = start_target(
        &exe,
        &["--base-mb", "48", "--exit-after-secs", "60"],
        &[(
            "MALLOC_CONF",
            "prof:true,prof_active:true,lg_prof_sample:19",
        )],
    );
    let out = Command::new(monitor_bin())
        .args(["inspect", &name])
        .env_clear()
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with(&format!("{name} (pid {})", t.pid())),
        "{text}"
    );
    assert!(
        text.contains("jemalloc: allocated "),
        "the socket answered stats: {text}"
    );
    assert!(text.contains("verdict: mostly anonymous memory"), "{text}");
    let missing = Command::new(monitor_bin())
        .args(["inspect", "no-such-proc-q"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr)
        .contains("inspect no-such-proc-q: no such process"));
}
