//! Syscalls per steady-state tick: `strace -c` of the real monitor and of
//! `examples/minimal_loop`, both at 20 ms on one demo target, side by side.
//! A tick is one `pread64` of the status file, so every count is divided by
//! the `pread64` count. Needs `strace` (installed by `scripts/setup.sh`; this
//! bench never installs anything) and ptrace permission (root).
//!
//! Knobs (env): `BENCH_STRACE_SECONDS` (5) traced per process.
//! Binaries: `MEMORY_MONITOR_RELEASE`, `DEMO_TARGET` (`just bench` sets them).

#[path = "bench_util/mod.rs"]
mod bench_util;

use std::collections::BTreeMap;
use std::process::{Command, ExitCode};
use std::thread;
use std::time::Duration;

use bench_util::{Result, Table, Work};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_syscalls: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    bench_util::require_tool("strace", "run `just setup` or apt-get install strace")?;
    let secs: u64 = bench_util::knob("BENCH_STRACE_SECONDS", 5)?;
    let work = Work::new("bench-syscalls")?;
    let name = format!("mmsys{}", std::process::id());
    let target = bench_util::start_demo(&work, &name)?;
    let mut mon = bench_util::monitor(&work, "monitor", &name, "20ms", &[])?;
    let min = bench_util::minimal_loop(&work, "minimal", target.pid(), 20)?;
    mon.wait_line(
        Duration::from_secs(30),
        bench_util::event_for("baseline", target.pid()),
    )?;

    println!("== syscalls per tick: strace -c of the 20 ms monitor and minimal loop for {secs}s");
    let mut tracers = Vec::new();
    for (label, pid) in [("monitor", mon.pid()), ("minimal", min.pid())] {
        let out = work.path(&format!("strace-{label}.txt"));
        let mut cmd = Command::new("strace");
        cmd.args(["-c", "-f", "-p", &pid.to_string(), "-o"])
            .arg(&out);
        tracers.push((
            label,
            out,
            bench_util::spawn(&work, &format!("strace-{label}"), &mut cmd)?,
        ));
    }
    thread::sleep(Duration::from_secs(secs));
    let mut table = Table::default();
    for (label, out, mut tracer) in tracers {
        tracer.signal("INT")?;
        tracer.wait(Duration::from_secs(10))?;
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let (per_tick, ticks, list) = per_tick(&text).map_err(|e| {
            format!(
                "{label}: {e} (ptrace not permitted? run as root); strace said:\n{}",
                bench_util::tail(&tracer.log, 5)
            )
        })?;
        println!("   {label}: {per_tick:.2}/tick over {ticks} ticks:{list}");
        table.row(
            format!("syscalls/tick, {label} ({ticks} ticks)"),
            format!("{per_tick:.2} ({list} )"),
        );
    }
    mon.alive()?;
    table.print("syscalls per tick");
    Ok(())
}

/// From `strace -c` output: syscalls per tick (per `pread64`), the tick
/// count and each syscall's calls per tick.
fn per_tick(text: &str) -> Result<(f64, u64, String)> {
    let mut calls = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // "% time  seconds  usecs/call  calls  [errors]  syscall"
        let numeric = cols.first().is_some_and(|c| c.parse::<f64>().is_ok());
        if !numeric || cols.len() < 5 || cols.last() == Some(&"total") {
            continue;
        }
        if let (Some(n), Some(name)) = (cols[3].parse::<u64>().ok(), cols.last()) {
            calls.insert(name.to_string(), n);
        }
    }
    let ticks = calls.get("pread64").copied().unwrap_or(0);
    if ticks == 0 {
        return Err("no pread64 in the strace summary".into());
    }
    let total: u64 = calls.values().sum();
    let list: String = calls
        .iter()
        .map(|(name, n)| format!(" {name}={:.2}", *n as f64 / ticks as f64))
        .collect();
    Ok((total as f64 / ticks as f64, ticks, list))
}
