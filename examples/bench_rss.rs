//! Idle RSS of the running monitor (PRODUCT §5: at most 2 MiB): a monitor
//! at 100 ms watching a demo target, after it has run a while; then a
//! monitor that has captured one dump and uploaded it to a local s3s-fs,
//! the same while after its first upload (the TLS/HTTP client and the
//! uploader thread are alive by then).
//!
//! Knobs (env): `BENCH_RSS_SECONDS` (10) of idle running before reading
//! `VmRSS`; `BENCH_RSS_UPLOAD_MIB` (50) size of the uploaded dump.
//! Binaries: `MEMORY_MONITOR_RELEASE`, `DEMO_TARGET` (`just bench` sets them);
//! needs `s3s-fs` (`just setup`).

#[path = "bench_util/mod.rs"]
mod bench_util;

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use bench_util::{DumpServer, Result, Table, Work};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_rss: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let secs: u64 = bench_util::knob("BENCH_RSS_SECONDS", 10)?;
    let mib: u64 = bench_util::knob("BENCH_RSS_UPLOAD_MIB", 50)?;
    let work = Work::new("bench-rss")?;
    let name = format!("mmrss{}", std::process::id());
    let target = bench_util::start_demo(&work, &name)?;
    let mut table = Table::default();

    println!("== idle monitor (100 ms) for {secs}s");
    let mut idle = bench_util::monitor(&work, "idle", &name, "100ms", &[])?;
    idle.wait_line(
        Duration::from_secs(30),
        bench_util::event_for("baseline", target.pid()),
    )?;
    thread::sleep(Duration::from_secs(secs));
    idle.alive()?;
    let (rss, hwm) = memory(idle.pid())?;
    drop(idle);
    println!("   VmRSS {rss} KiB, VmHWM {hwm} KiB");
    table.budget(
        format!("idle RSS of the monitor after {secs}s: VmRSS / VmHWM (budget <= 2 MiB)"),
        format!("{rss} KiB / {hwm} KiB"),
        rss <= 2048,
    );

    println!("== monitor after capturing and uploading a {mib} MiB dump to a local s3s-fs, then {secs}s idle");
    let dump = work.path("dump.bin");
    let bytes = bench_util::write_dump(&dump, mib)?;
    let server = DumpServer::start(work.path("hd.sock"), dump)?;
    let (_s3, port) = bench_util::s3s_fs(&work)?;
    let socket = server.socket.to_string_lossy().into_owned();
    let s3 = bench_util::s3_vars(port);
    let mut vars: Vec<(&str, &str)> = s3.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend([
        ("HEAP_DUMP_SOCKET", socket.as_str()),
        ("POD_NAME", "bench"),
        ("SPOOL_MAX_BYTES", "8GiB"),
        ("DUMP_MAX_BYTES", "4GiB"),
    ]);
    let mut up = bench_util::monitor(&work, "upload", &name, "100ms", &vars)?;
    up.wait_line(Duration::from_secs(600), bench_util::event("uploaded"))?;
    thread::sleep(Duration::from_secs(secs));
    up.alive()?;
    let (rss, hwm) = memory(up.pid())?;
    println!("   {bytes} bytes uploaded; VmRSS {rss} KiB, VmHWM {hwm} KiB");
    table.budget(
        format!(
            "idle RSS {secs}s after the first upload ({mib} MiB): VmRSS / VmHWM (budget <= 2 MiB)"
        ),
        format!("{rss} KiB / {hwm} KiB"),
        rss <= 2048,
    );
    table.print("idle RSS");
    Ok(())
}

fn memory(pid: u32) -> Result<(u64, u64)> {
    Ok((
        bench_util::status_kib(pid, "VmRSS")?,
        bench_util::status_kib(pid, "VmHWM")?,
    ))
}
