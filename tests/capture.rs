//! The heap-dump client against real Unix sockets (well-behaved and hostile
//! servers), and the spool on a real directory: durability, naming, the size
//! cap, crash leftovers, and memory while streaming 200 MB.

#[path = "common/capture_util.rs"]
mod capture_util;
mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use memory_monitor::io::heapdump::{self, CaptureError, JemallocStats, Stage};
use memory_monitor::io::spool::{object_key, Spool, SpoolError};

use capture_util::*;
use common::demo_target_bin;

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
    m.gzip_ok = got.gzip_ok;
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
fn two_dumps_in_the_same_millisecond_get_distinct_names_and_keys() {
    let tmp = TempDir::new("same");
    let spool = Spool::open(&spool_cfg(&tmp.0, 100 * MIB)).unwrap();
    let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
    let key = object_key("p/", "pod-a", 1_700_000_000, "spike");
    let mut committed = Vec::new();
    for body in [&b"one"[..], b"two"] {
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
    assert_eq!(fs::read(&committed[0].dump).unwrap(), b"one");
    assert_eq!(fs::read(&committed[1].dump).unwrap(), b"two");
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
    w.write_all(&[0x1f; 3000]).unwrap();
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
    w.write_all(&vec![0u8; room as usize]).unwrap();
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

#[test]
fn open_cleans_crash_leftovers_and_keeps_final_dumps() {
    let tmp = TempDir::new("open");
    let spool = Spool::open(&spool_cfg(&tmp.0, 100 * MIB)).unwrap();
    let mut w = spool.begin(3, "baseline", SystemTime::now()).unwrap();
    w.write_all(b"kept").unwrap();
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
        w.write_all(reason.as_bytes()).unwrap();
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

/// A monitor killed with SIGKILL mid-capture leaves only a `.tmp-` file,
/// never a partial dump under a final name, and the next start removes it.
#[test]
fn sigkill_mid_dump_leaves_no_final_file() {
    if std::env::var("MM_CAPTURE_CHILD").as_deref() == Ok("partial") {
        let dir = std::env::var_os("MM_SPOOL").expect("MM_SPOOL");
        let spool = Spool::open(&spool_cfg(dir.as_ref(), 100 * MIB)).unwrap();
        let mut w = spool
            .begin(std::process::id(), "spike", SystemTime::now())
            .unwrap();
        w.write_all(&vec![0x1f; MIB as usize]).unwrap();
        w.flush().unwrap();
        println!("partial-written");
        thread::sleep(Duration::from_secs(60));
        panic!("the parent test should have killed this child");
    }
    let tmp = TempDir::new("kill");
    let mut child = spawn_child(
        "sigkill_mid_dump_leaves_no_final_file",
        "partial",
        &[("MM_SPOOL", &tmp.0)],
    );
    wait_for_line(&mut child, "partial-written");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left = names(&tmp.0);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].starts_with(".tmp-") && left[0].ends_with(".pprof"),
        "{left:?}"
    );
    let spool = Spool::open(&spool_cfg(&tmp.0, 100 * MIB)).unwrap();
    assert!(names(&tmp.0).is_empty());
    assert!(spool.pending().unwrap().is_empty());
    assert_eq!(spool.used_bytes(), 0);
}

/// Streaming 200 MB must not grow the process's peak RSS by 4 MiB. Measured
/// in a child copy of this binary so other tests' allocations do not count.
#[test]
fn streaming_200mb_keeps_peak_rss_flat() {
    const TOTAL: u64 = 200 * 1000 * 1000;
    if std::env::var("MM_CAPTURE_CHILD").as_deref() == Ok("memory") {
        let tmp = TempDir::new("mem");
        let sock = tmp.path("t.sock");
        let server = serve(&sock, |mut c| write_zeros(&mut c, TOTAL));
        let spool = Spool::open(&spool_cfg(&tmp.path("spool"), 1 << 40)).unwrap();
        let before = status_kib("VmHWM");
        let mut w = spool.begin(1, "spike", SystemTime::now()).unwrap();
        let got = heapdump::dump_to(
            &sock,
            &capture_cfg(1 << 40, Duration::from_secs(10)),
            &mut w,
        )
        .unwrap();
        let p = w.commit(meta("k", 1, "spike", 1)).unwrap();
        let after = status_kib("VmHWM");
        server.join().unwrap();
        assert_eq!((got.bytes, p.bytes), (TOTAL, TOTAL));
        println!("vmhwm-kib={before},{after}");
        return;
    }
    let mut child = spawn_child("streaming_200mb_keeps_peak_rss_flat", "memory", &[]);
    let line = wait_for_line(&mut child, "vmhwm-kib=");
    assert!(child.wait().unwrap().success(), "child failed");
    let (before, after) = line.split_once(',').expect("two numbers");
    let (before, after): (u64, u64) = (before.parse().unwrap(), after.parse().unwrap());
    assert!(
        after - before < 4096,
        "VmHWM grew from {before} kB to {after} kB"
    );
}

/// The real thing: a jemalloc-profiled demo target serves `stats` and `dump`;
/// the dump lands in the spool as a valid gzip stream with its metadata.
#[test]
fn a_real_jemalloc_target_dumps_into_the_spool() {
    let tmp = TempDir::new("demo");
    let sock = tmp.path("heap_dump_demo.sock");
    let mut target = Command::new(demo_target_bin())
        .args(["--base-mb", "16", "--exit-after-secs", "60", "--socket"])
        .arg(&sock)
        .env(
            "MALLOC_CONF",
            "prof:true,prof_active:true,lg_prof_sample:19",
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the demo target");
    let ready = wait_for_line(&mut target, "demo-target pid=");
    assert!(
        ready.contains(&format!("socket={}", sock.display())),
        "{ready}"
    );
    let cfg = capture_cfg(512 * MIB, Duration::from_secs(30));
    let stats = heapdump::stats(&sock, &cfg).unwrap();
    let spool = Spool::open(&spool_cfg(&tmp.path("spool"), 1 << 30)).unwrap();
    let mut w = spool
        .begin(target.id(), "baseline", SystemTime::now())
        .unwrap();
    let got = heapdump::dump_to(&sock, &cfg, &mut w).unwrap();
    let mut m = meta("dumps/k.pprof", target.id(), "baseline", 1);
    (m.gzip_ok, m.jemalloc) = (got.gzip_ok, Some(stats));
    let p = w.commit(m).unwrap();
    let _ = target.kill();
    let _ = target.wait();

    assert!(stats.allocated >= 16 * MIB, "{stats:?}");
    assert!(
        stats.resident >= stats.allocated && stats.mapped > 0 && stats.metadata > 0,
        "{stats:?}"
    );
    assert!(got.gzip_ok && got.bytes > 0);
    let mut pprof = Vec::new();
    GzDecoder::new(fs::File::open(&p.dump).unwrap())
        .read_to_end(&mut pprof)
        .unwrap();
    assert!(
        pprof.len() > 100,
        "decompressed profile is {} bytes",
        pprof.len()
    );
    let stored =
        memory_monitor::io::spool::Meta::from_json(&fs::read(&p.meta_path).unwrap()).unwrap();
    assert_eq!(
        (stored.bytes, stored.jemalloc, stored.gzip_ok),
        (got.bytes, Some(stats), true)
    );
}
