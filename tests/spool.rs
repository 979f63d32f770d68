//! The spool on its own: names, keys, the size cap, crash leftovers, order,
//! and refusing what is not a complete gzip stream. Real files in a scratch
//! directory; the capture side is in tests/capture.rs.

#[path = "common/capture_util.rs"]
mod capture_util;
mod common;

use std::fs;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;
use flate2::Compression;

use memory_monitor::io::spool::{object_key, Spool, SpoolError};

use capture_util::*;

const MIB: u64 = 1 << 20;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn two_dumps_in_the_same_millisecond_get_distinct_names_and_keys() {
    let tmp = TempDir::new("same");
    let spool = Spool::open(&spool_cfg(&tmp.0, 100 * MIB)).unwrap();
    let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
    let key = object_key("p/", "pod-a", 1_700_000_000, "spike");
    let mut committed = Vec::new();
    let bodies = [gzip(b"one"), gzip(b"two")];
    for body in &bodies {
        let mut w = spool.clone().begin(7, "spike", now).unwrap();
        w.write_all(body).unwrap();
        let unique = spool.unique_key(key.clone());
        committed.push(
            w.commit(meta(&unique, 7, "spike", 1_700_000_000_000))
                .unwrap(),
        );
    }
    assert_ne!(committed[0].dump, committed[1].dump);
    assert_eq!(
        committed[0].meta.key,
        "p/pod-a-2023-11-14-22-13-20-spike.pprof"
    );
    assert_eq!(
        committed[1].meta.key,
        "p/pod-a-2023-11-14-22-13-20-spike-2.pprof"
    );
    assert_eq!(fs::read(&committed[0].dump).unwrap(), bodies[0]);
    assert_eq!(fs::read(&committed[1].dump).unwrap(), bodies[1]);
    assert_eq!(names(&tmp.0).len(), 4);
    assert_eq!(spool.pending().unwrap(), committed);
    // Keys of pending dumps are remembered across a restart too.
    let reopened = Spool::open(&spool_cfg(&tmp.0, 100 * MIB)).unwrap();
    assert_eq!(
        reopened.unique_key(key),
        "p/pod-a-2023-11-14-22-13-20-spike-3.pprof"
    );
}

#[test]
fn a_full_spool_refuses_and_keeps_what_it_holds() {
    let tmp = TempDir::new("full");
    let spool = Spool::open(&spool_cfg(&tmp.0, 4096)).unwrap();
    let mut w = spool.begin(1, "baseline", SystemTime::now()).unwrap();
    w.write_all(&gzip_of_len(3000)).unwrap();
    let first = w.commit(meta("k1", 1, "baseline", 1)).unwrap();
    let before: Vec<_> = names(&tmp.0)
        .into_iter()
        .map(|n| (fs::read(tmp.path(&n)).unwrap(), n))
        .collect();

    // Room left for a few hundred bytes: the next dump fails mid-write.
    let mut w = spool.begin(1, "spike", SystemTime::now()).unwrap();
    let err = w.write_all(&[0u8; 2000]).unwrap_err();
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<SpoolError>());
    assert!(
        matches!(inner, Some(SpoolError::Full { max: 4096, .. })),
        "{err}"
    );
    w.abort();

    // Fill to the brim: now `begin` itself refuses, loudly.
    let mut w = spool.begin(1, "spike", SystemTime::now()).unwrap();
    let room = 4096 - spool.used_bytes();
    w.write_all(&gzip_of_len(room as usize)).unwrap();
    let second = w.commit(meta("k2", 1, "spike", 2)).unwrap();
    let err = spool.begin(1, "slow-leak", SystemTime::now()).unwrap_err();
    assert!(matches!(err, SpoolError::Full { .. }));
    assert!(err.to_string().starts_with("spool full: "), "{err}");
    assert!(
        err.to_string()
            .ends_with("undelivered dumps are never deleted"),
        "{err}"
    );

    for (content, name) in &before {
        assert_eq!(
            &fs::read(tmp.path(name)).unwrap(),
            content,
            "{name} changed"
        );
    }
    assert_eq!(spool.pending().unwrap(), vec![first, second.clone()]);
    // Delivering one frees room again.
    spool.remove(&second).unwrap();
    assert!(spool.begin(1, "spike", SystemTime::now()).is_ok());
}

