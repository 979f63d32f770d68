//! Scrapes `/metrics` with Python (`urllib` + `prometheus_client`'s text
//! parser) and returns every sample as `(name, labels, value)`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Command;

pub(crate) type Sample = (String, BTreeMap<String, String>, f64);

pub(crate) fn scrape(port: u16) -> Result<Vec<Sample>, String> {
    let script = r#"
import sys, json, urllib.request
from prometheus_client.parser import text_string_to_metric_families
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10) as r:
    assert r.status == 200, r.status
    ctype = r.headers["Content-Type"]
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    text = r.read().decode()
out = []
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let rows: Vec<(String, BTreeMap<String, String>, f64)> =
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(rows)
}

/// The value of the first sample named `name` whose labels include `want`.
pub(crate) fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, labels, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
}
