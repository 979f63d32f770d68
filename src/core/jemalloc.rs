//! jemalloc counters from the heap-dump socket's `stats` reply (PRODUCT §2),
//! also stored in each dump's spool metadata.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// jemalloc counters; a missing or `null` counter reads as 0, other keys
/// are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JemallocStats {
    #[serde(deserialize_with = "null_is_zero")]
    pub allocated: u64,
    #[serde(deserialize_with = "null_is_zero")]
    pub active: u64,
    #[serde(deserialize_with = "null_is_zero")]
    pub resident: u64,
    #[serde(deserialize_with = "null_is_zero")]
    pub mapped: u64,
    #[serde(deserialize_with = "null_is_zero")]
    pub retained: u64,
    #[serde(deserialize_with = "null_is_zero")]
    pub metadata: u64,
}

fn null_is_zero<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Option::<u64>::deserialize(d).map(Option::unwrap_or_default)
}

/// Parses a `stats` reply: a JSON object whose counters are unsigned
/// integers. The error says what is wrong. Never panics on any input (fuzzed).
pub fn parse_stats(reply: &[u8]) -> Result<JemallocStats, String> {
    // Through a map: the derived reader would also take a JSON array.
    let map: Map<String, Value> =
        serde_json::from_slice(reply).map_err(|e| format!("not a JSON object: {e}"))?;
    JemallocStats::deserialize(Value::Object(map)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = r#"{
  "allocated": 1048576,
  "active": 2097152,
  "metadata": 65536,
  "resident": 3145728,
  "mapped": 4194304,
  "retained": 524288,
  "background_thread": {"num_threads": 1}
}"#;

    #[test]
    fn parses_a_pretty_reply_and_ignores_unknown_keys() {
        let stats = parse_stats(REPLY.as_bytes()).unwrap();
        assert_eq!(
            stats,
            JemallocStats {
                allocated: 1_048_576,
                active: 2_097_152,
                resident: 3_145_728,
                mapped: 4_194_304,
                retained: 524_288,
                metadata: 65_536,
            }
        );
    }

    #[test]
    fn missing_or_null_counters_are_zero() {
        let stats = parse_stats(br#"{"allocated": 5, "resident": null}"#).unwrap();
        assert_eq!(stats.allocated, 5);
        assert_eq!(stats.resident, 0);
        assert_eq!(stats.metadata, 0);
    }

    #[test]
    fn bad_replies_say_what_is_wrong() {
        let err = parse_stats(br#"{"allocated": -1}"#).unwrap_err();
        assert!(err.contains("-1") && err.contains("u64"), "{err}");
        let err = parse_stats(b"[1, 2]").unwrap_err();
        assert!(err.starts_with("not a JSON object: "), "{err}");
        assert!(parse_stats(b"").is_err());
        assert!(parse_stats(&[0xff, 0xfe, 0x00]).is_err());
    }

    #[test]
    fn every_truncated_prefix_is_handled() {
        let bytes = REPLY.as_bytes();
        for end in 0..bytes.len() {
            assert!(parse_stats(&bytes[..end]).is_err(), "prefix {end} parsed");
        }
        assert!(parse_stats(bytes).is_ok());
    }
}
