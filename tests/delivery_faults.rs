//! Faults on the delivery path, on the real binary with a real S3 server
//! (s3s-fs): a reply that is not a complete gzip stream is never delivered
//! as a `.pprof`, and is kept as evidence.

mod common;
#[path = "common/s3_server.rs"]
mod s3_server;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use s3_server::{S3Server, ACCESS_KEY, SECRET_KEY};

const T: Duration = Duration::from_secs(30);
/// A real reply of the demo target's heap-dump socket.
const REAL: &[u8] = include_bytes!("fixtures/heap/demo-target.pprof.gz");

/// A heap-dump server: `stats` gets `{}`; `dump` gets the first
/// `dump_len` bytes of [`REAL`] (changeable while it runs), then a close.
fn dump_server(path: &Path, dump_len: Arc<AtomicUsize>) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut line = String::new();
            let _ = BufReader::new(&conn).read_line(&mut line);
            match line.as_str() {
                "stats\n" => {
                    let _ = conn.write_all(b"{}");
                }
                "dump\n" => reply(&mut conn, &REAL[..dump_len.load(Ordering::SeqCst)]),
                _ => {}
            }
        }
    });
}

fn reply(conn: &mut UnixStream, bytes: &[u8]) {
    for piece in bytes.chunks(100) {
        if conn.write_all(piece).is_err() {
            return;
        }
    }
}

