//! The Slack / webhook stand-in (`hook_server.py`, a real HTTP server) and
//! the Python `standardwebhooks` verifier.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) struct HookServer {
    child: Child,
    pub port: u16,
    pub record: PathBuf,
}

impl Drop for HookServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HookServer {
    /// Starts the server with a reply script (see hook_server.py).
    pub(crate) fn start(dir: &Path, script: &str) -> HookServer {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let record = dir.join(format!(
            "hook-{n}-{}.jsonl",
            script.replace([':', ','], "_")
        ));
        let _ = std::fs::remove_file(&record);
        let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/hook_server.py");
        let mut child = Command::new("python3")
            .arg(py)
            .arg(&record)
            .arg(script)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 (just setup installs it)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).expect("port");
        let port = line.trim().parse().expect("hook server prints its port");
        HookServer {
            child,
            port,
            record,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("record line"))
            .collect()
    }

    /// Waits until at least `n` requests arrived (or `limit` passed).
    pub(crate) fn wait_for(&self, n: usize, limit: Duration) -> Vec<Value> {
        let until = Instant::now() + limit;
        loop {
            let got = self.requests();
            if got.len() >= n || Instant::now() > until {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Verifies a recorded webhook request with the `standardwebhooks` package.
/// Returns the verifier's error text on rejection.
pub(crate) fn verify_webhook(secret: &str, request: &Value, body: &str) -> Result<(), String> {
    let h = &request["headers"];
    let script = r#"
import sys
from standardwebhooks.webhooks import Webhook
secret, msg_id, ts, sig = sys.argv[1:5]
body = sys.stdin.read()
try:
    Webhook(secret).verify(body, {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig})
except Exception as e:
    print(type(e).__name__, e)
    sys.exit(1)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, secret])
        .arg(h["webhook-id"].as_str().unwrap_or(""))
        .arg(h["webhook-timestamp"].as_str().unwrap_or(""))
        .arg(h["webhook-signature"].as_str().unwrap_or(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with standardwebhooks (just setup installs it)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write body");
    let out = child.wait_with_output().expect("verifier");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// A report as the lifecycle would build it for `kind`.
pub(crate) fn report(
    kind: memory_monitor::core::event::Kind,
    pid: u32,
) -> memory_monitor::core::event::Report {
    use memory_monitor::core::event::{CaptureOutcome, DumpRef, Report, VerdictCode};
    use memory_monitor::core::status::StatusSample;
    let mib = 1u64 << 20;
    let now = StatusSample {
        rss_anon: Some(700 * mib),
        rss_file: Some(30 * mib),
        rss_shmem: Some(0),
        vm_rss: Some(730 * mib),
        vm_hwm: Some(800 * mib),
        vm_swap: Some(0),
    };
    Report {
        kind,
        target: "api".into(),
        pid,
        unix_ms: 1_795_321_099_500,
        bytes: 700 * mib,
        baseline_bytes: Some(100 * mib),
        p50_bytes: Some(110 * mib),
        p95_bytes: Some(120 * mib),
        now,
        at_baseline: Some(StatusSample {
            rss_anon: Some(100 * mib),
            ..now
        }),
        cgroup: None,
        heap: None,
        verdict: "mostly anonymous memory".into(),
        verdict_code: VerdictCode::HeapGrowth,
        dump: kind.takes_dump().then(|| DumpRef {
            outcome: CaptureOutcome::Spooled,
            key: Some("p/pod-2026-11-22-04-18-19-spike.pprof".into()),
            uri: None,
            console_url: None,
            path: Some("/tmp/spool/p/pod-2026-11-22-04-18-19-spike.pprof".into()),
        }),
        detail: None,
    }
}
