//! Entry points for the `cargo fuzz` targets in `fuzz/`: each takes raw
//! bytes and must never panic, hang or allocate without bound. Kept in the
//! library so the harness is compiled and linted with the crate.

use crate::core::{replay, status, units};

/// `/proc/<pid>/status` and `/proc/<pid>/stat` scanners.
pub fn status(data: &[u8]) {
    let mut sample = status::StatusSample::default();
    let used = status::scan(data, false, &mut sample);
    assert!(used <= data.len());
    // A hint from the data itself, then whatever the first read left.
    let mut hint = data.first().map_or(0, |&b| usize::from(b));
    for _ in 0..2 {
        let mut resumed = status::StatusSample::default();
        let used = status::scan_resuming(data, false, &mut resumed, &mut hint);
        assert!(used <= data.len() && hint <= data.len());
    }
    let _ = status::scan_all(data);
    let _ = status::parse_stat_starttime(data);
}

/// Size, duration and multiplier parsers.
pub fn units(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = units::parse_size(s);
        let _ = units::parse_duration(s);
        let _ = units::parse_multiplier_micros(s);
    }
}

/// Replay CSV rows.
pub fn replay_csv(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    use crate::core::detectors::{DetectParams, Detection};
    let rules = crate::core::detector::Params {
        window_size: 4,
        threshold_bytes: 10,
        spike_multiplier_micros: 1_500_000,
        spike_cooldown: std::time::Duration::from_secs(4),
        leak_cooldown: std::time::Duration::from_secs(8),
    };
    let mut trend = crate::core::trend_rules::TrendParams::off(rules.leak_cooldown);
    trend.time_to_limit = Some(std::time::Duration::from_secs(3600));
    trend.growth = Some((10, std::time::Duration::from_secs(600)));
    trend.memory_limit = Some(1 << 20);
    for detection in [Detection::Compat, Detection::Robust] {
        let params = DetectParams {
            detection,
            rules,
            trend,
        };
        let mut r = replay::Replayer::new(params, std::time::Instant::now());
        for (i, line) in text.lines().enumerate() {
            if let Ok(Some((t, e))) = r.line(line, i + 1) {
                let _ = replay::JsonLine(t, &e).to_string();
            }
        }
    }
}

/// The heap-dump socket's `stats` JSON reply.
pub fn jemalloc_stats(data: &[u8]) {
    let _ = crate::core::jemalloc::parse_stats(data);
}

/// Spool metadata files: whatever parses is written back and reads the same.
pub fn spool_meta(data: &[u8]) {
    use crate::core::spool_meta::Meta;
    if let Ok(m) = Meta::from_json(data) {
        assert_eq!(Meta::from_json(m.to_json().as_bytes()), Ok(m));
    }
}

/// The gzip verifier: whole or split at any point, the same verdict.
pub fn gzip(data: &[u8]) {
    use crate::core::gzip::GzipCheck;
    let mut whole = GzipCheck::new();
    whole.update(data);
    let verdict = whole.finish();
    let cut = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (a, b) = data.split_at(cut);
    let mut split = GzipCheck::new();
    split.update(a);
    split.update(b);
    assert_eq!(split.finish(), verdict);
}

/// STS `AssumeRoleWithWebIdentity` replies (and error bodies), through the
/// one XML extractor.
pub fn sts_xml(data: &[u8]) {
    let _ = crate::io::s3::credentials::parse_sts_xml(data);
    let text = String::from_utf8_lossy(data);
    if let Some(inner) = crate::core::xml::element(&text, "Credentials") {
        let _ = crate::core::xml::unescape(inner);
        let _ = crate::core::xml::unescape_lenient(inner);
    }
}

/// Container / Pod Identity / IMDS credential JSON, and its timestamps.
pub fn credentials_json(data: &[u8]) {
    let _ = crate::core::credentials_json::parse(data);
    let _ = crate::core::credentials_json::error_fields(data);
    let _ = crate::io::s3::credentials::parse_container_json(data);
    let text = String::from_utf8_lossy(data);
    let _ = crate::core::iso8601::parse_iso8601(&text);
    let _ = crate::core::iso8601::parse_http_date(&text);
}

/// Shared credentials / config files, both dialects.
pub fn aws_profile(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for (name, is_config) in [("default", false), ("default", true), ("dev", true)] {
        let _ = crate::io::s3::credentials::parse_profile(&text, name, is_config);
    }
}

