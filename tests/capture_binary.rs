//! Capture on the real binary: a 200 MB reply streams through without the
//! monitor's memory growing, and a silent socket never delays sampling.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(30);

/// A heap-dump server in a thread: `stats` gets `{}`; `dump` gets `dump_reply`.
fn server(path: &Path, dump_reply: fn(&mut std::os::unix::net::UnixStream)) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut line = String::new();
            let _ = BufReader::new(&conn).read_line(&mut line);
            match line.as_str() {
                "stats\n" => {
                    let _ = conn.write_all(b"{\"allocated\": 1}");
                }
                "dump\n" => dump_reply(&mut conn),
                _ => {}
            }
        }
    });
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Writes a gzip stream of `mib` MiB (stored blocks: a complete dump the
/// monitor accepts), pausing `pause` between MiBs; stops quietly when the
/// client goes away.
fn stream_mib(c: &mut std::os::unix::net::UnixStream, mib: usize, pause: Duration) {
    let mut gz = flate2::write::GzEncoder::new(c, flate2::Compression::none());
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..mib {
        if gz.write_all(&chunk).is_err() {
            return;
        }
        std::thread::sleep(pause);
    }
    let _ = gz.finish();
}

/// File names in a spool directory.
/// The spool's files, without the monitor's own `.lock`.
fn spool_names(spool: &Path) -> Vec<String> {
    std::fs::read_dir(spool)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect()
}

#[test]
fn a_200mb_dump_streams_through_the_shipped_binary_in_under_4mib() {
    let dir = scratch("cap200");
    let sock = dir.join("dump.sock");
    server(&sock, |c| stream_mib(c, 200, Duration::ZERO));
    let name = unique_name("mmcap", 12);
    let _t = start_target(
        &named_target(&dir, &name),
        &["--exit-after-secs", "60"],
        &[],
    );
    let spool = dir.join("spool");
    let m = monitor_cmd(
        std::process::Command::new(release_bin()),
        &[
            ("BINARY_NAME", &name),
            ("HEAP_DUMP_SOCKET", sock.to_str().unwrap()),
            ("SPOOL_DIR", spool.to_str().unwrap()),
        ],
    );
    let line = m.wait_for("dump-spooled", T, |l| l.contains("event=dump-spooled"));
    let bytes: u64 = field(&line, "bytes").unwrap().parse().unwrap();
    assert!(bytes > 200 * (1 << 20), "{line}");
    let file = field(&line, "file").unwrap();
    assert_eq!(std::fs::metadata(file).unwrap().len(), bytes);
    let hwm = vm_hwm_kib(m.proc.pid());
    eprintln!("shipped binary peak RSS after a 200 MB capture: {hwm} KiB");
    assert!(hwm < 4 * 1024, "peak RSS {hwm} KiB (budget 4 MiB)");
}

#[test]
fn a_silent_socket_times_out_while_sampling_stays_on_time() {
    let dir = scratch("silent");
    let sock = dir.join("silent.sock");
    // Accepts, reads the command, then says nothing until the client gives up.
    server(&sock, |c| {
        let mut sink = [0u8; 16];
        let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
        let _ = std::io::Read::read(c, &mut sink);
    });
    let name = unique_name("mmsil", 12);
    let _t = start_target(
        &named_target(&dir, &name),
        &["--exit-after-secs", "60"],
        &[],
    );
    let trace = dir.join("trace.csv");
    let m = monitor(&[
        ("BINARY_NAME", &name),
        ("HEAP_DUMP_SOCKET", sock.to_str().unwrap()),
        ("DUMP_READ_TIMEOUT", "2s"),
        ("RECORD_FILE", trace.to_str().unwrap()),
        ("SPOOL_DIR", dir.join("spool").to_str().unwrap()),
    ]);
    let failed = m.wait_for("dump timeout", T, |l| l.contains("event=dump-not-taken"));
    assert!(failed.contains("reason=baseline"), "{failed}");
    assert!(
        failed.to_lowercase().contains("timed out") || failed.contains("timeout"),
        "{failed}"
    );
    assert_eq!(
        spool_names(&dir.join("spool")),
        Vec::<String>::new(),
        "no file left behind"
    );
    // The 2 s the capture worker waited, the loop kept sampling every 100 ms.
    let csv = std::fs::read_to_string(&trace).unwrap();
    let times: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(times.last().unwrap() >= &2.0, "{csv}");
    let worst = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(
        worst < 0.5,
        "a tick gap of {worst} s during the silent dump"
    );
}

#[test]
fn sigkill_mid_dump_leaves_no_partial_file_under_a_final_name() {
    let dir = scratch("kill9");
    let sock = dir.join("slow.sock");
    // A dump that trickles: 80 MiB at 1 MiB per 50 ms, long enough to be killed in.
    server(&sock, |c| stream_mib(c, 80, Duration::from_millis(50)));
    let name = unique_name("mmkill", 12);
    let _t = start_target(
        &named_target(&dir, &name),
        &["--exit-after-secs", "60"],
        &[],
    );
    let spool = dir.join("spool");
    let env = [
        ("BINARY_NAME", name.as_str()),
        ("HEAP_DUMP_SOCKET", sock.to_str().unwrap()),
        ("SPOOL_DIR", spool.to_str().unwrap()),
    ];
    let mut m = monitor(&env);
    m.wait_for("baseline dump request", T, |l| {
        l.contains("event=baseline-dump")
    });
    // Wait until the temp file has real bytes in it, then kill without warning.
    let until = std::time::Instant::now() + T;
    let tmp_bytes = || -> u64 {
        std::fs::read_dir(&spool).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum()
        })
    };
    while tmp_bytes() < 3 << 20 {
        assert!(
            std::time::Instant::now() < until,
            "no partial capture to kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    m.proc.signal("KILL");
    m.proc.wait_timeout(Duration::from_secs(5)).expect("killed");
    let names = spool_names(&spool);
    assert!(
        names.iter().all(|n| n.starts_with(".tmp-")),
        "only temp files after SIGKILL: {names:?}"
    );
    // The next start clears the partial capture and spools a complete one.
    let m2 = monitor(&env);
    let line = m2.wait_for("a complete dump", T, |l| {
        l.contains("event=dump-spooled") || l.contains("event=dump-not-taken")
    });
    assert!(line.contains("event=dump-spooled"), "{line}");
    let names = spool_names(&spool);
    assert!(
        !names.iter().any(|n| n.starts_with(".tmp-")),
        "stale temp files removed: {names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".pprof")).count(),
        1,
        "{names:?}"
    );
}
