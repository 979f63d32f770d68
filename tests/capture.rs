//! The heap-dump client against real Unix sockets (well-behaved and hostile
//! servers), and the spool on a real directory: naming and the size cap.
//! Whole-process cases (SIGKILL mid-dump, peak RSS, a real jemalloc target)
//! are in capture_process.rs.

#[path = "common/capture_util.rs"]
mod capture_util;
mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use memory_monitor::io::heapdump::{self, CaptureError, JemallocStats, Stage};
use memory_monitor::io::spool::{object_key, Spool, SpoolError};

use capture_util::*;

const MIB: u64 = 1 << 20;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_reply_lands_in_the_spool_with_its_metadata() {
    let tmp = TempDir::new("gzip");
    let sock = tmp.path("t.sock");
    let profile: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
    let body = gzip(&profile);
    let reply = body.clone();
    let server = serve(&sock, move |mut c| {
        for piece in reply.chunks(1000) {
            c.write_all(piece).unwrap();
        }
    });
    let spool = Spool::open(&spool_cfg(&tmp.path("spool"), 100 * MIB)).unwrap();
    let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
    let w = spool.begin(4242, "spike", now).unwrap();
    let mut w = w;
    let got = heapdump::dump_to(
        &sock,
        &capture_cfg(10 * MIB, Duration::from_secs(5)),
        &mut w,
    )
    .unwrap();
    assert_eq!(got.bytes, body.len() as u64);
    assert!(got.gzip_ok);
    let key = object_key("dumps/", "pod-a", 1_700_000_000, "spike");
    let mut m = meta(&key, 4242, "spike", 1_700_000_000_250);
    m.jemalloc = Some(JemallocStats {
        allocated: 7,
        ..Default::default()
    });
    let p = w.commit(m.clone()).unwrap();
    assert_eq!(server.join().unwrap(), b"dump\n");

    assert_eq!(mode(&tmp.path("spool")), 0o700);
    assert_eq!(mode(&p.dump), 0o600);
    assert_eq!(mode(&p.meta_path), 0o600);
    let stem = "20231114T221320250Z";
    let files = names(&tmp.path("spool"));
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.starts_with(stem) && f.contains("-4242-spike.")),
        "{files:?}"
    );
    let on_disk = fs::read(&p.dump).unwrap();
    assert_eq!(&on_disk[..2], &[0x1f, 0x8b]);
    let mut unzipped = Vec::new();
    GzDecoder::new(&on_disk[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, profile);

    m.bytes = body.len() as u64;
    m.sha256 = Some(sha256_hex(&body));
    let stored =
        memory_monitor::io::spool::Meta::from_json(&fs::read(&p.meta_path).unwrap()).unwrap();
    assert_eq!(stored, m);
    assert_eq!(p.meta, m);
    assert_eq!(spool.pending().unwrap(), vec![p]);
    assert!(spool.used_bytes() > body.len() as u64);
}

