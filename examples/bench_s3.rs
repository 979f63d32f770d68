//! S3 upload of a large dump to a local s3s-fs (real SigV4 checks), next to
//! boto3's `put_object` of the same file to the same server; and the
//! monitor's peak RSS meanwhile (PRODUCT §5: at most 4 MiB).
//!
//! A monitor with S3 settings takes a baseline dump of `BENCH_DUMP_MIB` from
//! a fake heap-dump server (a thread of this bench) and uploads it. The
//! upload time is the monitor's own, from its `dump-spooled` line to its
//! `uploaded` line (the signed, streamed PUT; the spool took the SHA-256
//! while the dump streamed in). The
//! object is compared with the dump byte for byte. Then `python3` + boto3
//! (brought by moto, `just setup`) puts the same file with one signed PUT.
//!
//! Knobs (env): `BENCH_DUMP_MIB` (1024) size of the dump.
//! Binaries: `MEMORY_MONITOR_RELEASE`, `DEMO_TARGET` (`just bench` sets them);
//! needs `s3s-fs` and `python3` with boto3.

#[path = "bench_util/mod.rs"]
mod bench_util;

use std::process::{Command, ExitCode};
use std::time::Duration;

use bench_util::{DumpServer, Result, Table, Work};

/// Puts argv[2] as `bench/boto.pprof`; prints the seconds the call took.
const BOTO3: &str = r#"
import sys, time, boto3
from botocore.config import Config
port, path, key, secret, bucket = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id=key, aws_secret_access_key=secret,
                  config=Config(s3={"addressing_style": "path"}))
t0 = time.monotonic()
with open(path, "rb") as f:
    s3.put_object(Bucket=bucket, Key="bench/boto.pprof", Body=f)
print(f"{time.monotonic() - t0:.3f}")
"#;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_s3: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mib: u64 = bench_util::knob("BENCH_DUMP_MIB", 1024)?;
    bench_util::require_tool("python3", "apt-get install python3")?;
    let has_boto3 = Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_boto3 {
        return Err("boto3 missing: run `just setup` (moto brings it)".into());
    }
    let work = Work::new("bench-s3")?;
    let name = format!("mms3{}", std::process::id());
    println!("== s3 upload of a {mib} MiB dump to a local s3s-fs");
    let dump = work.path("dump.bin");
    let size = bench_util::write_dump(&dump, mib)?;
    let server = DumpServer::start(work.path("hd.sock"), dump.clone())?;
    let (_s3, port) = bench_util::s3s_fs(&work)?;
    let _target = bench_util::start_demo(&work, &name)?;
    let socket = server.socket.to_string_lossy().into_owned();
    let s3 = bench_util::s3_vars(port);
    let mut vars: Vec<(&str, &str)> = s3.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend([
        ("HEAP_DUMP_SOCKET", socket.as_str()),
        ("POD_NAME", "bench"),
        ("SPOOL_MAX_BYTES", "8GiB"),
        ("DUMP_MAX_BYTES", "4GiB"),
    ]);
    let mut mon = bench_util::monitor(&work, "upload", &name, "100ms", &vars)?;
    let uploaded = mon.wait_line(Duration::from_secs(900), bench_util::event("uploaded"))?;
    let hwm = bench_util::status_kib(mon.pid(), "VmHWM")?;
    let spooled = mon.wait_line(Duration::from_secs(1), bench_util::event("dump-spooled"))?;
    drop(mon);
    let ms = bench_util::ts_ms(&uploaded)?.saturating_sub(bench_util::ts_ms(&spooled)?);
    let objects: Vec<_> = bench_util::files_under(&work.path("s3root").join(bench_util::S3_BUCKET))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pprof"))
        .collect();
    let [object] = objects.as_slice() else {
        return Err(format!(
            "want one uploaded .pprof object, found {objects:?}"
        ));
    };
    if !bench_util::same_bytes(&dump, object)? {
        return Err(format!(
            "uploaded object {} differs from the dump",
            object.display()
        ));
    }
    std::fs::remove_file(object).map_err(|e| format!("rm object: {e}"))?;
    println!("   monitor: {size} bytes in {ms} ms (spooled to uploaded: the signed, streamed PUT), VmHWM {hwm} KiB");

    let out = Command::new("python3")
        .args(["-c", BOTO3, &port.to_string()])
        .arg(&dump)
        .args([
            bench_util::S3_KEY,
            bench_util::S3_SECRET,
            bench_util::S3_BUCKET,
        ])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "boto3 put_object failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let boto: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("boto3 timing: {e}"))?;
    println!("   boto3 put_object: {boto:.3}s");

    let mut table = Table::default();
    table.budget(
        format!("monitor peak RSS capturing + uploading {mib} MiB to S3: VmHWM (budget <= 4 MiB)"),
        format!("{hwm} KiB"),
        hwm <= 4096,
    );
    table.row(
        "s3 upload throughput, monitor (spooled -> uploaded)",
        format!(
            "{} ({:.3} s)",
            bench_util::mbps(size, ms as f64 / 1e3),
            ms as f64 / 1e3
        ),
    );
    table.row(
        "s3 upload throughput, boto3 put_object of the same file",
        format!("{} ({boto:.3} s)", bench_util::mbps(size, boto)),
    );
    table.print("s3 upload");
    Ok(())
}
