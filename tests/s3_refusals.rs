//! S3 refusing chosen dumps, through a pass-through proxy of our own in
//! front of a real S3 server (s3s-fs, which still checks every signature):
//! a dump refused for good is quarantined and never holds up the others; a
//! transient refusal backs off that dump only; a bucket-wide refusal pauses
//! everything with one alert and quarantines nothing; a skewed clock is
//! corrected from S3's `Date`.

mod common;
#[path = "common/http.rs"]
mod http;
#[path = "common/s3_proxy.rs"]
mod s3_proxy;
#[path = "common/s3_server.rs"]
mod s3_server;
#[path = "common/s3_setup.rs"]
mod s3_setup;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use memory_monitor::core::event::Kind;
use memory_monitor::io::s3::uploader::{spawn_with, Notice, Options};
use memory_monitor::io::s3::Timeouts;
use memory_monitor::io::spool::Spool;
use s3_proxy::S3Proxy;
use s3_server::{S3Server, SECRET_KEY};
use s3_setup::*;

const T: Duration = Duration::from_secs(20);

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("mm/{prefix}-{i}.pprof")).collect()
}

fn start_with(spool: &Spool, proxy: &S3Proxy, opts: Options) -> memory_monitor::io::s3::Uploader {
    let client = fast(&s3_config(&proxy.endpoint()), Timeouts::default());
    let stop = Arc::new(AtomicBool::new(false));
    spawn_with(spool.clone(), client, opts, creds(SECRET_KEY), stop).expect("spawn uploader")
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new(); // no quarantine folder yet
    };
    let mut v: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_dump_refused_for_good_is_quarantined_and_the_others_go_on() {
    let server = S3Server::start(&[BUCKET]);
    let proxy = S3Proxy::start(server.port);
    proxy.refuse("hol-0", 400, "InvalidArgument", "Bad metadata value");
    let spool = spool();
    let ks = keys("hol", 3);
    for k in &ks {
        commit(&spool, k, 50_000);
    }
    let mut opts = options();
    opts.quarantine_retry = Duration::from_secs(2);
    let mut up = start_with(&spool, &proxy, opts);
    let notices = up.take_notices().expect("notices");
    wait_until("the dumps behind it delivered", T, || drained(&spool));
    for k in &ks[1..] {
        assert!(server.object_path(BUCKET, k).is_file(), "{k} delivered");
    }
    assert!(!server.object_path(BUCKET, &ks[0]).exists());
    assert_eq!(proxy.count("hol-0"), 1, "tried once, then quarantined");
    let qdir = spool.quarantine_dir();
    let held = names(&qdir);
    assert_eq!(held.len(), 3, "dump, metadata, reason: {held:?}");
    let reason = held.iter().find(|n| n.ends_with(".refused")).unwrap();
    let why = std::fs::read_to_string(qdir.join(reason)).unwrap();
    assert!(
        why.contains("400 InvalidArgument: Bad metadata value"),
        "{why}"
    );
    assert_eq!(up.counts().quarantined, 1);
    assert_eq!(spool.quarantined_count(), 1);
    match notices.recv_timeout(T).expect("a notice") {
        n @ Notice::Quarantined { .. } => {
            let Notice::Quarantined {
                key, code, status, ..
            } = &n
            else {
                unreachable!()
            };
            assert_eq!(
                (key.as_str(), status, code.as_str()),
                (ks[0].as_str(), &400, "InvalidArgument")
            );
            let report = n.report(1).expect("a report");
            assert_eq!(report.kind, Kind::DumpQuarantined);
            assert_eq!(report.dump.unwrap().key.as_deref(), Some(ks[0].as_str()));
        }
        other => panic!("want a quarantine notice, got {other:?}"),
    }
    // S3 changes its mind: the next quarantine retry delivers it.
    proxy.clear();
    wait_until("the quarantined dump delivered", T, || {
        server.object_path(BUCKET, &ks[0]).is_file()
    });
    wait_until("the quarantine emptied", T, || names(&qdir).is_empty());
    assert_eq!(spool.quarantined_count(), 0);
    assert!(up.shutdown(Duration::from_secs(5)));
}

#[test]
fn a_transient_refusal_backs_off_that_dump_only() {
    let server = S3Server::start(&[BUCKET]);
    let proxy = S3Proxy::start(server.port);
    proxy.refuse_times("slow-0", 503, "SlowDown", 3);
    let spool = spool();
    let ks = keys("slow", 3);
    for k in &ks {
        commit(&spool, k, 10_000);
    }
    let up = start_with(&spool, &proxy, options());
    wait_until("all delivered", T, || drained(&spool));
    for k in &ks {
        assert!(server.object_path(BUCKET, k).is_file(), "{k} delivered");
    }
    assert_eq!(proxy.count("slow-0"), 4, "three refusals, then delivered");
    let order: Vec<String> = up.delivered().into_iter().map(|d| d.key).collect();
    assert_eq!(
        order.last(),
        Some(&ks[0]),
        "the others did not wait: {order:?}"
    );
    assert!(
        names(&spool.quarantine_dir()).is_empty(),
        "nothing quarantined"
    );
    assert_eq!(up.counts().failed, 3);
    assert!(up.shutdown(Duration::from_secs(5)));
}

#[test]
fn a_bucket_wide_refusal_pauses_everything_with_one_alert() {
    let server = S3Server::start(&[BUCKET]);
    let proxy = S3Proxy::start(server.port);
    proxy.refuse("mm/", 403, "AccessDenied", "Access Denied");
    let spool = spool();
    let ks = keys("denied", 3);
    for k in &ks {
        commit(&spool, k, 10_000);
    }
    let mut up = start_with(&spool, &proxy, options());
    let notices = up.take_notices().expect("notices");
    wait_until("several refusals", T, || up.counts().failed >= 4);
    assert_eq!(spool.pending().unwrap().len(), 3, "all still pending");
    assert!(
        names(&spool.quarantine_dir()).is_empty(),
        "nothing quarantined"
    );
    let first = notices.recv_timeout(T).expect("one alert");
    let Notice::Blocked { why } = &first else {
        panic!("want a blocked notice, got {first:?}")
    };
    assert!(why.contains("403 AccessDenied"), "{why}");
    let report = first.report(1).expect("an uploads-blocked report");
    assert_eq!(report.kind, Kind::UploadsBlocked);
    assert!(report
        .detail
        .unwrap_or_default()
        .contains("403 AccessDenied"));
    assert!(notices.try_recv().is_err(), "a single alert per episode");
    proxy.clear();
    wait_until("all delivered once allowed", T, || drained(&spool));
    for k in &ks {
        assert!(server.object_path(BUCKET, k).is_file(), "{k} delivered");
    }
    assert!(up.shutdown(Duration::from_secs(5)));
}

#[test]
fn a_skewed_clock_is_corrected_from_the_s3_date() {
    let server = S3Server::start(&[BUCKET]);
    let proxy = S3Proxy::start(server.port);
    proxy.skewed_clock(2 * 3600);
    let spool = spool();
    commit(&spool, "mm/skew-0.pprof", 10_000);
    let up = start_with(&spool, &proxy, options());
    wait_until("delivered after the correction", T, || drained(&spool));
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2, "one refusal, one retry at once: {seen:?}");
    let dates: Vec<&String> = seen.iter().map(|h| &h.headers["x-amz-date"]).collect();
    assert_ne!(dates[0], dates[1], "signed again with S3's time");
    assert_eq!(up.counts().uploaded, 1);
    assert_eq!(up.counts().failed, 0, "a corrected skew is not a failure");
    assert!(up.shutdown(Duration::from_secs(5)));
}
