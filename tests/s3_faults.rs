//! S3 delivery when things go wrong, against a real S3 server (`s3s-fs`)
//! and small local servers: a refused signature, an outage, a restart, a
//! silent server, an expired session token. Refusals of chosen dumps are in
//! tests/s3_refusals.rs.

mod common;
#[path = "common/http.rs"]
mod http;
#[path = "common/s3_server.rs"]
mod s3_server;
#[path = "common/s3_setup.rs"]
mod s3_setup;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use http::read_request;
use memory_monitor::config::SpoolConfig;
use memory_monitor::io::s3::put::{Object, PutErrorKind};
use memory_monitor::io::s3::uploader::{metadata, spawn_with};
use memory_monitor::io::s3::Timeouts;
use memory_monitor::io::spool::Spool;
use s3_server::{S3Server, SECRET_KEY};
use s3_setup::*;

#[test]
fn wrong_secret_gets_403_with_the_s3_code_and_the_file_stays() {
    let server = S3Server::start(&[BUCKET]);
    let spool = spool();
    let p = commit(&spool, "mm/pod-a-denied.pprof", 1000);
    let s3 = s3_config(&server.endpoint());
    let client = fast(&s3, Timeouts::default());
    let bad = creds("not-the-secret")
        .credentials(SystemTime::now())
        .expect("creds");
    let stop = AtomicBool::new(false);
    let meta = metadata(&p.meta);
    let obj = Object {
        key: &p.meta.key,
        path: &p.dump,
        metadata: &meta,
        sha256: p.meta.sha256.as_deref(),
    };
    let err = client
        .put_file(&obj, &bad, &SystemTime::now, &stop)
        .expect_err("wrong secret must fail");
    match &err.kind {
        PutErrorKind::Status {
            status: 403,
            code: Some(code),
            ..
        } => assert_eq!(code, "SignatureDoesNotMatch"),
        other => panic!("want 403 SignatureDoesNotMatch, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(
        shown.starts_with("s3 put mm/pod-a-denied.pprof: status 403 SignatureDoesNotMatch"),
        "{shown}"
    );
    assert!(!shown.contains("not-the-secret"), "secret leaked: {shown}");

    let up = start(&spool, client, "not-the-secret");
    wait_until("two failed attempts", Duration::from_secs(10), || {
        up.counts().failed >= 2
    });
    assert_eq!(
        spool.pending().expect("pending"),
        vec![p.clone()],
        "the dump stays in the spool"
    );
    assert!(!server.object_path(BUCKET, &p.meta.key).exists());
    assert!(up.shutdown(Duration::from_secs(5)));
}

#[test]
fn outage_then_recovery_delivers_all_three_once() {
    let mut server = S3Server::start(&[BUCKET]);
    let s3 = s3_config(&server.endpoint());
    server.stop();
    let spool = spool();
    let up = start(&spool, fast(&s3, short_timeouts()), SECRET_KEY);
    let keys: Vec<String> = (0..3)
        .map(|i| format!("mm/pod-a-outage-{i}.pprof"))
        .collect();
    for k in &keys {
        commit(&spool, k, 100_000);
        up.waker().wake();
    }
    wait_until(
        "failures during the outage",
        Duration::from_secs(10),
        || up.counts().failed >= 3,
    );
    assert_eq!(
        spool.pending().expect("pending").len(),
        3,
        "nothing lost while S3 is down"
    );
    server.restart();
    wait_until("delivery after the outage", Duration::from_secs(20), || {
        drained(&spool)
    });
    for k in &keys {
        assert!(server.object_path(BUCKET, k).is_file(), "{k} delivered");
    }
    // Each dump backs off on its own during the outage, so the order after
    // it is not guaranteed; each arrives exactly once.
    let mut delivered: Vec<String> = up.delivered().into_iter().map(|d| d.key).collect();
    delivered.sort();
    assert_eq!(delivered, keys, "each exactly once");
    assert_eq!(up.counts().uploaded, 3);
    assert!(up.shutdown(Duration::from_secs(5)));
}

#[test]
fn pending_files_survive_a_restart_of_the_uploader() {
    let mut server = S3Server::start(&[BUCKET]);
    let s3 = s3_config(&server.endpoint());
    server.stop();
    let spool1 = spool();
    let key = "mm/pod-a-restart.pprof";
    commit(&spool1, key, 10_000);
    let up = start(&spool1, fast(&s3, short_timeouts()), SECRET_KEY);
    wait_until("a failed attempt", Duration::from_secs(10), || {
        up.counts().failed >= 1
    });
    assert!(up.shutdown(Duration::from_secs(5)));
    server.restart();
    // A new monitor: the spool reopened from disk.
    let spool2 = Spool::open(&SpoolConfig {
        dir: spool1.dir().to_path_buf(),
        max_bytes: 4 << 30,
    })
    .expect("reopen");
    let up2 = start(&spool2, fast(&s3, Timeouts::default()), SECRET_KEY);
    wait_until("delivery after restart", Duration::from_secs(20), || {
        drained(&spool2)
    });
    assert!(server.object_path(BUCKET, key).is_file());
    assert!(up2.shutdown(Duration::from_secs(5)));
}

#[test]
fn silent_server_times_out_and_retries_and_stop_is_bounded() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            counter.fetch_add(1, Ordering::Relaxed);
            held.push(conn); // accept, never read, never answer
        }
    });
    let spool = spool();
    let p = commit(&spool, "mm/pod-a-silent.pprof", 3_000_000);
    let s3 = s3_config(&format!("http://127.0.0.1:{port}"));
    let up = start(&spool, fast(&s3, short_timeouts()), SECRET_KEY);
    wait_until("two timed-out attempts", Duration::from_secs(15), || {
        up.counts().failed >= 2
    });
    assert!(
        accepted.load(Ordering::Relaxed) >= 2,
        "each retry connects again"
    );
    assert_eq!(spool.pending().expect("pending"), vec![p]);
    let t = Instant::now();
    assert!(
        up.shutdown(Duration::from_secs(5)),
        "the uploader ends within the bound"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn an_expired_session_token_drops_cached_credentials_then_delivers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            if read_request(&mut reader).is_none() {
                continue;
            }
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let reply = if n == 0 {
                let body = "<?xml version=\"1.0\"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>";
                format!("HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    let spool = spool();
    let p = commit(&spool, "mm/expired.pprof", 1000);
    let invalidated = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let creds = Box::new(Counting {
        invalidated: Arc::clone(&invalidated),
    });
    let client = fast(
        &s3_config(&format!("http://127.0.0.1:{port}")),
        short_timeouts(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let up = spawn_with(spool.clone(), client, options(), creds, stop).expect("spawn uploader");
    wait_until(
        "delivery after the expired token",
        Duration::from_secs(10),
        || drained(&spool),
    );
    assert!(!p.dump.exists());
    assert_eq!(
        invalidated.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "cached credentials dropped once"
    );
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(up.shutdown(Duration::from_secs(5)));
}
