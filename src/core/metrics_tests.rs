use super::*;

fn registry() -> (Registry, Instant) {
    let t0 = Instant::now();
    (Registry::new(t0, Duration::from_secs(1)), t0)
}

#[test]
fn kinds_index_in_all_order() {
    for (i, k) in Kind::ALL.iter().enumerate() {
        assert_eq!(*k as usize, i);
    }
    assert_eq!(Sink::Webhook.as_str(), "webhook");
}

#[test]
fn per_target_series_come_and_go() {
    let (r, _) = registry();
    let s = StatusSample {
        rss_anon: Some(100),
        rss_file: Some(20),
        rss_shmem: None,
        vm_rss: Some(120),
        vm_hwm: Some(150),
        vm_swap: Some(0),
    };
    r.sample("api \"x\"", 42, &s);
    r.window("api \"x\"", 42, Some(90), Some(110), Some(80));
    r.event("api \"x\"", 42, Kind::Spike);
    r.event("api \"x\"", 42, Kind::Spike);
    r.event("api \"x\"", 42, Kind::Restart);
    let text = r.render(&ProcessStats::default());
    let label = r#"target="api \"x\"",pid="42""#;
    for line in [
        format!("memory_monitor_target_memory_bytes{{{label},kind=\"rss_anon\"}} 100"),
        format!("memory_monitor_target_memory_bytes{{{label},kind=\"swap\"}} 0"),
        format!("memory_monitor_target_memory_bytes{{{label},kind=\"vm_hwm\"}} 150"),
        format!("memory_monitor_baseline_bytes{{{label}}} 80"),
        format!("memory_monitor_window_bytes{{{label},quantile=\"0.95\"}} 110"),
        format!("memory_monitor_events_total{{{label},reason=\"spike\"}} 2"),
        "memory_monitor_restarts_total{target=\"api \\\"x\\\"\"} 1".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
    }
    assert!(!text.contains("rss_shmem"));
    r.ended(42);
    let text = r.render(&ProcessStats::default());
    assert!(!text.contains("pid=\"42\""), "{text}");
    assert!(text.contains("memory_monitor_restarts_total{target=\"api \\\"x\\\"\"} 1"));
}

#[test]
fn global_counters_and_process() {
    let (r, _) = registry();
    r.dump(DumpResult::Refused);
    r.upload(UploadResult::Retry);
    r.notification(Sink::SlackWebhook, false);
    r.notification(Sink::Slack, true);
    r.notification_dropped();
    r.spool(3, 4096, 1);
    let text = r.render(&ProcessStats {
        resident_bytes: 2_000_000,
        cpu_seconds: 1.25,
        start_time_seconds: 1_795_321_099.5,
    });
    for line in [
        "memory_monitor_dumps_total{result=\"refused\"} 1",
        "memory_monitor_dumps_total{result=\"spooled\"} 0",
        "memory_monitor_uploads_total{result=\"retry\"} 1",
        "memory_monitor_notifications_total{sink=\"slack-webhook\",result=\"failed\"} 1",
        "memory_monitor_notifications_total{sink=\"slack\",result=\"sent\"} 1",
        "memory_monitor_notifications_dropped_total 1",
        "memory_monitor_spool_files 3",
        "memory_monitor_spool_bytes 4096",
        "memory_monitor_spool_quarantined_files 1",
        "process_resident_memory_bytes 2000000",
        "process_cpu_seconds_total 1.25",
        "process_start_time_seconds 1795321099.5",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
    }
    for l in text.lines().filter(|l| l.starts_with("# TYPE")) {
        assert!(l.ends_with(" gauge") || l.ends_with(" counter"), "{l}");
    }
}

#[test]
fn too_many_targets_are_not_exported_but_nothing_breaks() {
    let (r, _) = registry();
    r.event("t", 999, Kind::Spike);
    assert!(!r.render(&ProcessStats::default()).contains("pid=\"999\""));
    for pid in 1..=(MAX_TARGETS as u32 + 5) {
        r.sample("t", pid, &StatusSample::default());
        r.event("t", pid, Kind::Spike);
    }
    let text = r.render(&ProcessStats::default());
    assert_eq!(text.matches("reason=\"spike\"").count(), MAX_TARGETS);
    let long = "x".repeat(200);
    r.ended(1);
    let some = StatusSample {
        rss_anon: Some(1),
        ..StatusSample::default()
    };
    r.sample(&long, 1000, &some);
    assert!(r
        .render(&ProcessStats::default())
        .contains(&format!("target=\"{}\"", "x".repeat(64))));
}

#[test]
fn health_follows_the_heartbeat() {
    let (r, t0) = registry();
    r.beat(t0, true);
    assert_eq!(r.health(t0 + Duration::from_secs(1)), Health::Waiting);
    r.beat(t0 + Duration::from_secs(1), false);
    assert_eq!(r.health(t0 + Duration::from_secs(3)), Health::Ok);
    assert_eq!(
        r.health(t0 + Duration::from_secs(5)),
        Health::Stuck(Duration::from_secs(4))
    );
}

#[test]
fn self_stat_and_btime() {
    let stat = b"4242 (memory monitor) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 5 0 0 20 0 3 0 987654 2097152 400 18446744073709551615\n";
    assert_eq!(parse_self_stat(stat), Some((17, 5, 987_654)));
    for n in 0..stat.len() - 1 {
        let _ = parse_self_stat(&stat[..n]);
    }
    assert_eq!(parse_self_stat(b"1 (x) S 1"), None);
    assert_eq!(
        parse_btime(b"cpu  1 2 3\nintr 5\nbtime 1795321000\nprocesses 9\n"),
        Some(1_795_321_000)
    );
    assert_eq!(parse_btime(b"cpu 1\n"), None);
}
