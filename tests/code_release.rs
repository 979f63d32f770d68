//! After a burst of delivery work the monitor hands its clean code pages
//! back to the kernel (`io::burst`, `sys::text`); it must go on working as
//! before: ticks, captures, uploads. On the binary we ship (a static-pie
//! whose RELRO was relocated at start-up and must never be dropped).
//! Needs `s3s-fs` (`just setup`) and the demo target.

mod common;
#[path = "common/s3_server.rs"]
mod s3_server;

use std::time::Duration;

use common::*;
use s3_server::{S3Server, ACCESS_KEY, SECRET_KEY};

const T: Duration = Duration::from_secs(60);

/// Index of the first log line after `from` that satisfies `pred`.
fn wait_after(m: &Monitor, what: &str, from: usize, pred: impl Fn(&str) -> bool) -> usize {
    let until = std::time::Instant::now() + T;
    loop {
        let lines = m.lines();
        if let Some(i) = lines.iter().skip(from).position(|l| pred(l)) {
            return from + i;
        }
        assert!(
            std::time::Instant::now() < until,
            "no {what} after line {from} within {T:?}; monitor log:\n{}",
            lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn event(name: &str) -> impl Fn(&str) -> bool + '_ {
    move |l: &str| l.contains(&format!(" event={name} "))
}

#[test]
fn the_monitor_keeps_working_after_releasing_its_code() {
    let s3 = S3Server::start(&["dumps"]);
    let dir = scratch("code-release");
    let name = unique_name("mmcr", 12);
    let exe = named_target(&dir, &name);
    let target = start_target(
        &exe,
        &["--base-mb", "16", "--spike-mb", "96"],
        &[(
            "MALLOC_CONF",
            "prof:true,prof_active:true,lg_prof_sample:19",
        )],
    );
    let endpoint = s3.endpoint();
    let spool = dir.join("spool");
    let env = [
        ("BINARY_NAME", name.as_str()),
        ("CHECK_INTERVAL", "100ms"),
        ("MEMORY_CHANGE_THRESHOLD", "1GiB"),
        ("BASELINE_SETTLE", "1s"),
        ("SPIKE_MULTIPLIER", "2"),
        ("SPOOL_DIR", spool.to_str().unwrap()),
        ("S3_BUCKET", "dumps"),
        ("S3_PATH_PREFIX", "cr/"),
        ("AWS_ENDPOINT_URL_S3", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let m = monitor_cmd(std::process::Command::new(release_bin()), &env);

    // The first burst: the baseline dump captured and uploaded, then released.
    let up = wait_after(&m, "baseline upload", 0, |l| {
        event("uploaded")(l) && l.contains("-baseline.pprof")
    });
    let rel = wait_after(
        &m,
        "code release after the upload",
        up,
        event("code-released"),
    );
    let kib: u64 = field(&m.lines()[rel], "kib").unwrap().parse().unwrap();
    assert!(
        kib >= 256,
        "released {kib} KiB: the code segment is not in it"
    );

    // Ticks still see the target; a spike is caught, captured, uploaded.
    target.signal("USR1");
    let spike = wait_after(&m, "spike upload after the release", rel, |l| {
        event("uploaded")(l) && l.contains("-spike.pprof")
    });
    let key = field(&m.lines()[spike], "key").unwrap().to_string();
    let body = std::fs::read(s3.object_path("dumps", &key)).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut raw)
        .expect("the second dump arrives whole");
    assert!(!raw.is_empty());
    // Released again once that burst is over; ticks go on and see the target go.
    let again = wait_after(&m, "second release", spike, event("code-released"));
    drop(target);
    wait_after(
        &m,
        "target-gone after the second release",
        again,
        event("target-gone"),
    );
    let mut proc = m.proc;
    proc.signal("TERM");
    let st = proc.wait_timeout(Duration::from_secs(5)).expect("stops");
    assert!(st.success(), "exit status {st}");
}
