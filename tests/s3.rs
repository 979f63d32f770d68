//! S3 delivery against a real S3-compatible server (`s3s-fs`, which checks
//! SigV4) and against a silent TCP server. Needs `s3s-fs` (`just setup`).

#[path = "common/s3_server.rs"]
mod s3_server;

use std::collections::HashSet;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use memory_monitor::config::{S3Config, SpoolConfig};
use memory_monitor::io::s3::credentials::{chain, Provide};
use memory_monitor::io::s3::put::PutErrorKind;
use memory_monitor::io::s3::uploader::{metadata, spawn_with, Options, Uploader};
use memory_monitor::io::s3::{Client, Timeouts};
use memory_monitor::io::spool::{Meta, Pending, Spool};
use s3_server::{fill_gzip, same_contents, temp_dir, S3Server, ACCESS_KEY, SECRET_KEY};

const BUCKET: &str = "dumps";

fn s3_config(endpoint: &str) -> S3Config {
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
fn creds(secret: &str) -> Box<dyn Provide> {
    let secret = secret.to_owned();
    let env = move |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some(secret.clone()),
        _ => None,
    };
    Box::new(chain(&env, "us-east-1"))
}

fn spool() -> Spool {
    let dir = temp_dir("spool");
    Spool::open(&SpoolConfig {
        dir,
        max_bytes: 4 << 30,
    })
    .expect("open spool")
}

/// Commits a dump of `len` test bytes with object key `key`.
fn commit(spool: &Spool, key: &str, len: u64) -> Pending {
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

fn fast(s3: &S3Config, timeouts: Timeouts) -> Client {
    Client::new(s3, timeouts).expect("s3 client")
}

fn options() -> Options {
    let mut o = Options::new("mm/", "pod-a");
    o.backoff_base = Duration::from_millis(100);
    o.backoff_cap = Duration::from_millis(800);
    o
}

fn start(spool: &Spool, client: Client, secret: &str) -> Uploader {
    let stop = Arc::new(AtomicBool::new(false));
    spawn_with(spool.clone(), client, options(), creds(secret), stop).expect("spawn uploader")
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(25));
    }
}

fn drained(spool: &Spool) -> bool {
    spool.pending().expect("pending").is_empty()
}

fn short_timeouts() -> Timeouts {
    let s = Duration::from_secs(1);
    Timeouts {
        connect: s,
        send_request: s,
        stall: s,
        recv_response: s,
        recv_body: s,
    }
}

