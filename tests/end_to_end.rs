//! The whole path on the real binary: a jemalloc-profiled target leaks, the
//! monitor detects it, captures real dumps through the socket, spools them
//! and uploads them to a real S3 server (s3s-fs, which verifies SigV4).

mod common;
#[path = "common/s3_server.rs"]
mod s3_server;

use std::io::Write;
use std::time::Duration;

use common::*;
use s3_server::{S3Server, ACCESS_KEY, SECRET_KEY};

const T: Duration = Duration::from_secs(30);
const PROFILING: (&str, &str) = (
    "MALLOC_CONF",
    "prof:true,prof_active:true,lg_prof_sample:19",
);

fn s3_env(s3: &S3Server, spool: &str) -> Vec<(String, String)> {
    [
        ("S3_BUCKET", "dumps"),
        ("S3_PATH_PREFIX", "e2e/"),
        ("AWS_ENDPOINT_URL_S3", s3.endpoint().as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("SPOOL_DIR", spool),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn borrowed(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn leak_to_s3_with_real_dumps() {
    let s3 = S3Server::start(&["dumps"]);
    let dir = scratch("e2e");
    let name = unique_name("mme2e", 12);
    let exe = named_target(&dir, &name);
    let _t = start_target(
        &exe,
        &[
            "--base-mb",
            "16",
            "--leak-mb-per-sec",
            "40",
            "--exit-after-secs",
            "90",
        ],
        &[PROFILING],
    );
    let spool = dir.join("spool");
    let mut env = s3_env(&s3, spool.to_str().unwrap());
    env.push(("MEMORY_CHANGE_THRESHOLD".into(), "20MB".into()));
    env.push(("BINARY_NAME".into(), name.clone()));
    let m = monitor(&borrowed(&env));
    let mut keys = Vec::new();
    for reason in ["baseline", "slow-leak"] {
        let up = m.wait_for(reason, T, |l| {
            l.contains("event=uploaded") && l.contains(&format!("-{reason}.pprof"))
        });
        let key = field(&up, "key").unwrap().to_string();
        assert!(key.starts_with("e2e/test-pod-20"), "drop-in key: {key}");
        assert_eq!(
            field(&up, "uri"),
            Some(format!("s3://dumps/{key}").as_str())
        );
        keys.push(key);
    }
    for key in &keys {
        let body = std::fs::read(s3.object_path("dumps", key)).unwrap();
        assert_eq!(&body[..2], &[0x1f, 0x8b], "{key} is a gzipped pprof");
        let mut gz = flate2::read::GzDecoder::new(&body[..]);
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut gz, &mut raw).expect("decompresses");
        assert!(!raw.is_empty());
    }
    // Delivered dumps leave the spool, with their metadata.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<_> = std::fs::read_dir(&spool)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        let pending = left
            .iter()
            .filter(|n| n.to_string_lossy().ends_with(".pprof"))
            .count();
        if pending == 0 || std::time::Instant::now() > until {
            assert!(
                left.iter()
                    .all(|n| !n.to_string_lossy().contains("baseline")),
                "delivered dumps removed: {left:?}"
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Leaves a pending dump of `len` bytes in `spool` as a killed monitor would.
fn pending_dump(spool: &std::path::Path, stem: &str, key: &str, len: u64) {
    std::fs::create_dir_all(spool).unwrap();
    let mut f = std::fs::File::create(spool.join(format!("{stem}.pprof"))).unwrap();
    f.write_all(&[0x1f, 0x8b]).unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    let mut left = len - 2;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    let meta = format!(
        "{{\"key\":\"{key}\",\"pod\":\"old-pod\",\"target\":\"api\",\"pid\":1,\"reason\":\"spike\",\"unix_ms\":1795321080000,\"rss_anon_bytes\":1,\"baseline_bytes\":1,\"jemalloc\":null,\"gzip_ok\":true,\"bytes\":{len}}}"
    );
    std::fs::write(spool.join(format!("{stem}.json")), meta).unwrap();
}

#[test]
fn pending_dumps_from_a_previous_run_are_delivered_and_a_1gib_upload_stays_small() {
    let s3 = S3Server::start(&["dumps"]);
    let dir = scratch("pending");
    let spool = dir.join("spool");
    let len: u64 = 1 << 30;
    pending_dump(
        &spool,
        "20261122T041800000Z-000000-1-spike",
        "e2e/old-pod-2026-11-22-04-18-00-spike.pprof",
        len,
    );
    let env = s3_env(&s3, spool.to_str().unwrap());
    let mut env = borrowed(&env);
    env.push(("BINARY_NAME", "no-such-target-z"));
    // Measured on the binary we ship: the debug build's own text pages alone
    // would eat the budget.
    let mut m = monitor_cmd(std::process::Command::new(release_bin()), &env);
    let up = m.wait_for(
        "upload of the pending 1 GiB dump",
        Duration::from_secs(120),
        |l| l.contains("event=uploaded"),
    );
    assert_eq!(field(&up, "bytes"), Some(len.to_string().as_str()));
    let object = s3.object_path("dumps", "e2e/old-pod-2026-11-22-04-18-00-spike.pprof");
    assert_eq!(std::fs::metadata(&object).unwrap().len(), len);
    let status = std::fs::read_to_string(format!("/proc/{}/status", m.proc.pid())).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap();
    assert!(
        hwm_kib < 4 * 1024,
        "peak RSS {hwm_kib} KiB while uploading 1 GiB (budget 4 MiB)\n{status}"
    );
    eprintln!("monitor peak RSS while uploading 1 GiB: {hwm_kib} KiB");
    m.proc.signal("TERM");
    let st = m.proc.wait_timeout(Duration::from_secs(5)).expect("stops");
    assert!(st.success());
    assert!(
        !spool
            .join("20261122T041800000Z-000000-1-spike.pprof")
            .exists(),
        "removed after 2xx"
    );
    let _ = std::fs::remove_file(object);
}