#[test]
fn open_cleans_crash_leftovers_and_keeps_final_dumps() {
    let tmp = TempDir::new("open");
    let spool = Spool::open(&spool_cfg(&tmp.0, 100 * MIB)).unwrap();
    let mut w = spool.begin(3, "baseline", SystemTime::now()).unwrap();
    w.write_all(&gzip(b"kept")).unwrap();
    let kept = w.commit(meta("k", 3, "baseline", 5)).unwrap();
    let used = spool.used_bytes();
    fs::write(
        tmp.path(".tmp-20240101T000000000Z-000009-99-spike.pprof"),
        b"partial",
    )
    .unwrap();
    fs::write(
        tmp.path(".tmp-20240101T000000000Z-000009-99-spike.json"),
        b"{",
    )
    .unwrap();
    fs::write(tmp.path("20240101T000000000Z-000010-99-spike.json"), b"{}").unwrap();
    let reopened = Spool::open(&spool_cfg(&tmp.0, 100 * MIB)).unwrap();
    let mut expected = vec![
        kept.dump.file_name().unwrap().to_str().unwrap().to_owned(),
        kept.meta_path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned(),
    ];
    expected.sort();
    assert_eq!(names(&tmp.0), expected);
    assert_eq!(reopened.used_bytes(), used);
    assert_eq!(reopened.pending().unwrap(), vec![kept]);
}

#[test]
fn pending_is_oldest_first_survives_reopen_and_never_loses_a_dump() {
    let tmp = TempDir::new("pending");
    let cfg = spool_cfg(&tmp.0, 100 * MIB);
    let spool = Spool::open(&cfg).unwrap();
    let base = 1_700_000_000_000u64;
    for (offset_ms, reason) in [(5_000u64, "spike"), (0, "baseline"), (9_000, "slow-leak")] {
        let at = UNIX_EPOCH + Duration::from_millis(base + offset_ms);
        let mut w = spool.begin(11, reason, at).unwrap();
        w.write_all(&gzip(reason.as_bytes())).unwrap();
        w.commit(meta(&format!("k-{reason}"), 11, reason, base + offset_ms))
            .unwrap();
    }
    let order = |s: &Spool| {
        s.pending()
            .unwrap()
            .iter()
            .map(|p| p.meta.reason.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&spool), ["baseline", "spike", "slow-leak"]);

    let reopened = Spool::open(&cfg).unwrap();
    assert_eq!(reopened.used_bytes(), spool.used_bytes());
    let pending = reopened.pending().unwrap();
    assert_eq!(order(&reopened), ["baseline", "spike", "slow-leak"]);

    // Unreadable metadata: the dump is still pending, with metadata rebuilt.
    fs::write(&pending[2].meta_path, b"garbage").unwrap();
    let p = &reopened.pending().unwrap()[2];
    assert_eq!(
        (p.meta.pid, p.meta.reason.as_str(), p.meta.key.as_str()),
        (11, "slow-leak", "")
    );
    assert!(p.key_or("dumps/", "pod-b").starts_with("dumps/pod-b-"));
    assert!(p.key_or("dumps/", "pod-b").ends_with("-slow-leak.pprof"));

    let before = reopened.used_bytes();
    let meta_len = fs::metadata(&pending[0].meta_path).unwrap().len();
    reopened.remove(&pending[0]).unwrap();
    assert_eq!(before - reopened.used_bytes(), pending[0].bytes + meta_len);
    assert!(!pending[0].dump.exists() && !pending[0].meta_path.exists());
    assert_eq!(order(&Spool::open(&cfg).unwrap()), ["spike", "slow-leak"]);
}

/// Root can give files away; an unprivileged run checks its own uid only.
fn other_uid() -> Option<u32> {
    (my_uid() == 0).then_some(65534)
}