fn s3_env(s3: &S3Server, spool: &Path, sock: &Path, name: &str) -> Vec<(String, String)> {
    [
        ("BINARY_NAME", name),
        ("S3_BUCKET", "dumps"),
        ("S3_PATH_PREFIX", "faults/"),
        ("AWS_ENDPOINT_URL_S3", s3.endpoint().as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("SPOOL_DIR", spool.to_str().unwrap()),
        ("HEAP_DUMP_SOCKET", sock.to_str().unwrap()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn borrowed(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_half_dump_is_kept_as_evidence_and_never_uploaded() {
    let s3 = S3Server::start(&["dumps"]);
    let dir = scratch("halfdump");
    let sock = dir.join("dump.sock");
    let dump_len = Arc::new(AtomicUsize::new(REAL.len() / 2));
    dump_server(&sock, dump_len.clone());
    let name = unique_name("mmhalf", 12);
    let _t = start_target(
        &named_target(&dir, &name),
        &["--exit-after-secs", "90"],
        &[],
    );
    let spool = dir.join("spool");
    let env = s3_env(&s3, &spool, &sock, &name);

    // A gzip header and half the deflate stream, then the server closes.
    let mut m = monitor(&borrowed(&env));
    let line = m.wait_for("a refused dump", T, |l| l.contains("truncated gzip stream"));
    assert!(
        line.contains(".partial"),
        "the log names the evidence: {line}"
    );
    // The uploader had every chance to (it wakes at each commit); give it
    // a moment, then nothing may be in the bucket or pending.
    std::thread::sleep(Duration::from_millis(500));
    assert!(m.events("uploaded").is_empty(), "{:?}", m.lines());
    assert_eq!(s3.keys("dumps"), Vec::<String>::new());
    let files = names(&spool);
    assert!(
        files.iter().all(|f| !f.ends_with(".pprof")),
        "no dump under a final name: {files:?}"
    );
    let evidence: Vec<_> = files.iter().filter(|f| f.ends_with(".partial")).collect();
    assert_eq!(evidence.len(), 1, "{files:?}");
    let kept = std::fs::read(spool.join(evidence[0])).unwrap();
    assert_eq!(kept, &REAL[..REAL.len() / 2]);
    m.proc.signal("TERM");
    m.proc.wait_timeout(T).expect("monitor stops on SIGTERM");

    // Next start, the target answers in full: that dump is delivered
    // byte for byte, and the evidence stays where it is, unsent.
    dump_len.store(REAL.len(), Ordering::SeqCst);
    let m = monitor(&borrowed(&env));
    let up = m.wait_for("an upload", T, |l| l.contains("event=uploaded"));
    let key = field(&up, "key").unwrap();
    assert!(key.ends_with("-baseline.pprof"), "{up}");
    assert_eq!(s3.keys("dumps"), vec![key.to_string()]);
    assert_eq!(std::fs::read(s3.object_path("dumps", key)).unwrap(), REAL);
    assert_eq!(std::fs::read(spool.join(evidence[0])).unwrap(), kept);
    assert!(m.events("uploaded").len() == 1, "{:?}", m.lines());
}

/// Runs the monitor to its exit (it must refuse to start) and returns
/// (status, stderr).
fn refused_start(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = std::process::Command::new(monitor_bin());
    cmd.env_clear()
        .env("BINARY_NAME", "mm-no-such-target")
        .env("CHECK_INTERVAL", "100ms")
        .env("MEMORY_CHANGE_THRESHOLD", "64MiB")
        .env("INITIAL_DELAY", "0s")
        .env("DUMP_COOLDOWN", "1h")
        .env("POD_NAME", "test-pod")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("start memory-monitor");
    let until = std::time::Instant::now() + T;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            panic!("the monitor did not refuse to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_second_monitor_on_one_spool_exits_2_naming_the_spool_and_the_holder() {
    let dir = scratch("twomon");
    let spool = dir.join("spool");
    let first = monitor(&[
        ("BINARY_NAME", "mm-no-such-target"),
        ("SPOOL_DIR", spool.to_str().unwrap()),
    ]);
    first.wait_for("the first monitor up", T, |l| l.contains("event=start"));
    // The lock is taken right after start; wait for the file with our pid.
    let lock = spool.join(".lock");
    let holder = first.proc.pid().to_string();
    let until = std::time::Instant::now() + T;
    while std::fs::read_to_string(&lock).map_or(true, |t| t.trim() != holder) {
        assert!(
            std::time::Instant::now() < until,
            "no lock file with the holder's pid"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, err) = refused_start(&[("SPOOL_DIR", spool.to_str().unwrap())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("SPOOL_DIR {}", spool.display())),
        "{err}"
    );
    assert!(err.contains(&format!("(pid {holder})")), "{err}");
    assert!(err.contains("give each monitor its own SPOOL_DIR"), "{err}");
}

#[test]
fn a_symlinked_spool_dir_stops_the_start_with_exit_2() {
    let dir = scratch("linkspool");
    let real = dir.join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join(".tmp-theirs.pprof"), b"x").unwrap();
    let link = dir.join("spool");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (code, err) = refused_start(&[("SPOOL_DIR", link.to_str().unwrap())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("SPOOL_DIR") && err.contains("symbolic link"),
        "{err}"
    );
    assert!(real.join(".tmp-theirs.pprof").exists(), "nothing touched");
}

#[test]
fn dumps_under_another_prefix_are_left_in_place() {
    let s3 = S3Server::start(&["dumps"]);
    let dir = scratch("prefix");
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    // Two complete dumps as an earlier monitor left them: one under our
    // prefix (any pod: a new pod delivers its predecessor's), one not.
    for (stem, key) in [
        (
            "20240101T000000000Z-000001-7-spike",
            "faults/old-pod-2024-01-01-00-00-00-spike.pprof",
        ),
        (
            "20240101T000000000Z-000002-7-spike",
            "elsewhere/old-pod-2024-01-01-00-00-01-spike.pprof",
        ),
    ] {
        std::fs::write(spool.join(format!("{stem}.pprof")), REAL).unwrap();
        let meta = format!(
            r#"{{"key":"{key}","pod":"old-pod","target":"t","pid":7,"reason":"spike","unix_ms":1,"bytes":{}}}"#,
            REAL.len()
        );
        std::fs::write(spool.join(format!("{stem}.json")), meta).unwrap();
    }
    let sock = dir.join("none.sock");
    let mut env = s3_env(&s3, &spool, &sock, "mm-no-such-target");
    env.retain(|(k, _)| k != "HEAP_DUMP_SOCKET");
    let m = monitor(&borrowed(&env));
    m.wait_for("the delivery", T, |l| l.contains("event=uploaded"));
    let skipped = m.wait_for("the skip", T, |l| l.contains("event=spool-file-skipped"));
    assert!(skipped.contains("elsewhere/old-pod"), "{skipped}");
    assert_eq!(
        s3.keys("dumps"),
        vec!["faults/old-pod-2024-01-01-00-00-00-spike.pprof".to_string()]
    );
    assert!(spool
        .join("20240101T000000000Z-000002-7-spike.pprof")
        .exists());
    assert!(!spool
        .join("20240101T000000000Z-000001-7-spike.pprof")
        .exists());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(m.events("spool-file-skipped").len(), 1, "logged once");
}

#[test]
fn absurd_settings_stop_the_start_with_exit_2_naming_each() {
    let dir = scratch("absurd");
    let prefix = "p".repeat(1_100);
    let (code, err) = refused_start(&[
        ("SPOOL_DIR", dir.join("spool").to_str().unwrap()),
        ("INITIAL_DELAY", "10000000000000000000"),
        ("BASELINE_SETTLE", "10000000000000000000"),
        ("CHECK_INTERVAL", "1ns"),
        ("S3_BUCKET", "dumps"),
        ("S3_PATH_PREFIX", &prefix),
        ("DUMP_MAX_BYTES", "6GiB"),
    ]);
    assert_eq!(code, Some(2), "{err}");
    for var in [
        "INITIAL_DELAY: ",
        "BASELINE_SETTLE: ",
        "CHECK_INTERVAL: ",
        "S3_PATH_PREFIX: ",
        "DUMP_MAX_BYTES: ",
    ] {
        assert!(err.contains(var), "{var} not named in {err}");
    }
    assert!(!dir.join("spool").exists(), "nothing started");
}
