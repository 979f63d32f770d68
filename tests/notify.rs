//! The notifier against a real HTTP server standing in for Slack and a
//! webhook receiver (tests/common/hook_server.py), with signatures checked by
//! the Python `standardwebhooks` package.

#[path = "common/hook.rs"]
mod hook;

use std::sync::Arc;
use std::time::{Duration, Instant};

use memory_monitor::config::{self, parse_args, NotifyConfig};
use memory_monitor::core::event::Kind;
use memory_monitor::core::metrics::{ProcessStats, Registry};
use memory_monitor::core::notify::Context;
use memory_monitor::io::notify::{Notifier, QUEUE_CAPACITY};

use hook::{report, verify_webhook, HookServer};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn scratch() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mm-notify-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The notify settings exactly as `run` would read them from these variables.
fn notify_config(vars: &[(&str, String)]) -> NotifyConfig {
    let mut all: Vec<(String, String)> = [
        ("BINARY_NAME", "api"),
        ("CHECK_INTERVAL", "1s"),
        ("MEMORY_CHANGE_THRESHOLD", "10MB"),
        ("INITIAL_DELAY", "0"),
        ("DUMP_COOLDOWN", "1m"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let env = move |k: &str| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (_, src, errors) = parse_args(&[], &env);
    assert!(errors.is_empty(), "{errors:?}");
    config::parse(&src, "host").expect("config").notify
}

fn ctx() -> Context {
    Context {
        pod: "pod-1".into(),
        environment: "prod".into(),
        network: Some("testnet".into()),
    }
}

fn registry() -> Arc<Registry> {
    Arc::new(Registry::new(Instant::now(), Duration::from_secs(1)))
}

fn metric(r: &Registry, line_start: &str) -> String {
    let text = r.render(&ProcessStats::default());
    text.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
        .to_string()
}

#[test]
fn slack_bot_gets_token_channel_and_text_and_nothing_for_a_baseline() {
    let dir = scratch();
    let slack = HookServer::start(&dir, "ok");
    for (env, channel_override, want) in [
        ("prod", None, "alerts-prod"),
        ("shadow", None, "alerts-barn"),
        ("", None, "alerts-temp"),
        ("prod", Some("my-room"), "my-room"),
    ] {
        let before = slack.requests().len();
        let mut vars = vec![
            ("SLACK_API_TOKEN", "xoxb-test-token".to_string()),
            ("SLACK_API_URL", slack.url("/api/")),
            ("ENVIRONMENT", env.to_string()),
        ];
        if let Some(c) = channel_override {
            vars.push(("SLACK_CHANNEL", c.to_string()));
        }
        let cfg = notify_config(&vars);
        let reg = registry();
        let n = Notifier::spawn(&cfg, ctx(), None, Some(Arc::clone(&reg)))
            .unwrap()
            .unwrap();
        n.send(report(Kind::Baseline, 7));
        n.send(report(Kind::Spike, 7));
        let got = slack.wait_for(before + 1, Duration::from_secs(20));
        n.finish(Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(300));
        let got = &got[before..];
        assert_eq!(
            got.len(),
            1,
            "one message per spike, none for the baseline: {got:?}"
        );
        let req = &got[0];
        assert_eq!(req["path"], "/api/chat.postMessage");
        assert_eq!(req["headers"]["authorization"], "Bearer xoxb-test-token");
        let body: serde_json::Value = serde_json::from_str(req["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["channel"], want, "ENVIRONMENT={env:?}");
        let text = body["text"].as_str().unwrap();
        for part in [
            "*spike*",
            "environment prod",
            "network testnet",
            "`pod-1`",
            "`api` pid 7",
            "+600.0 MiB",
            "go tool pprof -http=:8080",
        ] {
            assert!(text.contains(part), "{part:?} not in {text}");
        }
        assert_eq!(
            metric(
                &reg,
                "memory_monitor_notifications_total{sink=\"slack\",result=\"sent\"}"
            ),
            "memory_monitor_notifications_total{sink=\"slack\",result=\"sent\"} 1"
        );
    }
    assert_eq!(slack.requests().len(), 4);
}

#[test]
fn slack_ok_false_is_not_retried_and_429_waits_for_retry_after() {
    let dir = scratch();
    let refused = HookServer::start(&dir, "slack:channel_not_found");
    let limited = HookServer::start(&dir, "429:2,ok");
    let reg = registry();
    for server in [&refused, &limited] {
        let cfg = notify_config(&[
            ("SLACK_API_TOKEN", "xoxb-t".to_string()),
            ("SLACK_API_URL", server.url("")),
        ]);
        let n = Notifier::spawn(&cfg, ctx(), None, Some(Arc::clone(&reg)))
            .unwrap()
            .unwrap();
        n.send(report(Kind::SlowLeak, 9));
        let want = if std::ptr::eq(server, &refused) { 1 } else { 2 };
        server.wait_for(want, Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(500));
        n.finish(Duration::from_secs(5));
    }
    assert_eq!(
        refused.requests().len(),
        1,
        "a permanent Slack error is not retried"
    );
    let got = limited.requests();
    assert_eq!(got.len(), 2, "{got:?}");
    let gap = got[1]["t"].as_f64().unwrap() - got[0]["t"].as_f64().unwrap();
    assert!(
        gap >= 1.9,
        "Retry-After: 2 honoured, retried after {gap:.2}s"
    );
    assert!(metric(
        &reg,
        "memory_monitor_notifications_total{sink=\"slack\",result=\"failed\"}"
    )
    .ends_with(" 1"));
    assert!(metric(
        &reg,
        "memory_monitor_notifications_total{sink=\"slack\",result=\"sent\"}"
    )
    .ends_with(" 1"));
}

#[test]
fn webhook_is_signed_per_standard_webhooks_with_a_stable_id() {
    let dir = scratch();
    let server = HookServer::start(&dir, "429:2,ok");
    let cfg = notify_config(&[
        ("WEBHOOK_URL", server.url("/hooks/memory")),
        ("WEBHOOK_SECRET", SECRET.to_string()),
    ]);
    let n = Notifier::spawn(&cfg, ctx(), None, None).unwrap().unwrap();
    n.send(report(Kind::Spike, 11));
    let got = server.wait_for(2, Duration::from_secs(30));
    n.finish(Duration::from_secs(5));
    assert_eq!(got.len(), 2, "a 429 is retried once, then 200: {got:?}");
    let (h0, h1) = (&got[0]["headers"], &got[1]["headers"]);
    assert_eq!(h0["webhook-id"], h1["webhook-id"], "one id per message");
    // Retry-After: 2 => a later timestamp, so a fresh signature.
    let ts = |h: &serde_json::Value| {
        h["webhook-timestamp"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(ts(h1) > ts(h0), "{h0} {h1}");
    assert_ne!(h0["webhook-signature"], h1["webhook-signature"]);
    let body = got[1]["body"].as_str().unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["type"], "memory.spike");
    assert_eq!(v["data"]["schema"], 1);
    assert_eq!(v["data"]["pid"], 11);
    assert_eq!(
        v["data"]["dump"]["path"],
        "/tmp/spool/p/pod-2026-11-22-04-18-19-spike.pprof"
    );
    for req in &got {
        verify_webhook(SECRET, req, req["body"].as_str().unwrap())
            .expect("standardwebhooks accepts it");
    }
    // Without the prefix the key is the same.
    verify_webhook(SECRET.trim_start_matches("whsec_"), &got[1], body).expect("bare key");
    let tampered = body.replace("\"pid\":11", "\"pid\":12");
    assert_ne!(tampered, body);
    let err = verify_webhook(SECRET, &got[1], &tampered).unwrap_err();
    assert!(err.contains("Verification"), "{err}");
}

#[test]
fn slack_incoming_webhook_and_permanent_errors() {
    let dir = scratch();
    let hook = HookServer::start(&dir, "text");
    let gone = HookServer::start(&dir, "404");
    let reg = registry();
    for server in [&hook, &gone] {
        let cfg = notify_config(&[("SLACK_WEBHOOK_URL", server.url("/services/T/B/x"))]);
        let n = Notifier::spawn(&cfg, ctx(), None, Some(Arc::clone(&reg)))
            .unwrap()
            .unwrap();
        n.send(report(Kind::OomKill, 5));
        server.wait_for(1, Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(500));
        n.finish(Duration::from_secs(5));
    }
    let got = hook.requests();
    let body: serde_json::Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("*oom-kill* (OOM kill)"),
        "{body}"
    );
    assert!(body.get("channel").is_none());
    assert_eq!(gone.requests().len(), 1, "a 404 is not retried");
    assert!(metric(
        &reg,
        "memory_monitor_notifications_total{sink=\"slack-webhook\",result=\"sent\"}"
    )
    .ends_with(" 1"));
    assert!(metric(
        &reg,
        "memory_monitor_notifications_total{sink=\"slack-webhook\",result=\"failed\"}"
    )
    .ends_with(" 1"));
}

#[test]
fn a_hanging_receiver_never_blocks_the_sender_and_the_oldest_are_dropped() {
    let dir = scratch();
    let server = HookServer::start(&dir, "hang:30");
    let cfg = notify_config(&[("SLACK_WEBHOOK_URL", server.url("/x"))]);
    let reg = registry();
    let n = Notifier::spawn(&cfg, ctx(), None, Some(Arc::clone(&reg)))
        .unwrap()
        .unwrap();
    let total = QUEUE_CAPACITY + 20;
    let started = Instant::now();
    for pid in 0..total {
        n.send(report(Kind::Spike, pid as u32));
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "sending took {took:?}");
    server.wait_for(1, Duration::from_secs(10));
    // One is in flight (hanging); the queue holds QUEUE_CAPACITY; the rest went.
    assert!(
        n.dropped() >= (total - QUEUE_CAPACITY - 1) as u64,
        "dropped {}",
        n.dropped()
    );
    assert!(metric(&reg, "memory_monitor_notifications_dropped_total")
        .ends_with(&format!(" {}", n.dropped())));
    let started = Instant::now();
    n.finish(Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn check_config_redacts_notify_secrets_and_names_bad_values() {
    let base = [
        ("BINARY_NAME", "api"),
        ("CHECK_INTERVAL", "10s"),
        ("MEMORY_CHANGE_THRESHOLD", "200MB"),
        ("INITIAL_DELAY", "1m"),
        ("DUMP_COOLDOWN", "30m"),
    ];
    let run = |extra: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_memory-monitor"))
            .arg("check-config")
            .env_clear()
            .envs(base.iter().chain(extra.iter()).copied())
            .output()
            .unwrap()
    };
    let out = run(&[
        (
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0/B0/sekrit-path",
        ),
        ("WEBHOOK_URL", "https://example.com/in"),
        ("WEBHOOK_SECRET", SECRET),
        ("METRICS_ADDR", "127.0.0.1:9464"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("sekrit") && !text.contains("MfKQ9r8"),
        "{text}"
    );
    assert!(
        text.contains("WEBHOOK_SECRET=<redacted>") && text.contains("SLACK_WEBHOOK_URL=<redacted>")
    );
    assert!(
        text.contains("slack webhook on, webhook on; metrics on 127.0.0.1:9464"),
        "{text}"
    );
    let out = run(&[
        ("WEBHOOK_URL", "https://example.com/in"),
        ("WEBHOOK_SECRET", "whsec_%%%sekrit"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WEBHOOK_SECRET") && err.contains("want whsec_ followed by base64"),
        "{err}"
    );
    assert!(!err.contains("sekrit"), "{err}");
}
