//! The real monitor against a real jemalloc target, a Slack stand-in and a
//! webhook receiver (tests/common/hook_server.py), with `/metrics` parsed by
//! `prometheus_client` and signatures checked by `standardwebhooks`.

mod common;
#[path = "common/hook.rs"]
mod hook;
#[path = "common/prom.rs"]
mod prom;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use hook::{verify_webhook, HookServer};

const T: Duration = Duration::from_secs(30);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PROFILING: (&str, &str) = (
    "MALLOC_CONF",
    "prof:true,prof_active:true,lg_prof_sample:19",
);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A profiled demo target that jumps by 200 MiB 3 s after it starts, or,
/// with `at_secs` empty, only on SIGUSR1.
fn spiking_target_at(dir: &Path, tag: &str, at_secs: &[&str]) -> (String, Proc) {
    let name = unique_name(tag, 12);
    let exe = named_target(dir, &name);
    let mut args = vec!["--base-mb", "16", "--spike-mb", "200"];
    args.extend_from_slice(at_secs);
    args.extend_from_slice(&["--exit-after-secs", "90"]);
    let target = start_target(&exe, &args, &[PROFILING]);
    (name, target)
}

fn spiking_target(dir: &Path, tag: &str) -> (String, Proc) {
    spiking_target_at(dir, tag, &["--spike-at-secs", "3"])
}

