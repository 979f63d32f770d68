//! Memory stays flat while a large dump is uploaded: the body is streamed
//! from the file. Its own test binary (one test), so the process high-water
//! mark (VmHWM) belongs to this upload alone. Needs `s3s-fs` (`just setup`).

mod common;
#[path = "common/s3_server.rs"]
mod s3_server;

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use memory_monitor::config::{S3Config, SpoolConfig};
use memory_monitor::io::s3::credentials::chain;
use memory_monitor::io::s3::uploader::{spawn_with, Options};
use memory_monitor::io::s3::{Client, Timeouts};
use memory_monitor::io::spool::{Meta, Spool};
use s3_server::{fill_gzip, same_contents, temp_dir, S3Server, ACCESS_KEY, SECRET_KEY};

const BUCKET: &str = "dumps";
const BIG: u64 = 200_000_000;
const MAX_GROWTH_KIB: u64 = 8 * 1024;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value")
}

fn commit(spool: &Spool, key: &str, len: u64) {
    let mut w = spool.begin(1, "spike", SystemTime::now()).expect("begin");
    fill_gzip(&mut w, len, 0xfeed);
    w.flush().expect("flush");
    let meta = Meta {
        key: spool.unique_key(key.into()),
        pod: "pod-rss".into(),
        target: "t".into(),
        pid: 1,
        reason: "spike".into(),
        unix_ms: 0,
        rss_anon_bytes: None,
        baseline_bytes: None,
        jemalloc: None,
        sha256: None,
        bytes: 0,
    };
    w.commit(meta).expect("commit");
}

fn wait_drained(spool: &Spool, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !spool.pending().expect("pending").is_empty() {
        assert!(Instant::now() < deadline, "not delivered within {limit:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn uploading_200_mb_keeps_the_high_water_mark_flat() {
    let server = S3Server::start(&[BUCKET]);
    let spool = Spool::open(&SpoolConfig {
        dir: temp_dir("rss-spool"),
        max_bytes: 1 << 30,
    })
    .expect("spool");
    let s3 = S3Config {
        bucket: BUCKET.into(),
        prefix: String::new(),
        region: "us-east-1".into(),
        endpoint: Some(server.endpoint()),
        force_path_style: false,
        ca_file: None,
    };
    let env = |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some(SECRET_KEY.to_owned()),
        _ => None,
    };
    let client = Client::new(&s3, Timeouts::default()).expect("client");
    let stop = Arc::new(AtomicBool::new(false));
    let up = spawn_with(
        spool.clone(),
        client,
        Options::new("", "pod-rss"),
        Box::new(chain(&env, "us-east-1")),
        stop,
    )
    .expect("spawn");
    // Warm up: first connection, credential resolution, log formatting.
    commit(&spool, "warm.pprof", 100_000);
    up.waker().wake();
    wait_drained(&spool, Duration::from_secs(20));
    commit(&spool, "big.pprof", BIG);
    let copy = temp_dir("rss-expect").join("big");
    let dump = spool.pending().expect("pending")[0].dump.clone();
    std::fs::copy(&dump, &copy).expect("copy");

    let before = vm_hwm_kib();
    up.waker().wake();
    wait_drained(&spool, Duration::from_secs(180));
    let after = vm_hwm_kib();
    eprintln!("VmHWM before {before} KiB, after {after} KiB");

    assert!(
        after.saturating_sub(before) < MAX_GROWTH_KIB,
        "VmHWM grew {} KiB during a {BIG}-byte upload (before {before} KiB, after {after} KiB)",
        after - before
    );
    assert!(
        same_contents(&copy, &server.object_path(BUCKET, "big.pprof")),
        "big.pprof differs"
    );
    assert!(up.shutdown(Duration::from_secs(5)));
    let _ = std::fs::remove_dir_all(copy.parent().expect("parent"));
    let _ = std::fs::remove_dir_all(spool.dir());
}
