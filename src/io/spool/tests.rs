use serde_json::{json, Value};

use super::*;
use crate::io::heapdump::JemallocStats;

fn sample_meta() -> Meta {
    Meta {
        key: "dumps/pod-a-2023-11-14-22-13-20-slow-leak.pprof".into(),
        pod: "pod-a".into(),
        target: "my \"service\"\n".into(),
        pid: 4242,
        reason: "slow-leak".into(),
        unix_ms: 1_700_000_000_123,
        rss_anon_bytes: Some(734_003_200),
        baseline_bytes: None,
        jemalloc: Some(JemallocStats {
            allocated: 1,
            active: 2,
            resident: 3,
            mapped: 4,
            retained: 5,
            metadata: 6,
        }),
        gzip_ok: true,
        bytes: 98_765,
    }
}

#[test]
fn meta_json_round_trips() {
    let meta = sample_meta();
    assert_eq!(Meta::from_json(meta.to_json().as_bytes()).unwrap(), meta);
    let bare = Meta {
        jemalloc: None,
        rss_anon_bytes: None,
        ..sample_meta()
    };
    assert_eq!(Meta::from_json(bare.to_json().as_bytes()).unwrap(), bare);
}

#[test]
fn meta_json_is_the_expected_text() {
    let text = Meta {
        jemalloc: None,
        target: "svc".into(),
        ..sample_meta()
    }
    .to_json();
    let expected = r#"{
  "baseline_bytes": null,
  "bytes": 98765,
  "gzip_ok": true,
  "jemalloc": null,
  "key": "dumps/pod-a-2023-11-14-22-13-20-slow-leak.pprof",
  "pid": 4242,
  "pod": "pod-a",
  "reason": "slow-leak",
  "rss_anon_bytes": 734003200,
  "target": "svc",
  "unix_ms": 1700000000123
}
"#;
    assert_eq!(text, expected);
}

#[test]
fn every_truncated_prefix_of_meta_is_an_error_not_a_panic() {
    let json = sample_meta().to_json();
    let bytes = json.trim_end().as_bytes();
    for end in 0..bytes.len() {
        assert!(
            Meta::from_json(&bytes[..end]).is_err(),
            "prefix {end} parsed"
        );
    }
}

#[test]
fn bad_meta_names_the_field() {
    let mut json: Value = serde_json::from_str(&sample_meta().to_json()).unwrap();
    json["key"] = json!(1);
    let err = Meta::from_json(json.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "spool metadata: `key` must be a string");
    json["key"] = json!("k");
    json["pid"] = json!(u64::MAX);
    let err = Meta::from_json(json.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "spool metadata: `pid` is too large");
    json["pid"] = json!(1);
    json["jemalloc"] = json!({"allocated": "lots"});
    let err = Meta::from_json(json.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spool metadata: `jemalloc`: `allocated` is not an unsigned integer"
    );
}

#[test]
fn object_key_is_the_drop_in_format() {
    assert_eq!(
        object_key("dumps/", "api-7f9c", 1_700_000_000, "spike"),
        "dumps/api-7f9c-2023-11-14-22-13-20-spike.pprof"
    );
    assert_eq!(
        object_key("", "p", 0, "baseline"),
        "p-1970-01-01-00-00-00-baseline.pprof"
    );
}

#[test]
fn stem_sorts_by_time_then_sequence_and_sanitises_the_reason() {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_007);
    assert_eq!(
        stem(t, 12, 77, "slow-leak"),
        "20231114T221320007Z-000012-77-slow-leak"
    );
    assert_eq!(
        stem(t, 1, 77, "../x y"),
        "20231114T221320007Z-000001-77-___x_y"
    );
    assert_eq!(stem(t, 1, 77, ""), "20231114T221320007Z-000001-77-dump");
    assert!(stem(t, 9, 1, "z") < stem(t, 10, 1, "a"));
}
