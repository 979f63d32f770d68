//! Shared set-up of the S3 delivery tests: a spool, gzip dumps committed
//! to it, a client and an uploader with short backoffs, waiting helpers.
//! Include with `#[path = "common/s3_setup.rs"] mod s3_setup;` beside
//! `#[path = "common/s3_server.rs"] mod s3_server;`.
#![allow(dead_code)]

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use memory_monitor::config::{S3Config, SpoolConfig};
use memory_monitor::io::s3::credentials::{chain, Provide};
use memory_monitor::io::s3::uploader::{spawn_with, Options, Uploader};
use memory_monitor::io::s3::{Client, Timeouts};
use memory_monitor::io::spool::{Meta, Pending, Spool};

use crate::s3_server::{fill_gzip, temp_dir, ACCESS_KEY};

pub(crate) const BUCKET: &str = "dumps";

pub(crate) fn s3_config(endpoint: &str) -> S3Config {
    S3Config {
        bucket: BUCKET.into(),
        prefix: "mm/".into(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint.into()),
        force_path_style: false,
        ca_file: None,
    }
}

/// Static keys through the real credential chain's env link.
pub(crate) fn creds(secret: &str) -> Box<dyn Provide> {
    let secret = secret.to_owned();
    let env = move |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some(secret.clone()),
        _ => None,
    };
    Box::new(chain(&env, "us-east-1"))
}

pub(crate) fn spool() -> Spool {
    let dir = temp_dir("spool");
    Spool::open(&SpoolConfig {
        dir,
        max_bytes: 4 << 30,
    })
    .expect("open spool")
}

/// Commits a dump of `len` test bytes with object key `key`.
pub(crate) fn commit(spool: &Spool, key: &str, len: u64) -> Pending {
    let mut w = spool
        .begin(4242, "spike", SystemTime::now())
        .expect("begin dump");
    fill_gzip(&mut w, len, len ^ 0x5eed);
    w.flush().expect("flush");
    let meta = Meta {
        key: spool.unique_key(key.into()),
        pod: "pod-a".into(),
        target: "demo-target".into(),
        pid: 4242,
        reason: "spike".into(),
        unix_ms: 1_700_000_000_000,
        rss_anon_bytes: Some(123_456_789),
        baseline_bytes: Some(100_000_000),
        jemalloc: None,
        sha256: None,
        bytes: 0,
    };
    w.commit(meta).expect("commit dump")
}

pub(crate) fn fast(s3: &S3Config, timeouts: Timeouts) -> Client {
    Client::new(s3, timeouts).expect("s3 client")
}

pub(crate) fn options() -> Options {
    let mut o = Options::new("mm/", "pod-a");
    o.backoff_base = Duration::from_millis(100);
    o.backoff_cap = Duration::from_millis(800);
    o
}

pub(crate) fn start(spool: &Spool, client: Client, secret: &str) -> Uploader {
    let stop = Arc::new(AtomicBool::new(false));
    spawn_with(spool.clone(), client, options(), creds(secret), stop).expect("spawn uploader")
}

pub(crate) fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) fn drained(spool: &Spool) -> bool {
    spool.pending().expect("pending").is_empty()
}

pub(crate) fn short_timeouts() -> Timeouts {
    let s = Duration::from_secs(1);
    Timeouts {
        connect: s,
        send_request: s,
        stall: s,
        recv_response: s,
        recv_body: s,
    }
}

/// Session credentials that count how often they were thrown away.
pub(crate) struct Counting {
    pub invalidated: Arc<std::sync::atomic::AtomicUsize>,
}

impl Provide for Counting {
    fn credentials(
        &mut self,
        _now: SystemTime,
    ) -> Result<memory_monitor::io::s3::Credentials, memory_monitor::io::s3::credentials::CredError>
    {
        Ok(memory_monitor::io::s3::Credentials {
            access_key_id: "ASIATEST".into(),
            secret_access_key: "secret".into(),
            session_token: Some("session".into()),
            expires: None,
        })
    }

    fn invalidate(&mut self) {
        self.invalidated
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