#[test]
fn a_reply_without_gzip_magic_is_kept_but_flagged() {
    let tmp = TempDir::new("nogzip");
    let sock = tmp.path("t.sock");
    let server = serve(&sock, |mut c| c.write_all(b"not a profile").unwrap());
    let got = heapdump::dump_to(
        &sock,
        &capture_cfg(MIB, Duration::from_secs(5)),
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!((got.bytes, got.gzip_ok), (13, false));
    server.join().unwrap();
}

#[test]
fn a_silent_server_times_out_after_the_read_timeout() {
    let tmp = TempDir::new("silent");
    let sock = tmp.path("t.sock");
    let server = serve(&sock, wait_for_close);
    let spool = Spool::open(&spool_cfg(&tmp.path("spool"), 100 * MIB)).unwrap();
    let mut w = spool.begin(1, "spike", SystemTime::now()).unwrap();
    let started = Instant::now();
    let err = heapdump::dump_to(&sock, &capture_cfg(MIB, Duration::from_millis(300)), &mut w)
        .unwrap_err();
    let took = started.elapsed();
    w.abort();
    assert!(
        matches!(
            err,
            CaptureError::Timeout {
                stage: Stage::Idle,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("waiting for data: timed out after 300 ms"),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(3000),
        "{took:?}"
    );
    assert_eq!(server.join().unwrap(), b"dump\n");
    assert!(names(&tmp.path("spool")).is_empty());
    assert_eq!(spool.used_bytes(), 0);
}

#[test]
fn an_endless_reply_stops_at_the_cap_and_leaves_no_file() {
    let tmp = TempDir::new("endless");
    let sock = tmp.path("t.sock");
    let server = serve(&sock, |mut c| write_zeros(&mut c, u64::MAX));
    let spool = Spool::open(&spool_cfg(&tmp.path("spool"), 100 * MIB)).unwrap();
    let mut w = spool.begin(1, "spike", SystemTime::now()).unwrap();
    let err =
        heapdump::dump_to(&sock, &capture_cfg(MIB, Duration::from_secs(5)), &mut w).unwrap_err();
    assert!(
        matches!(err, CaptureError::TooLarge { max_bytes, .. } if max_bytes == MIB),
        "{err}"
    );
    assert!(w.written() <= MIB);
    w.abort();
    server.join().unwrap();
    assert!(names(&tmp.path("spool")).is_empty());
    assert_eq!(spool.used_bytes(), 0);
}

#[test]
fn an_immediate_close_is_an_empty_reply_and_leaves_no_file() {
    let tmp = TempDir::new("empty");
    let sock = tmp.path("t.sock");
    let server = serve(&sock, drop);
    let spool = Spool::open(&spool_cfg(&tmp.path("spool"), 100 * MIB)).unwrap();
    let mut w = spool.begin(1, "baseline", SystemTime::now()).unwrap();
    let err =
        heapdump::dump_to(&sock, &capture_cfg(MIB, Duration::from_secs(5)), &mut w).unwrap_err();
    drop(w); // same as abort
    assert!(matches!(err, CaptureError::Empty), "{err}");
    server.join().unwrap();
    assert!(names(&tmp.path("spool")).is_empty());
}

#[test]
fn no_socket_means_profiling_is_not_enabled() {
    let tmp = TempDir::new("nosock");
    let sock = tmp.path("heap_dump_svc.sock");
    let cfg = capture_cfg(MIB, Duration::from_secs(1));
    let err = heapdump::dump_to(&sock, &cfg, &mut Vec::new()).unwrap_err();
    let expected = format!(
        "heap profiling not enabled in the target (no socket at {})",
        sock.display()
    );
    assert_eq!(err.to_string(), expected);
    assert!(matches!(heapdump::stats(&sock, &cfg), Err(CaptureError::NoSocket(p)) if p == sock));
}

#[test]
fn a_stale_socket_file_is_a_connect_error() {
    let tmp = TempDir::new("stale");
    let sock = tmp.path("t.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap()); // file stays, nobody listens
    let err = heapdump::dump_to(
        &sock,
        &capture_cfg(MIB, Duration::from_secs(1)),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, CaptureError::Connect { .. }), "{err}");
    assert!(
        err.to_string().contains("connect: Connection refused"),
        "{err}"
    );
}

#[test]
fn a_busy_server_with_a_full_backlog_times_out_on_connect() {
    let tmp = TempDir::new("backlog");
    let sock = tmp.path("t.sock");
    // std's listener always uses the kernel's maximum backlog; python's
    // listen(0) leaves room for one queued client and never accepts it.
    let script = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(0)\nprint('ready',flush=True)\nsys.stdin.read()\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(&sock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test: apt-get install python3");
    let mut ready = [0u8; 6];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut ready)
        .unwrap();
    let _queued = UnixStream::connect(&sock).unwrap();
    let mut cfg = capture_cfg(MIB, Duration::from_secs(5));
    cfg.connect_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = heapdump::dump_to(&sock, &cfg, &mut Vec::new()).unwrap_err();
    let took = started.elapsed();
    drop(child.stdin.take());
    child.wait().unwrap();
    assert!(
        matches!(
            err,
            CaptureError::Timeout {
                stage: Stage::Connect,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(3000),
        "{took:?}"
    );
}

#[test]
fn stats_are_parsed_and_bounded() {
    let tmp = TempDir::new("stats");
    let cfg = capture_cfg(MIB, Duration::from_secs(5));
    let sock = tmp.path("a.sock");
    let reply = "{\n  \"allocated\": 1000,\n  \"active\": 2000,\n  \"resident\": 3000,\n  \"mapped\": 4000,\n  \"retained\": 5000,\n  \"metadata\": 600\n}\n";
    let server = serve(&sock, move |mut c| c.write_all(reply.as_bytes()).unwrap());
    let stats = heapdump::stats(&sock, &cfg).unwrap();
    assert_eq!(server.join().unwrap(), b"stats\n");
    let expected = JemallocStats {
        allocated: 1000,
        active: 2000,
        resident: 3000,
        mapped: 4000,
        retained: 5000,
        metadata: 600,
    };
    assert_eq!(stats, expected);

    // A server that does not know the command closes without a reply.
    let sock = tmp.path("b.sock");
    let server = serve(&sock, drop);
    assert!(matches!(
        heapdump::stats(&sock, &cfg),
        Err(CaptureError::Empty)
    ));
    server.join().unwrap();

    let sock = tmp.path("c.sock");
    let server = serve(&sock, |mut c| write_zeros(&mut c, u64::MAX));
    let err = heapdump::stats(&sock, &cfg).unwrap_err();
    assert!(
        matches!(
            err,
            CaptureError::TooLarge {
                max_bytes: 65536,
                ..
            }
        ),
        "{err}"
    );
    server.join().unwrap();
}

#[test]
fn a_capture_larger_than_the_spool_room_is_dropped() {
    let tmp = TempDir::new("room");
    let sock = tmp.path("t.sock");
    let server = serve(&sock, |mut c| write_zeros(&mut c, 4 * MIB));
    let spool = Spool::open(&spool_cfg(&tmp.path("spool"), MIB)).unwrap();
    let mut w = spool.begin(1, "spike", SystemTime::now()).unwrap();
    let err = heapdump::dump_to(
        &sock,
        &capture_cfg(100 * MIB, Duration::from_secs(5)),
        &mut w,
    )
    .unwrap_err();
    w.abort();
    server.join().unwrap();
    let CaptureError::Spool(io) = &err else {
        panic!("expected a spool error, got {err}")
    };
    assert!(matches!(
        io.get_ref().and_then(|e| e.downcast_ref()),
        Some(SpoolError::Full { .. })
    ));
    assert!(
        err.to_string()
            .starts_with("heap dump: writing the spool file: spool full: "),
        "{err}"
    );
    assert!(names(&tmp.path("spool")).is_empty());
    assert_eq!(spool.used_bytes(), 0);
}
