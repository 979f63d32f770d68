use std::io::Write;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use super::*;
use crate::config::SpoolConfig;
use crate::core::event::CaptureFailure;

/// A real reply of the demo target's heap-dump socket.
const REAL: &[u8] = include_bytes!("../../../tests/fixtures/heap/demo-target.pprof.gz");

fn scratch(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mm-spool-unit-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn open(dir: &Path) -> Spool {
    Spool::open(&SpoolConfig {
        dir: dir.to_path_buf(),
        max_bytes: 1 << 30,
    })
    .unwrap()
}

fn meta(key: &str) -> Meta {
    Meta {
        key: key.into(),
        pod: "pod".into(),
        target: "svc".into(),
        pid: 7,
        reason: "spike".into(),
        unix_ms: 1_700_000_000_000,
        rss_anon_bytes: None,
        baseline_bytes: None,
        jemalloc: None,
        bytes: 0,
        sha256: None,
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != ".lock")
        .collect();
    v.sort();
    v
}

#[test]
fn a_complete_dump_commits_with_its_digest() {
    let dir = scratch("ok");
    let spool = open(&dir);
    let mut w = spool.begin(7, "spike", SystemTime::now()).unwrap();
    for part in REAL.chunks(100) {
        w.write_all(part).unwrap();
    }
    let p = w.commit(meta("k.pprof")).unwrap();
    let want = crate::core::hex::hex(ring::digest::digest(&ring::digest::SHA256, REAL).as_ref());
    assert_eq!(p.meta.sha256.as_deref(), Some(want.as_str()));
    assert_eq!(p.bytes, REAL.len() as u64);
    assert_eq!(spool.pending().unwrap(), vec![p]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_incomplete_reply_is_kept_as_evidence_never_as_a_dump() {
    let dir = scratch("half");
    let spool = open(&dir);
    let mut w = spool.begin(7, "spike", SystemTime::now()).unwrap();
    w.write_all(&REAL[..REAL.len() / 2]).unwrap();
    let err = w.commit(meta("k.pprof")).unwrap_err();
    assert_eq!(err.capture_failure(), CaptureFailure::Truncated);
    let SpoolError::Incomplete {
        evidence: Some(evidence),
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(
        err.to_string()
            .starts_with("dump refused: truncated gzip stream"),
        "{err}"
    );
    assert_eq!(fs::read(evidence).unwrap(), &REAL[..REAL.len() / 2]);
    assert!(spool.pending().unwrap().is_empty());
    let used = spool.used_bytes();
    assert!(used > REAL.len() as u64 / 2, "evidence is counted: {used}");
    // It survives a restart, still not pending, and the count is the same.
    let again = open(&dir);
    assert!(again.pending().unwrap().is_empty());
    assert_eq!(again.used_bytes(), used);
    assert_eq!(names(&dir).len(), 2, "{:?}", names(&dir));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn only_the_newest_evidence_is_kept() {
    let dir = scratch("prune");
    let spool = open(&dir);
    for i in 0..EVIDENCE_KEPT + 2 {
        let mut w = spool.begin(7, "spike", SystemTime::now()).unwrap();
        w.write_all(format!("not gzip {i}").as_bytes()).unwrap();
        let err = w.commit(meta("k.pprof")).unwrap_err();
        assert_eq!(err.capture_failure(), CaptureFailure::NotGzip);
    }
    let left = names(&dir);
    assert_eq!(left.len(), 2 * EVIDENCE_KEPT, "{left:?}");
    let newest = left.iter().rev().find(|n| n.ends_with(".partial")).unwrap();
    let last = format!("not gzip {}", EVIDENCE_KEPT + 1);
    assert_eq!(fs::read(dir.join(newest)).unwrap(), last.as_bytes());
    let on_disk: u64 = left
        .iter()
        .map(|n| fs::metadata(dir.join(n)).unwrap().len())
        .sum();
    assert_eq!(spool.used_bytes(), on_disk);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_commit_cut_between_its_renames_is_recovered_at_open() {
    let dir = scratch("recover");
    let spool = open(&dir);
    let mut w = spool.begin(7, "spike", SystemTime::now()).unwrap();
    w.write_all(REAL).unwrap();
    let p = w.commit(meta("k.pprof")).unwrap();
    drop(spool);
    // Undo the last rename, as a crash right before it leaves the files.
    let name = p.dump.file_name().unwrap().to_str().unwrap();
    let tmp = dir.join(format!("{TMP_PREFIX}{name}"));
    fs::rename(&p.dump, &tmp).unwrap();
    // And an unfinished capture beside it, which must go.
    fs::write(
        dir.join(".tmp-20200101T000000000Z-000001-7-spike.pprof"),
        b"\x1f",
    )
    .unwrap();
    let spool = open(&dir);
    assert_eq!(spool.pending().unwrap(), vec![p.clone()]);
    assert_eq!(fs::read(&p.dump).unwrap(), REAL);
    assert_eq!(names(&dir).len(), 2, "{:?}", names(&dir));
    // A temp dump whose size differs from its metadata is not complete.
    fs::rename(&p.dump, &tmp).unwrap();
    fs::OpenOptions::new()
        .append(true)
        .open(&tmp)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    let spool = open(&dir);
    assert!(spool.pending().unwrap().is_empty());
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn object_key_is_the_drop_in_format() {
    assert_eq!(
        object_key("dumps/", "api-7f9c", 1_700_000_000, "spike"),
        "dumps/api-7f9c-2023-11-14-22-13-20-spike.pprof"
    );
    assert_eq!(
        object_key("", "p", 0, "baseline"),
        "p-1970-01-01-00-00-00-baseline.pprof"
    );
}

#[test]
fn stem_sorts_by_time_then_sequence_and_sanitises_the_reason() {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_007);
    assert_eq!(
        stem(t, 12, 77, "slow-leak"),
        "20231114T221320007Z-000012-77-slow-leak"
    );
    assert_eq!(
        stem(t, 1, 77, "../x y"),
        "20231114T221320007Z-000001-77-___x_y"
    );
    assert_eq!(stem(t, 1, 77, ""), "20231114T221320007Z-000001-77-dump");
    assert!(stem(t, 9, 1, "z") < stem(t, 10, 1, "a"));
}

#[test]
fn a_dump_marked_delivered_is_never_pending_again_and_goes_at_open() {
    let dir = scratch("delivered");
    let spool = open(&dir);
    let mut w = spool.begin(7, "spike", SystemTime::now()).unwrap();
    w.write_all(REAL).unwrap();
    let p = w.commit(meta("k.pprof")).unwrap();
    // S3 took it but the delete failed: marked instead.
    spool.mark_delivered(&p).unwrap();
    assert!(spool.pending().unwrap().is_empty());
    assert!(p.dump.exists(), "still on disk");
    // Even if the mark itself could not be written, this run remembers.
    fs::remove_file(p.dump.with_extension("delivered")).unwrap();
    assert!(spool.pending().unwrap().is_empty());
    spool.mark_delivered(&p).unwrap();
    // The next start finishes the delete.
    let again = open(&dir);
    assert!(again.pending().unwrap().is_empty());
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
    assert_eq!(again.used_bytes(), 0);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn quarantined_dumps_stay_counted_and_leave_when_delivered() {
    let dir = scratch("quarantine");
    let spool = open(&dir);
    let mut w = spool.begin(7, "spike", SystemTime::now()).unwrap();
    w.write_all(REAL).unwrap();
    let p = w.commit(meta("k.pprof")).unwrap();
    let used = spool.used_bytes();
    let q = spool
        .quarantine(&p, "s3 put k.pprof: status 400 InvalidArgument")
        .unwrap();
    assert!(spool.pending().unwrap().is_empty());
    assert_eq!(spool.quarantined().unwrap(), vec![q.clone()]);
    assert_eq!(spool.quarantined_count(), 1);
    let reopened = open(&dir);
    assert!(
        reopened.used_bytes() >= used,
        "still counted after a restart"
    );
    assert_eq!(reopened.quarantined().unwrap(), vec![q.clone()]);
    reopened.remove(&q).unwrap();
    assert!(names(&dir.join(QUARANTINE_DIR)).is_empty());
    assert_eq!(reopened.quarantined_count(), 0);
    fs::remove_dir_all(&dir).unwrap();
}
