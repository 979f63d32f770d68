//! [`Meta`]: what is known about one spooled dump, stored as `<stem>.json`
//! beside it. Pure: the spool (`io::spool`) reads and writes the files.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::core::jemalloc::JemallocStats;

/// What is known about one dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// S3 object key; empty when the metadata was lost and rebuilt.
    pub key: String,
    pub pod: String,
    pub target: String,
    pub pid: u32,
    /// The event that took the dump (`baseline`, `spike`, ...).
    pub reason: String,
    pub unix_ms: u64,
    #[serde(default)]
    pub rss_anon_bytes: Option<u64>,
    #[serde(default)]
    pub baseline_bytes: Option<u64>,
    #[serde(default)]
    pub jemalloc: Option<JemallocStats>,
    /// Size of the dump file.
    pub bytes: u64,
    /// SHA-256 of the dump (lower-case hex), computed while it was captured;
    /// `None` in metadata written before it was (the uploader hashes then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Meta {
    /// Pretty JSON, keys sorted, trailing newline.
    pub fn to_json(&self) -> String {
        match serde_json::to_value(self) {
            Ok(value) => format!("{value:#}\n"),
            // Unreachable: every field serialises (strings and integers).
            Err(_) => String::from("{}\n"),
        }
    }

    /// Parses what [`Meta::to_json`] wrote (unknown keys, like the old
    /// `gzip_ok`, are ignored). Never panics on any input (fuzzed).
    pub fn from_json(s: &[u8]) -> Result<Meta, String> {
        // Through a map: the derived reader would also take a JSON array.
        let map: Map<String, Value> =
            serde_json::from_slice(s).map_err(|e| format!("not a JSON object: {e}"))?;
        let meta = Meta::deserialize(Value::Object(map)).map_err(|e| e.to_string())?;
        if meta.sha256.as_deref().is_some_and(|h| !is_sha256_hex(h)) {
            return Err("`sha256` is not 64 lower-case hex digits".into());
        }
        Ok(meta)
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
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
            bytes: 98_765,
            sha256: Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()),
        }
    }

    #[test]
    fn round_trips() {
        let meta = sample();
        assert_eq!(Meta::from_json(meta.to_json().as_bytes()).unwrap(), meta);
        let bare = Meta {
            jemalloc: None,
            rss_anon_bytes: None,
            sha256: None,
            ..sample()
        };
        assert_eq!(Meta::from_json(bare.to_json().as_bytes()).unwrap(), bare);
    }

    #[test]
    fn is_the_expected_text() {
        let text = Meta {
            jemalloc: None,
            target: "svc".into(),
            ..sample()
        }
        .to_json();
        let expected = r#"{
  "baseline_bytes": null,
  "bytes": 98765,
  "jemalloc": null,
  "key": "dumps/pod-a-2023-11-14-22-13-20-slow-leak.pprof",
  "pid": 4242,
  "pod": "pod-a",
  "reason": "slow-leak",
  "rss_anon_bytes": 734003200,
  "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "target": "svc",
  "unix_ms": 1700000000123
}
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn metadata_of_the_previous_release_still_reads() {
        let old = br#"{"key":"k","pod":"p","target":"t","pid":1,"reason":"spike","unix_ms":5,
            "rss_anon_bytes":1,"baseline_bytes":null,"jemalloc":null,"gzip_ok":true,"bytes":9}"#;
        let m = Meta::from_json(old).unwrap();
        assert_eq!((m.key.as_str(), m.bytes, m.sha256), ("k", 9, None));
    }

    #[test]
    fn bad_metadata_is_refused_with_a_reason() {
        for bad in [
            &br#"[]"#[..],
            br#"{"key": 1}"#,
            br#"{"key":"k","pod":"p","target":"t","pid":4294967296,"reason":"r","unix_ms":1,"bytes":1}"#,
            br#"{"key":"k","pod":"p","target":"t","pid":1,"reason":"r","unix_ms":1,"bytes":1,"sha256":"XYZ"}"#,
            b"\xff",
        ] {
            assert!(Meta::from_json(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let text = sample().to_json();
        for end in 0..text.trim_end().len() {
            assert!(
                Meta::from_json(&text.as_bytes()[..end]).is_err(),
                "prefix {end}"
            );
        }
    }
}
