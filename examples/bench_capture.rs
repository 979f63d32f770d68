//! Peak RSS of the monitor while it captures a large heap-dump reply
//! (PRODUCT §5: at most 4 MiB, whatever the dump size), and its capture
//! throughput next to a plain copy of the same stream.
//!
//! A fake heap-dump server (a thread of this bench) serves a valid gzip file
//! of `BENCH_DUMP_MIB`; a monitor with `INITIAL_DELAY=0s` takes its baseline
//! dump from it into its spool. The capture time is the monitor's own, from
//! its `baseline-dump` line to its `dump-spooled` line (request to fsynced,
//! renamed spool file). The plain copy then asks the same server for the
//! same dump and copies it to a file through a 64 KiB buffer, like the
//! monitor, with and without the final fsync.
//!
//! Knobs (env): `BENCH_DUMP_MIB` (1024) size of the fake dump.
//! Binaries: `MEMORY_MONITOR_RELEASE`, `DEMO_TARGET` (`just bench` sets them).

#[path = "bench_util/mod.rs"]
mod bench_util;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bench_util::{DumpServer, Result, Table, Work};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_capture: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mib: u64 = bench_util::knob("BENCH_DUMP_MIB", 1024)?;
    let work = Work::new("bench-capture")?;
    let name = format!("mmcap{}", std::process::id());
    let dump = work.path("dump.bin");
    println!("== capture of a {mib} MiB reply through the heap-dump socket");
    let size = bench_util::write_dump(&dump, mib)?;
    let server = DumpServer::start(work.path("hd.sock"), dump)?;
    let _target = bench_util::start_demo(&work, &name)?;
    let socket = server.socket.to_string_lossy().into_owned();
    let vars = [
        ("HEAP_DUMP_SOCKET", socket.as_str()),
        ("SPOOL_MAX_BYTES", "8GiB"),
        ("DUMP_MAX_BYTES", "4GiB"),
    ];
    let mut mon = bench_util::monitor(&work, "capture", &name, "100ms", &vars)?;
    let done = mon.wait_line(Duration::from_secs(600), |l| {
        l.contains(" event=dump-spooled ") || l.contains(" event=dump-not-taken ")
    })?;
    if !done.contains(" event=dump-spooled ") {
        return Err(format!("the monitor did not spool the dump: {done}"));
    }
    let hwm = bench_util::status_kib(mon.pid(), "VmHWM")?;
    let rss = bench_util::status_kib(mon.pid(), "VmRSS")?;
    let requested = mon.wait_line(Duration::from_secs(1), bench_util::event("baseline-dump"))?;
    let ms = bench_util::ts_ms(&done)?.saturating_sub(bench_util::ts_ms(&requested)?);
    let spooled: u64 = bench_util::field(&done, "bytes")
        .and_then(|b| b.parse().ok())
        .ok_or_else(|| format!("no bytes= in {done}"))?;
    if spooled != size {
        return Err(format!("spooled {spooled} bytes of a {size}-byte dump"));
    }
    drop(mon);
    std::fs::remove_dir_all(work.path("spool-capture")).map_err(|e| format!("rm spool: {e}"))?;
    println!("   monitor: {spooled} bytes spooled in {ms} ms (request to fsynced commit); VmHWM {hwm} KiB, VmRSS {rss} KiB");

    let copy = work.path("copy.bin");
    let (copied, plain, synced) = plain_copy(&server.socket, &copy)?;
    std::fs::remove_file(&copy).map_err(|e| format!("rm copy: {e}"))?;
    println!(
        "   plain copy: {copied} bytes in {:.3}s, {:.3}s with fsync",
        plain.as_secs_f64(),
        synced.as_secs_f64()
    );

    let mut table = Table::default();
    table.budget(
        format!("monitor peak RSS capturing {mib} MiB: VmHWM (budget <= 4 MiB)"),
        format!("{hwm} KiB"),
        hwm <= 4096,
    );
    table.row(
        "capture throughput, monitor (request -> fsynced spool)",
        format!("{} ({ms} ms)", bench_util::mbps(spooled, ms as f64 / 1e3)),
    );
    table.row(
        "capture throughput, plain copy to a file (no fsync / fsync)",
        format!(
            "{} / {}",
            bench_util::mbps(copied, plain.as_secs_f64()),
            bench_util::mbps(copied, synced.as_secs_f64())
        ),
    );
    table.print("capture");
    Ok(())
}

/// Asks for a dump and copies the reply to `out` through a 64 KiB buffer;
/// returns the bytes, the time to the last write and the time to the fsync.
fn plain_copy(socket: &Path, out: &Path) -> Result<(u64, Duration, Duration)> {
    let start = Instant::now();
    let mut conn = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
    conn.write_all(b"dump\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut file = File::create(out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = conn.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])
            .map_err(|e| format!("write: {e}"))?;
        total += n as u64;
    }
    let plain = start.elapsed();
    file.sync_all().map_err(|e| format!("fsync: {e}"))?;
    Ok((total, plain, start.elapsed()))
}
