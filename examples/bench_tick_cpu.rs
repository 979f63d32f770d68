//! CPU per steady-state tick (PRODUCT §5: at most 1.5× a minimal loop): the
//! real monitor next to `examples/minimal_loop` (pread the same
//! `/proc/<pid>/status`, sleep the same interval), at 20 ms and 100 ms.
//!
//! A round starts `BENCH_COPIES` fresh monitors and as many fresh minimal
//! loops at each interval, all on one demo target that leaks slowly (so the
//! window changes), and once every monitor is in steady state (window full,
//! baseline set) takes the CPU time of each kind over the round, the mean of
//! its copies. On a VM the wake-up, not the read, dominates a tick, and what
//! it costs depends on what the CPU was doing when the timer fired: a process
//! that wakes an idle vCPU pays for it, and one process incarnation can pay
//! 3× another for the same work, so one copy per kind left the per-round
//! ratio anywhere from 0.5× to 3×. Fresh processes draw fresh phases, and
//! the figure is the median of the per-round ratios (the ratio of the totals
//! and the range are printed too).
//!
//! Three series: a quiet host; a crowd of idle processes (a healthy tick
//! never scans `/proc`); and every CPU kept busy by a spinning thread, where
//! each wake-up preempts another process (a fresh address space: the
//! monitor's own pages and cache lines are all misses), the hardest case
//! for the ratio. Then the bare cost of one pread.
//!
//! Knobs (env): `BENCH_ROUNDS` (16) × `BENCH_ROUND_SECONDS` (8) quiet rounds;
//! `BENCH_CROWD_ROUNDS` (6) × `BENCH_CROWD_ROUND_SECONDS` (8) rounds with
//! `BENCH_CROWD` (500) extra idle processes; `BENCH_BUSY_ROUNDS` (10) ×
//! `BENCH_BUSY_ROUND_SECONDS` (8) rounds with every CPU busy; `BENCH_PREADS`
//! (100000) preads timed back to back; `BENCH_COPIES` (3) processes of each
//! kind per round; `BENCH_CPU` (unset) pins the compared loops to one CPU.
//! Binaries: `MEMORY_MONITOR_RELEASE`, `DEMO_TARGET` (`just bench` sets them).

#[path = "bench_util/mod.rs"]
mod bench_util;

use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bench_util::{Proc, Result, Table, Work};

/// One round's CPU time, ns: monitor and minimal loop at 20 ms, then at 100 ms.
struct Round {
    wall_ns: f64,
    cpu: [f64; 4],
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_tick_cpu: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let rounds: u32 = bench_util::knob("BENCH_ROUNDS", 16)?;
    let secs: u64 = bench_util::knob("BENCH_ROUND_SECONDS", 8)?;
    let crowd_rounds: u32 = bench_util::knob("BENCH_CROWD_ROUNDS", 6)?;
    let crowd_secs: u64 = bench_util::knob("BENCH_CROWD_ROUND_SECONDS", 8)?;
    let crowd_size: usize = bench_util::knob("BENCH_CROWD", 500)?;
    let busy_rounds: u32 = bench_util::knob("BENCH_BUSY_ROUNDS", 10)?;
    let busy_secs: u64 = bench_util::knob("BENCH_BUSY_ROUND_SECONDS", 8)?;
    let preads: u64 = bench_util::knob("BENCH_PREADS", 100_000)?;
    let copies: usize = bench_util::knob::<usize>("BENCH_COPIES", 3)?.max(1);
    let work = Work::new("bench-tick-cpu")?;
    let target_name = format!("mmcpu{}", std::process::id());
    // A slow leak (100 ms steps): RssAnon changes every few ticks and never
    // returns to a value the window drops, so every tick pays for the
    // window's selection, as with a busy service (a steady target would
    // let the monitor reuse its percentiles).
    let target = bench_util::start_demo_with(&work, &target_name, &["--leak-mb-per-sec", "0.1"])?;
    let mut table = Table::default();
    let series = |label: &str, n: u32, secs: u64| {
        (1..=n)
            .map(|i| round(&work, &target, &target_name, (label, i, secs, copies)))
            .collect::<Result<Vec<_>>>()
    };

    let before = process_count();
    println!("== {rounds} rounds of {secs}s: monitor and minimal loop side by side at 20 ms and 100 ms ({before} processes)");
    summarize(&mut table, &series("quiet", rounds, secs)?, "", copies);

    println!(
        "== one bare pread of /proc/{}/status ({preads} in a tight loop)",
        target.pid()
    );
    let out = Command::new(bench_util::sibling("minimal_loop")?)
        .args([
            "--pread-cost",
            &target.pid().to_string(),
            &preads.to_string(),
        ])
        .output()
        .map_err(|e| format!("minimal_loop --pread-cost: {e}"))?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    println!("   {line}");
    let ns: f64 = number(&line, "ns_per_pread")?;
    let bytes = bench_util::field(&line, "bytes").unwrap_or("?");
    table.row(
        format!("bare pread of /proc/<pid>/status ({bytes} bytes)"),
        format!("{:.2} us", ns / 1e3),
    );

    println!("== starting {crowd_size} idle processes");
    let mut crowd = Vec::with_capacity(crowd_size);
    for i in 0..crowd_size {
        crowd.push(bench_util::spawn(
            &work,
            &format!("idle{i}"),
            Command::new("sleep").arg("3600"),
        )?);
    }
    let crowded = process_count();
    println!("== {crowd_rounds} rounds of {crowd_secs}s with {crowded} processes on the host");
    let busy = series("crowd", crowd_rounds, crowd_secs)?;
    drop(crowd);
    summarize(
        &mut table,
        &busy,
        &format!(", +{crowd_size} idle procs"),
        copies,
    );
    table.row(
        "  processes on the host: first rounds / crowded rounds",
        format!("{before} / {crowded}"),
    );

    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    println!("== {busy_rounds} rounds of {busy_secs}s with all {cpus} CPUs kept busy by spinning threads");
    let spinning = Spinners::start(cpus);
    let loaded = series("busy", busy_rounds, busy_secs);
    drop(spinning);
    summarize(&mut table, &loaded?, &format!(", {cpus} CPUs busy"), copies);

