//! The `/metrics` + `/healthz` server on loopback: parsed by
//! `prometheus_client`, and robust against garbage, huge heads and idle
//! connections.

#[path = "common/prom.rs"]
mod prom;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memory_monitor::core::event::Kind;
use memory_monitor::core::metrics::{DumpResult, Registry};
use memory_monitor::core::status::StatusSample;
use memory_monitor::io::http_server;

fn start() -> (Arc<Registry>, u16) {
    let reg = Arc::new(Registry::new(Instant::now(), Duration::from_millis(200)));
    let addr = http_server::spawn("127.0.0.1:0".parse().unwrap(), Arc::clone(&reg), None).unwrap();
    (reg, addr.port())
}

/// Sends raw bytes, returns whatever came back before the close.
fn raw(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn metrics_parse_with_prometheus_client() {
    let (reg, port) = start();
    let s = StatusSample {
        rss_anon: Some(123_456_789),
        rss_file: Some(4096),
        rss_shmem: Some(0),
        vm_rss: Some(123_460_885),
        vm_hwm: Some(200_000_000),
        vm_swap: Some(0),
    };
    reg.sample("demo \"target\"", 77, &s);
    reg.window("demo \"target\"", 77, Some(100), Some(200), Some(90));
    reg.event("demo \"target\"", 77, Kind::Spike);
    reg.dump(DumpResult::Spooled);
    let samples = prom::scrape(port).expect("scrape");
    let t = [("target", "demo \"target\""), ("pid", "77")];
    let kind = |k| [t[0], t[1], ("kind", k)];
    assert_eq!(
        prom::value(
            &samples,
            "memory_monitor_target_memory_bytes",
            &kind("rss_anon")
        ),
        Some(123_456_789.0)
    );
    assert_eq!(
        prom::value(
            &samples,
            "memory_monitor_target_memory_bytes",
            &kind("vm_hwm")
        ),
        Some(200_000_000.0)
    );
    assert_eq!(
        prom::value(
            &samples,
            "memory_monitor_window_bytes",
            &[t[0], ("quantile", "0.95")]
        ),
        Some(200.0)
    );
    assert_eq!(
        prom::value(&samples, "memory_monitor_baseline_bytes", &t),
        Some(90.0)
    );
    assert_eq!(
        prom::value(
            &samples,
            "memory_monitor_events_total",
            &[t[0], ("reason", "spike")]
        ),
        Some(1.0)
    );
    assert_eq!(
        prom::value(
            &samples,
            "memory_monitor_dumps_total",
            &[("result", "spooled")]
        ),
        Some(1.0)
    );
    assert_eq!(
        prom::value(&samples, "memory_monitor_notifications_dropped_total", &[]),
        Some(0.0)
    );
    let rss = prom::value(&samples, "process_resident_memory_bytes", &[]).unwrap();
    assert!(rss > 100_000.0, "{rss}");
    let start = prom::value(&samples, "process_start_time_seconds", &[]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        start <= now + 1.0 && start > now - 3600.0,
        "start {start} now {now}"
    );
    let cpu = prom::value(&samples, "process_cpu_seconds_total", &[]).unwrap();
    assert!((0.0..600.0).contains(&cpu), "{cpu}");
}

#[test]
fn healthz_reports_waiting_ok_and_a_stuck_loop() {
    let (reg, port) = start();
    reg.beat(Instant::now(), true);
    let r = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("200 waiting\n"),
        "{r}"
    );
    reg.beat(Instant::now(), false);
    let r = raw(port, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert!(r.ends_with("\r\n\r\n200 ok\n"), "{r}");
    // No beat for more than three intervals (and 2 s).
    std::thread::sleep(Duration::from_millis(2300));
    let r = raw(port, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{r}");
    assert!(r.contains("has not woken up for"), "{r}");
}

#[test]
fn garbage_huge_heads_and_idle_connections_get_an_error_or_a_close() {
    let (reg, port) = start();
    reg.beat(Instant::now(), false);
    let cases: [(&[u8], &str); 5] = [
        (b"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "),
        (
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
            "HTTP/1.1 400 ",
        ),
        (b"GET /metrics HTTP/9\r\n\r\n", "HTTP/1.1 400 "),
        (b"GET /nothing HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "),
        (b"GET / HTTP/1.1\r\nX: \x00\r\n\r\n", "HTTP/1.1 400 "),
    ];
    for (req, want) in cases {
        let r = raw(port, req);
        assert!(r.starts_with(want), "{req:?} -> {r:?}");
    }
    // A 1 MB header: 431 once 8 KiB are in, whatever the client keeps sending.
    let mut big = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    big.resize(1 << 20, b'a');
    let r = raw(port, &big);
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 431 "), "{r:?}");

    // 50 idle connections: each is answered with a close, within the read
    // timeout (or at once, beyond the connection bound).
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let started = Instant::now();
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut b = [0u8; 16];
        let n = s.read(&mut b).unwrap_or(0);
        assert_eq!(n, 0, "an idle connection gets a close, not data");
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // And the server still serves.
    reg.beat(Instant::now(), false);
    let r = raw(port, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
}