fn my_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let probe = std::env::temp_dir().join(format!("mm-uid-probe-{}", std::process::id()));
    fs::write(&probe, b"").unwrap();
    let uid = fs::metadata(&probe).unwrap().uid();
    fs::remove_file(&probe).unwrap();
    uid
}

#[test]
fn a_symlinked_spool_dir_is_refused_and_left_untouched() {
    let tmp = TempDir::new("symlink");
    let real = tmp.path("real");
    fs::create_dir(&real).unwrap();
    fs::write(real.join(".tmp-x.pprof"), b"someone else's").unwrap();
    fs::write(real.join("20240101T000000000Z-000001-1-spike.json"), b"{}").unwrap();
    let link = tmp.path("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for dir in [link.clone(), link.join("")] {
        let err = Spool::open(&spool_cfg(&dir, MIB)).unwrap_err();
        assert!(err.is_config_error(), "{err}");
        let text = err.to_string();
        assert!(text.starts_with("SPOOL_DIR "), "{text}");
        assert!(text.contains("is a symbolic link"), "{text}");
    }
    assert_eq!(names(&real).len(), 2, "nothing touched: {:?}", names(&real));
    let file = tmp.path("file");
    fs::write(&file, b"").unwrap();
    let err = Spool::open(&spool_cfg(&file, MIB)).unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
}

#[test]
fn a_spool_dir_of_another_user_is_refused() {
    let Some(uid) = other_uid() else {
        eprintln!("not root: cannot make a directory of another user here");
        return;
    };
    let tmp = TempDir::new("foreign-dir");
    let dir = tmp.path("spool");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join(".tmp-x.pprof"), b"theirs").unwrap();
    std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).unwrap();
    let err = Spool::open(&spool_cfg(&dir, MIB)).unwrap_err();
    assert!(err.is_config_error(), "{err}");
    assert!(
        err.to_string().contains(&format!("owned by uid {uid}")),
        "{err}"
    );
    assert!(dir.join(".tmp-x.pprof").exists(), "nothing touched");
}

#[test]
fn other_users_files_in_the_spool_are_left_alone() {
    let Some(uid) = other_uid() else {
        eprintln!("not root: cannot make a file of another user here");
        return;
    };
    let tmp = TempDir::new("foreign-files");
    let theirs = [
        ".tmp-20240101T000000000Z-000001-9-spike.pprof",
        "20240101T000000000Z-000002-9-spike.pprof",
        "20240101T000000000Z-000003-9-spike.json",
    ];
    for name in theirs {
        fs::write(tmp.path(name), gzip(b"theirs")).unwrap();
        std::os::unix::fs::chown(tmp.path(name), Some(uid), Some(uid)).unwrap();
    }
    std::os::unix::fs::symlink(
        "/etc/passwd",
        tmp.path("20240101T000000000Z-000004-9-spike.pprof"),
    )
    .unwrap();
    let spool = Spool::open(&spool_cfg(&tmp.0, 100 * MIB)).unwrap();
    assert_eq!(spool.foreign_files(), 4);
    assert!(spool.pending().unwrap().is_empty(), "never picked up");
    for name in theirs {
        assert!(tmp.path(name).exists(), "{name} left in place");
    }
    assert_eq!(spool.used_bytes(), 0);
}

#[test]
fn one_spool_one_monitor_process() {
    let tmp = TempDir::new("lock");
    let spool = Spool::open(&spool_cfg(&tmp.0, MIB)).unwrap();
    // The same process may open it again (one monitor, many handles) ...
    drop(Spool::open(&spool_cfg(&tmp.0, MIB)).unwrap());
    // ... another process may not: `flock` from the shell, without waiting.
    let out = std::process::Command::new("flock")
        .args(["-n", "-E", "75"])
        .arg(tmp.path(".lock"))
        .arg("true")
        .status()
        .expect("run flock(1)");
    assert_eq!(out.code(), Some(75), "the lock is held");
    let pid: u32 = fs::read_to_string(tmp.path(".lock"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, std::process::id());
    drop(spool);
    let out = std::process::Command::new("flock")
        .args(["-n", "-E", "75"])
        .arg(tmp.path(".lock"))
        .arg("true")
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(0), "released with the last handle");
}