    table.print("tick CPU: monitor vs minimal loop");
    println!("CPU ratios: median over rounds of fresh monitors and minimal loops ({copies} of each) run side by side; on a VM the");
    println!("wake-up, not the read, dominates a tick and its cost varies per process incarnation (see the range);");
    println!("with every CPU busy each wake-up preempts another process, and the monitor's own footprint shows.");
    Ok(())
}

/// Round `n` of the `label` series: `copies` fresh processes of each kind
/// side by side (their phases and CPUs differ, and their sum is steadier
/// than any one of them); the CPU time of each kind is the mean of its copies.
fn round(
    work: &Work,
    target: &Proc,
    name: &str,
    (label, n, secs, copies): (&str, u32, u64, usize),
) -> Result<Round> {
    let pid = target.pid();
    let id = format!("{label}{n}");
    // Kinds: 0 monitor @20 ms, 1 minimal @20 ms, 2 monitor @100 ms, 3 minimal @100 ms.
    let mut procs: Vec<(usize, Proc)> = Vec::with_capacity(4 * copies);
    for c in 0..copies {
        procs.push((
            0,
            bench_util::monitor(work, &format!("mon20-{id}-{c}"), name, "20ms", &[])?,
        ));
        procs.push((
            1,
            bench_util::minimal_loop(work, &format!("min20-{id}-{c}"), pid, 20)?,
        ));
        procs.push((
            2,
            bench_util::monitor(work, &format!("mon100-{id}-{c}"), name, "100ms", &[])?,
        ));
        procs.push((
            3,
            bench_util::minimal_loop(work, &format!("min100-{id}-{c}"), pid, 100)?,
        ));
    }
    for (kind, p) in &mut procs {
        if *kind % 2 == 0 {
            p.wait_line(
                Duration::from_secs(30),
                bench_util::event_for("baseline", pid),
            )?;
        }
    }
    let sample = |procs: &[(usize, Proc)]| -> Result<(Instant, [u64; 4])> {
        let mut cpu = [0; 4];
        for (kind, p) in procs {
            cpu[*kind] += bench_util::cpu_ns(p.pid())?;
        }
        Ok((Instant::now(), cpu))
    };
    let (t0, c0) = sample(&procs)?;
    thread::sleep(Duration::from_secs(secs));
    let (t1, c1) = sample(&procs)?;
    for (_, p) in &mut procs {
        p.alive()?;
    }
    let wall_ns = (t1 - t0).as_nanos() as f64;
    let mut cpu = [0.0; 4];
    for i in 0..4 {
        cpu[i] = (c1[i] - c0[i]) as f64 / copies as f64;
    }
    let per_tick = |i: usize, ms: f64| cpu[i] * ms * 1e6 / wall_ns / 1e3;
    println!(
        "   round {n}: 20 ms {:.1} vs {:.1} us/tick, 100 ms {:.1} vs {:.1} us/tick (monitor vs minimal, mean of {copies})",
        per_tick(0, 20.0),
        per_tick(1, 20.0),
        per_tick(2, 100.0),
        per_tick(3, 100.0)
    );
    Ok(Round { wall_ns, cpu })
}

fn summarize(table: &mut Table, rounds: &[Round], suffix: &str, copies: usize) {
    let wall: f64 = rounds.iter().map(|r| r.wall_ns).sum();
    for (at, (m, l)) in [(20.0, (0, 1)), (100.0, (2, 3))] {
        let ticks = (wall / (at * 1e6)).floor().max(1.0);
        let total = |i: usize| rounds.iter().map(|r| r.cpu[i]).sum::<f64>();
        let mut ratios: Vec<f64> = rounds
            .iter()
            .map(|r| r.cpu[m] / r.cpu[l].max(1.0))
            .collect();
        let median = bench_util::median(&mut ratios);
        let (lo, hi) = (
            ratios.first().copied().unwrap_or(0.0),
            ratios.last().copied().unwrap_or(0.0),
        );
        table.row(
            format!("CPU/tick @{at}ms, monitor vs minimal loop{suffix}"),
            format!(
                "{:.1} us vs {:.1} us ({ticks} ticks x {copies} of each in {} rounds)",
                total(m) / ticks / 1e3,
                total(l) / ticks / 1e3,
                rounds.len()
            ),
        );
        table.budget(
            format!("  monitor/minimal @{at}ms{suffix}, median (budget <= 1.5x)"),
            format!(
                "{median:.2}x (rounds {lo:.2}x..{hi:.2}x, totals {:.2}x)",
                total(m) / total(l).max(1.0)
            ),
            median <= 1.5,
        );
    }
}

/// One thread spinning per CPU until dropped (the bench's own sampling
/// competes with them too, as any process on a busy host would).
struct Spinners {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Spinners {
    fn start(n: usize) -> Spinners {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                // Plain arithmetic, no `spin_loop` hint: a PAUSE loop makes
                // the hypervisor deschedule the vCPU (pause-loop exiting),
                // which is an idle CPU again.
                thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                })
            })
            .collect();
        Spinners { stop, threads }
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn number(line: &str, key: &str) -> Result<f64> {
    bench_util::field(line, key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {key}= in {line:?}"))
}

fn process_count() -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count()
        })
        .unwrap_or(0)
}