fn rss_anon(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// The longest pause between consecutive `--record` rows from `from_secs` on.
fn longest_gap(record: &Path, from_secs: f64) -> (f64, usize) {
    let text = std::fs::read_to_string(record).unwrap();
    let times: Vec<f64> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .filter(|t| *t >= from_secs)
        .collect();
    let gap = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    (gap, times.len())
}

#[test]
fn one_message_per_spike_none_for_the_baseline_and_metrics_that_match_proc() {
    let dir = scratch("notify-spike");
    let slack = HookServer::start(&dir, "ok");
    let receiver = HookServer::start(&dir, "ok");
    let (name, target) = spiking_target_at(&dir, "mmnote", &[]);
    let port = free_port();
    let spool = dir.join("spool");
    let m = monitor(&[
        ("BINARY_NAME", &name),
        ("SPOOL_DIR", spool.to_str().unwrap()),
        ("SLACK_API_TOKEN", "xoxb-binary-test"),
        ("SLACK_API_URL", &slack.url("/api")),
        ("ENVIRONMENT", "staging"),
        ("NETWORK", "testnet"),
        ("WEBHOOK_URL", &receiver.url("/in")),
        ("WEBHOOK_SECRET", SECRET),
        ("METRICS_ADDR", &format!("127.0.0.1:{port}")),
        // The jump is a spike however many ticks the 200 MiB take to land
        // on a busy CPU, and never a slow leak; the spike cooldown (window x
        // interval) outlasts the climb.
        ("SPIKE_MULTIPLIER", "1.5"),
        ("MEMORY_CHANGE_THRESHOLD", "1GiB"),
        ("HISTORY_WINDOW_SIZE", "20"),
    ]);
    m.wait_for("baseline dump", T, |l| {
        l.contains("event=dump-spooled") || l.contains("event=baseline-dump")
    });
    // The jump once the window is full, not at a fixed time: a monitor slow
    // to start would otherwise take it into its first window.
    m.wait_for("baseline", T, |l| l.contains("event=baseline "));
    target.signal("USR1");
    let msgs = slack.wait_for(1, T);
    // Let a second message (there must be none) have time to arrive.
    std::thread::sleep(Duration::from_secs(3));
    let msgs = if msgs.len() == 1 {
        slack.requests()
    } else {
        msgs
    };
    assert_eq!(
        msgs.len(),
        1,
        "one spike, one message, none for the baseline: {msgs:?}"
    );
    let req = &msgs[0];
    assert_eq!(req["headers"]["authorization"], "Bearer xoxb-binary-test");
    let body: serde_json::Value = serde_json::from_str(req["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["channel"], "alerts-barn");
    let text = body["text"].as_str().unwrap();
    let spooled = spool.display().to_string();
    for part in [
        "*spike*",
        "environment staging",
        "network testnet",
        "`test-pod`",
        &format!("`{name}` pid {}", target.pid()),
        "Breakdown: anon ",
        "since baseline",
        &format!("Dump: {spooled}"),
        "go tool pprof -http=:8080",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
    let spike_log = m.events("spike");
    assert_eq!(spike_log.len(), 1, "{spike_log:?}");

    let hooks = receiver.wait_for(1, T);
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let raw = hooks[0]["body"].as_str().unwrap();
    verify_webhook(SECRET, &hooks[0], raw).expect("signature verifies");
    let v: serde_json::Value = serde_json::from_str(raw).unwrap();
    assert_eq!(v["type"], "memory.spike");
    assert_eq!(v["data"]["pid"], target.pid());
    assert_eq!(v["data"]["dump"]["outcome"], "spooled");
    let path = v["data"]["dump"]["path"].as_str().unwrap();
    assert!(path.starts_with(&spooled), "{path}");

    let before = rss_anon(target.pid());
    let samples = prom::scrape(port).expect("scrape");
    let after = rss_anon(target.pid());
    let pid = target.pid().to_string();
    let labels = [
        ("target", name.as_str()),
        ("pid", pid.as_str()),
        ("kind", "rss_anon"),
    ];
    let gauge =
        prom::value(&samples, "memory_monitor_target_memory_bytes", &labels).unwrap() as u64;
    let (lo, hi) = (before.min(after), before.max(after));
    // Within a sample: the target holds still after its spike; allow 1 MiB.
    assert!(
        gauge + (1 << 20) >= lo && gauge <= hi + (1 << 20),
        "gauge {gauge} vs /proc {before}..{after}"
    );
    let spikes = prom::value(
        &samples,
        "memory_monitor_events_total",
        &[("pid", pid.as_str()), ("reason", "spike")],
    );
    assert_eq!(spikes, Some(1.0));
    assert_eq!(
        prom::value(
            &samples,
            "memory_monitor_notifications_total",
            &[("sink", "slack"), ("result", "sent")]
        ),
        Some(1.0)
    );
    assert!(
        prom::value(
            &samples,
            "memory_monitor_dumps_total",
            &[("result", "spooled")]
        )
        .unwrap()
            >= 2.0
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(
        reply.starts_with("HTTP/1.1 200 OK") && reply.ends_with("200 ok\n"),
        "{reply}"
    );
}

#[test]
fn slack_errors_are_logged_and_an_override_channel_is_used() {
    let dir = scratch("notify-err");
    let slack = HookServer::start(&dir, "slack:not_in_channel");
    let (name, _target) = spiking_target(&dir, "mmnerr");
    let m = monitor(&[
        ("BINARY_NAME", &name),
        ("SPOOL_DIR", dir.join("spool").to_str().unwrap()),
        ("SLACK_API_TOKEN", "xoxb-t"),
        ("SLACK_API_URL", &slack.url("")),
        ("ENVIRONMENT", "prod"),
        ("SLACK_CHANNEL", "mem-alerts"),
    ]);
    let line = m.wait_for("slack error", T, |l| l.contains("event=slack-error"));
    assert!(line.contains("error=not_in_channel"), "{line}");
    m.wait_for("notify-failed", T, |l| {
        l.contains("event=notify-failed") && l.contains("sink=slack")
    });
    let got = slack.requests();
    assert_eq!(
        got.len(),
        1,
        "a permanent Slack error is not retried: {got:?}"
    );
    let body: serde_json::Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["channel"], "mem-alerts");
    assert!(
        !m.lines().join("\n").contains("xoxb-t"),
        "the token is never logged"
    );
}

#[test]
fn a_hanging_slack_a_refusing_webhook_and_hostile_scrapers_never_delay_sampling() {
    let dir = scratch("notify-slow");
    let slack = HookServer::start(&dir, "hang:40");
    let (name, _target) = spiking_target(&dir, "mmnslow");
    let port = free_port();
    let record = dir.join("samples.csv");
    let m = monitor(&[
        ("BINARY_NAME", &name),
        ("SPOOL_DIR", dir.join("spool").to_str().unwrap()),
        ("SLACK_API_TOKEN", "xoxb-t"),
        ("SLACK_API_URL", &slack.url("")),
        // Nothing listens there: connection refused, retried with backoff.
        (
            "WEBHOOK_URL",
            &format!("http://127.0.0.1:{}/in", free_port()),
        ),
        ("WEBHOOK_SECRET", SECRET),
        ("METRICS_ADDR", &format!("127.0.0.1:{port}")),
        ("RECORD_FILE", record.to_str().unwrap()),
    ]);
    m.wait_for("spike or slow leak", T, |l| {
        l.contains("event=spike ") || l.contains("event=slow-leak ")
    });
    slack.wait_for(1, T);
    let started = Instant::now();
    // Hostile scrapers while the notifier is stuck on Slack.
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    for req in [
        &b"\x00\x01garbage\r\n\r\n"[..],
        b"DELETE /metrics HTTP/1.1\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(req);
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.is_empty() || out.starts_with("HTTP/1.1 4"), "{out:?}");
    }
    let mut big = TcpStream::connect(("127.0.0.1", port)).unwrap();
    big.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    head.resize(1 << 20, b'b');
    let _ = big.write_all(&head);
    std::thread::sleep(Duration::from_secs(6).saturating_sub(started.elapsed()));
    drop(idle);
    let t0 = std::fs::read_to_string(&record).unwrap().lines().count();
    assert!(t0 > 50, "sampling went on: {t0} rows");
    let first_row_after = {
        let text = std::fs::read_to_string(&record).unwrap();
        let last: f64 = text
            .lines()
            .last()
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        last - started.elapsed().as_secs_f64()
    };
    let (gap, rows) = longest_gap(&record, first_row_after.max(0.0));
    // 100 ms ticks; a generous bound for a contended CPU.
    assert!(
        gap < 1.0,
        "longest gap between samples {gap:.3}s over {rows} rows"
    );
    assert!(rows >= 20, "{rows} rows in ~6 s");
    let retry = m.wait_for("webhook retry", T, |l| l.contains("event=notify-retry"));
    assert!(
        retry.contains("Connection refused")
            || retry.contains("sink=webhook")
            || retry.contains("sink=slack"),
        "{retry}"
    );
}

#[test]
fn alerts_go_through_http_proxy_unless_no_proxy_says_otherwise() {
    let dir = scratch("notify-proxy");
    // The stand-in is the proxy: ureq tunnels through it with CONNECT.
    let proxy = HookServer::start(&dir, "ok");
    let direct = HookServer::start(&dir, "ok");
    let (name, _target) = spiking_target(&dir, "mmnprox");
    let m = monitor(&[
        ("BINARY_NAME", &name),
        ("SPOOL_DIR", dir.join("spool").to_str().unwrap()),
        ("SLACK_API_TOKEN", "xoxb-t"),
        ("SLACK_API_URL", "http://slack.test.invalid/api"),
        // The webhook host is exempt, so it is reached directly.
        ("WEBHOOK_URL", &direct.url("/in")),
        ("WEBHOOK_SECRET", SECRET),
        ("HTTP_PROXY", &proxy.url("")),
        ("NO_PROXY", "127.0.0.1,localhost"),
    ]);
    let via = proxy.wait_for(2, T);
    assert_eq!(via.len(), 2, "{via:?}\n{}", m.lines().join("\n"));
    assert_eq!(via[0]["path"], "CONNECT slack.test.invalid:80");
    assert_eq!(via[1]["path"], "/api/chat.postMessage");
    assert_eq!(via[1]["headers"]["host"], "slack.test.invalid");
    assert_eq!(via[1]["headers"]["authorization"], "Bearer xoxb-t");
    let hooks = direct.wait_for(1, T);
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["path"], "/in");
    assert!(proxy.requests().iter().all(|r| r["path"] != "/in"));
}
