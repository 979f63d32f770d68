//! The heap-dump client and the spool as whole processes see them: a
//! process killed mid-dump, peak RSS while streaming 200 MB (measured in a
//! child copy of this test binary), and a real jemalloc-profiled target.

#[path = "common/capture_util.rs"]
mod capture_util;
mod common;

use std::fs;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, SystemTime};

use flate2::read::GzDecoder;

use memory_monitor::io::heapdump;
use memory_monitor::io::spool::Spool;

use capture_util::*;
use common::demo_target_bin;

const MIB: u64 = 1 << 20;

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
        let server = serve(&sock, |mut c| write_gzip_zeros(&mut c, TOTAL));
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
        assert!(got.bytes > TOTAL && got.bytes == p.bytes, "{got:?}");
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
    m.jemalloc = Some(stats);
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
    assert_eq!((stored.bytes, stored.jemalloc), (got.bytes, Some(stats)));
    assert_eq!(stored.sha256, Some(sha256_hex(&fs::read(&p.dump).unwrap())));
}