#[test]
fn dumps_of_all_sizes_arrive_byte_identical() {
    let server = S3Server::start(&[BUCKET]);
    let spool = spool();
    let sizes = [0u64, 1, 5_000_000, 200_000_000];
    let committed: Vec<(String, PathBuf)> = sizes
        .iter()
        .map(|&n| {
            let key = format!("mm/pod-a-size-{n}.pprof");
            let p = commit(&spool, &key, n);
            // Keep a copy to compare with: the spool deletes its file after delivery.
            let copy = temp_dir("expect").join("dump");
            std::fs::copy(&p.dump, &copy).expect("copy dump");
            (key, copy)
        })
        .collect();
    let up = start(
        &spool,
        fast(&s3_config(&server.endpoint()), Timeouts::default()),
        SECRET_KEY,
    );
    wait_until("all dumps delivered", Duration::from_secs(180), || {
        drained(&spool)
    });
    for (key, copy) in &committed {
        let stored = server.object_path(BUCKET, key);
        assert!(
            same_contents(copy, &stored),
            "{key}: {} differs from {}",
            stored.display(),
            copy.display()
        );
        let _ = std::fs::remove_dir_all(copy.parent().expect("parent"));
    }
    let keys: Vec<String> = up.delivered().into_iter().map(|d| d.key).collect();
    let want: Vec<String> = committed.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, want, "delivered oldest first");
    let d = &up.delivered()[0];
    assert_eq!(d.uri, "s3://dumps/mm/pod-a-size-0.pprof");
    assert!(
        d.console_url
            .starts_with("https://s3.console.aws.amazon.com/s3/object/dumps?"),
        "{}",
        d.console_url
    );
    let c = up.counts();
    let spooled: u64 = committed
        .iter()
        .map(|(k, _)| {
            std::fs::metadata(server.object_path(BUCKET, k))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!((c.uploaded, c.failed, c.bytes), (4, 0, spooled));
    assert!(up.shutdown(Duration::from_secs(5)), "uploader stops");
}

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
    let err = client
        .put_file(
            &p.meta.key,
            &p.dump,
            &metadata(&p.meta),
            &bad,
            SystemTime::now(),
            &stop,
        )
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
fn path_style_by_ip_localhost_and_forced() {
    let server = S3Server::start(&[BUCKET]);
    let endpoints = [
        (format!("http://127.0.0.1:{}", server.port), false),
        (format!("http://localhost:{}", server.port), false),
        (format!("http://127.0.0.1:{}/", server.port), true),
    ];
    for (i, (endpoint, force)) in endpoints.iter().enumerate() {
        let mut s3 = s3_config(endpoint);
        s3.force_path_style = *force;
        let client = fast(&s3, Timeouts::default());
        assert!(client.endpoint().path_style());
        let spool = spool();
        let key = format!("mm/style {i}/ü+x.pprof");
        let p = commit(&spool, &key, 4096);
        let copy = temp_dir("expect").join("dump");
        std::fs::copy(&p.dump, &copy).expect("copy");
        let up = start(&spool, client, SECRET_KEY);
        wait_until(endpoint, Duration::from_secs(20), || drained(&spool));
        assert!(
            same_contents(&copy, &server.object_path(BUCKET, &key)),
            "{endpoint}: {key}"
        );
        assert!(up.shutdown(Duration::from_secs(5)));
    }
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
    let delivered: Vec<String> = up.delivered().into_iter().map(|d| d.key).collect();
    assert_eq!(delivered, keys, "each exactly once, oldest first");
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
fn a_wake_delivers_a_new_dump_promptly() {
    let server = S3Server::start(&[BUCKET]);
    let spool = spool();
    let up = start(
        &spool,
        fast(&s3_config(&server.endpoint()), Timeouts::default()),
        SECRET_KEY,
    );
    thread::sleep(Duration::from_millis(300)); // the thread is now idle (60 s rescan)
    commit(&spool, "mm/pod-a-woken.pprof", 2048);
    let t = Instant::now();
    up.waker().wake();
    wait_until("woken delivery", Duration::from_secs(5), || drained(&spool));
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(up.shutdown(Duration::from_secs(5)));
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
fn delivered_keys_are_unique_and_metadata_is_sent() {
    let server = S3Server::start(&[BUCKET]);
    let spool = spool();
    commit(&spool, "mm/pod-a-same.pprof", 10);
    commit(&spool, "mm/pod-a-same.pprof", 20); // the spool makes this key unique
    let up = start(
        &spool,
        fast(&s3_config(&server.endpoint()), Timeouts::default()),
        SECRET_KEY,
    );
    wait_until("delivery", Duration::from_secs(20), || drained(&spool));
    let keys: HashSet<String> = up.delivered().into_iter().map(|d| d.key).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for k in &keys {
        assert!(server.object_path(BUCKET, k).is_file(), "{k}");
    }
    let metas = server.metadata_files();
    assert_eq!(metas.len(), 2, "{metas:?}");
    for m in &metas {
        for want in [
            "pod-a",
            "demo-target",
            "spike",
            "123456789",
            "100000000",
            "rss-anon-bytes",
            "baseline-bytes",
        ] {
            assert!(m.contains(want), "{want} missing in {m}");
        }
    }
    assert!(up.shutdown(Duration::from_secs(5)));
}

/// Session credentials that count how often they were thrown away.
struct Counting {
    invalidated: Arc<std::sync::atomic::AtomicUsize>,
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

/// Reads one HTTP request (headers and a Content-Length body).
fn read_request(conn: &mut std::net::TcpStream) -> Option<()> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut conn.take(len), &mut std::io::sink()).ok()?;
    Some(())
}

#[test]
fn an_expired_session_token_drops_cached_credentials_then_delivers() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            if read_request(&mut conn).is_none() {
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
