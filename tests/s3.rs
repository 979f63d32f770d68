//! S3 delivery against a real S3-compatible server (`s3s-fs`, which checks
//! SigV4): sizes, addressing styles, waking, keys and metadata. Failures
//! are in tests/s3_faults.rs. Needs `s3s-fs` (`just setup`).

mod common;
#[path = "common/s3_server.rs"]
mod s3_server;
#[path = "common/s3_setup.rs"]
mod s3_setup;

use std::collections::HashSet;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use memory_monitor::io::s3::Timeouts;
use s3_server::{same_contents, temp_dir, S3Server, SECRET_KEY};
use s3_setup::*;

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