/// S3 error bodies (`<Error><Code>…</Code><Message>…</Message></Error>`).
pub fn s3_error_xml(data: &[u8]) {
    let _ = crate::core::xml::error_code_message(data);
}

/// `/proc/<pid>/cgroup`, and where its paths fall below a mount root.
pub fn cgroup_proc(data: &[u8]) {
    let found = crate::core::cgroup::parse_proc_cgroup(data);
    for path in [found.v1_memory, found.v2].into_iter().flatten() {
        let _ = crate::core::cgroup::below_root(data, path);
        let _ = crate::core::cgroup::below_root(b"/", path);
    }
}

/// `/proc/<pid>/mountinfo`: the cgroup mounts.
pub fn cgroup_mountinfo(data: &[u8]) {
    for m in crate::core::cgroup::cgroup_mounts(data) {
        let _ = crate::core::cgroup::below_root(m.root, m.point);
    }
}

/// Single-value cgroup files: usage, `memory.max`, `memory.limit_in_bytes`.
pub fn cgroup_value(data: &[u8]) {
    let _ = crate::core::cgroup::parse_value(data);
    let _ = crate::core::cgroup::parse_limit(data);
}

/// `memory.stat`, both versions, whole and in small pieces.
pub fn cgroup_stat(data: &[u8]) {
    use crate::core::cgroup::{scan_stat, scan_stat_all, MemStat, Version};
    for version in [Version::V1, Version::V2] {
        let _ = scan_stat_all(data, version);
        let mut s = MemStat::default();
        let mut off = 0;
        while off < data.len() {
            let end = (off + 64).min(data.len());
            let used = scan_stat(&data[off..end], end == data.len(), version, &mut s);
            assert!(used <= end - off);
            off += if used == 0 { end - off } else { used };
        }
    }
}

/// `memory.events` / `memory.oom_control`.
pub fn cgroup_events(data: &[u8]) {
    let mut e = crate::core::cgroup::Events::default();
    assert!(crate::core::cgroup::scan_events(data, false, &mut e) <= data.len());
    assert!(crate::core::cgroup::scan_events(data, true, &mut e) <= data.len());
}

/// `memory.pressure` (PSI).
pub fn cgroup_pressure(data: &[u8]) {
    let mut p = crate::core::cgroup::Pressure::default();
    assert!(crate::core::cgroup::scan_pressure(data, true, &mut p) <= data.len());
    let _ = p.some_avg10_percent();
}
/// RESTART_SIGNALS / RESTART_ON / RESTART_BUDGET parsers, and a parsed plan
/// driven through a whole sequence.
pub fn restart_settings(data: &[u8]) {
    use crate::core::restart::{Budget, BudgetSpec, Plan, RestartConfig, Sequence, Triggers};
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Triggers::parse(s);
    let _ = BudgetSpec::parse(s);
    let Ok(plan) = Plan::parse(s) else { return };
    let _ = plan.to_string();
    let cfg = RestartConfig {
        plan,
        on: Triggers::DEFAULT,
        budget: BudgetSpec::DEFAULT,
        dry_run: false,
        timeout: std::time::Duration::from_secs(1),
    };
    let (mut seq, mut budget) = (Sequence::new(), Budget::new());
    let t0 = std::time::Instant::now();
    seq.trigger(crate::core::event::Kind::SlowLeak, t0, &cfg, &mut budget);
    let mut steps = 0;
    for secs in [0, 1, 10, 100, 10_000, 1_000_000] {
        let now = t0 + std::time::Duration::from_secs(secs);
        while seq.poll(now, &cfg).is_some() {
            steps += 1;
            assert!(steps <= 4 * crate::core::restart::MAX_STEPS);
        }
    }
}

/// The metrics endpoint's request-head parser, and the base64 decoder of
/// `WEBHOOK_SECRET`.
pub fn http_head(data: &[u8]) {
    match crate::core::http::parse_head(data) {
        Ok(Some(req)) => {
            assert!(req.path.starts_with('/'));
            let _ = crate::core::http::route(req.path);
        }
        Ok(None) => assert!(data.len() < crate::core::http::HEAD_MAX),
        Err(r) => {
            let _ = r.status();
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(bytes) = crate::core::notify::base64::decode(s) {
            assert_eq!(
                crate::core::notify::base64::decode(&crate::core::notify::base64::encode(&bytes)),
                Some(bytes)
            );
        }
    }
}
