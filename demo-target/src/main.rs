//! `demo-target`: a jemalloc-profiled process that leaks or spikes on command
//! and serves the heap-dump socket, as the monitor's demo and test target.
//!
//! Socket (only when jemalloc profiling is enabled, e.g.
//! `MALLOC_CONF=prof:true,prof_active:true,lg_prof_sample:19`; `_RJEM_MALLOC_CONF`
//! is honoured by a re-exec, see `reexec_for_prefixed_conf`): path
//! `/tmp/heap_dump_<exe file name>.sock` or `--socket PATH`. One connection at
//! a time; the client sends one line:
//! - `dump\n`  → gzipped pprof protobuf (starts `1f 8b`), then close;
//!   a failed dump closes with an empty reply;
//! - `stats\n` → pretty JSON: `allocated`, `active`, `resident`, `mapped`,
//!   `retained`, `metadata` (bytes, after an epoch advance), then close;
//! - anything else, or nothing within 5 s → close with no reply.
//!
//! Memory (every page touched): `--base-mb N` (8) at start;
//! `--leak-mb-per-sec X` (0) steady growth in 100 ms steps, from
//! `--leak-after-secs S` (0); `--spike-mb N` (256) per spike: SIGUSR1 adds one,
//! SIGUSR2 frees all; `--spike-at-secs S` adds one at S, `--spike-hold-secs H`
//! frees it H later (default: held); `--exit-after-secs S` exits 0 at S.
//! SIGTERM/SIGINT exit 0 and remove the socket.
//!
//! Stdout gets one readiness line, `demo-target pid=<pid> socket=<path|none>`,
//! once the base block is allocated and the socket is listening.

mod load;
mod server;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const TICK: Duration = Duration::from_millis(100);
/// Minimum time between two "leaking" log lines.
const LEAK_LOG_EVERY: Duration = Duration::from_secs(10);
const MIB: f64 = 1024.0 * 1024.0;

const HELP: &str = "\
usage: demo-target [options]
  --socket PATH            serve the heap-dump socket here
                           (default /tmp/heap_dump_<exe file name>.sock)
  --base-mb N              MiB allocated at start (default 8)
  --leak-mb-per-sec X      steady leak rate, fractions allowed (default 0)
  --leak-after-secs S      start leaking after S seconds (default 0)
  --spike-mb N             MiB per spike (default 256); SIGUSR1 adds a spike,
                           SIGUSR2 frees all spikes
  --spike-at-secs S        add one spike automatically at S seconds
  --spike-hold-secs H      free that spike H seconds later (default: hold)
  --exit-after-secs S      exit 0 after S seconds
  --help                   this text
The socket exists only when jemalloc profiling is on, e.g.
  MALLOC_CONF=prof:true,prof_active:true,lg_prof_sample:19
Protocol: send `dump\\n` (gzipped pprof reply) or `stats\\n` (JSON reply).";

struct Args {
    socket: Option<PathBuf>,
    base_mb: usize,
    leak_mb_per_sec: f64,
    leak_after: Duration,
    spike_mb: usize,
    spike_at: Option<Duration>,
    spike_hold: Option<Duration>,
    exit_after: Option<Duration>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args {
        socket: None,
        base_mb: 8,
        leak_mb_per_sec: 0.0,
        leak_after: Duration::ZERO,
        spike_mb: 256,
        spike_at: None,
        spike_hold: None,
        exit_after: None,
    };
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = match inline.or_else(|| it.next()) {
            Some(v) => v,
            None => return Err(format!("{flag}: missing value (see --help)")),
        };
        match flag.as_str() {
            "--socket" => a.socket = Some(PathBuf::from(value)),
            "--base-mb" => a.base_mb = mib(&flag, &value)?,
            "--leak-mb-per-sec" => a.leak_mb_per_sec = number(&flag, &value)?,
            "--leak-after-secs" => a.leak_after = secs(&flag, &value)?,
            "--spike-mb" => a.spike_mb = mib(&flag, &value)?,
            "--spike-at-secs" => a.spike_at = Some(secs(&flag, &value)?),
            "--spike-hold-secs" => a.spike_hold = Some(secs(&flag, &value)?),
            "--exit-after-secs" => a.exit_after = Some(secs(&flag, &value)?),
            _ => return Err(format!("unknown option {flag:?} (see --help)")),
        }
    }
    if a.spike_hold.is_some() && a.spike_at.is_none() {
        return Err("--spike-hold-secs needs --spike-at-secs".to_string());
    }
    Ok(Some(a))
}

/// A finite, non-negative number (fractions allowed).
fn number(flag: &str, value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(x) if (0.0..=1e9).contains(&x) => Ok(x),
        _ => Err(format!("{flag}: {value:?} is not a number in 0..=1e9")),
    }
}

fn secs(flag: &str, value: &str) -> Result<Duration, String> {
    number(flag, value).map(Duration::from_secs_f64)
}

/// Whole MiB, bounded to 1 TiB so the byte count cannot overflow.
fn mib(flag: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n <= 1 << 20 => Ok(n),
        _ => Err(format!(
            "{flag}: {value:?} is not a whole MiB count in 0..=1048576"
        )),
    }
}

static SPIKE_REQUESTS: AtomicU32 = AtomicU32::new(0);
static RELEASE_REQUESTED: AtomicBool = AtomicBool::new(false);
static EXIT_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Signal handler: only touches lock-free atomics (async-signal-safe).
extern "C" fn on_signal(sig: libc::c_int) {
    match sig {
        libc::SIGUSR1 => {
            SPIKE_REQUESTS.fetch_add(1, Ordering::Relaxed);
        }
        libc::SIGUSR2 => RELEASE_REQUESTED.store(true, Ordering::Relaxed),
        _ => EXIT_REQUESTED.store(true, Ordering::Relaxed),
    }
}

fn install_signal_handlers() -> Result<(), String> {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGTERM, libc::SIGINT] {
        // SAFETY: `on_signal` is an `extern "C" fn(c_int)` that only does
        // atomic operations, which are async-signal-safe.
        let previous = unsafe { libc::signal(sig, handler) };
        if previous == libc::SIG_ERR {
            return Err(format!(
                "signal({sig}): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// This build's jemalloc is unprefixed, so it reads `MALLOC_CONF`, not the
/// prefixed build's `_RJEM_MALLOC_CONF`. jemalloc reads its options before
/// `main`, so to honour the prefixed name we re-exec ourselves (same pid)
/// with `MALLOC_CONF` set. Returns only if there is nothing to do.
fn reexec_for_prefixed_conf() -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let Some(conf) = std::env::var_os("_RJEM_MALLOC_CONF") else {
        return Ok(());
    };
    if std::env::var_os("MALLOC_CONF").is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut argv = std::env::args_os();
    let mut cmd = std::process::Command::new(&exe);
    if let Some(arg0) = argv.next() {
        cmd.arg0(arg0);
    }
    let err = cmd.args(argv).env("MALLOC_CONF", conf).exec();
    Err(format!("re-exec {} with MALLOC_CONF: {err}", exe.display()))
}

fn main() {
    if let Err(e) = reexec_for_prefixed_conf() {
        eprintln!("demo-target: {e}");
        std::process::exit(1);
    }
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{HELP}");
            return;
        }
        Err(e) => {
            eprintln!("demo-target: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("demo-target: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    install_signal_handlers()?;
    let mut load = load::Load::new(args.base_mb);
    let socket = start_server(args)?;
    let shown = socket
        .as_ref()
        .map_or("none".into(), |p| p.display().to_string());
    let mut out = std::io::stdout().lock();
    writeln!(out, "demo-target pid={} socket={shown}", std::process::id())
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    drop(out);
    main_loop(args, &mut load);
    if let Some(path) = &socket {
        if let Err(e) = std::fs::remove_file(path) {
            eprintln!("demo-target: remove socket {}: {e}", path.display());
        }
    }
    eprintln!("demo-target: exiting");
    Ok(())
}

/// Binds the socket and starts the server thread, if profiling is enabled.
fn start_server(args: &Args) -> Result<Option<PathBuf>, String> {
    if !server::profiling_enabled() {
        eprintln!(
            "demo-target: jemalloc profiling is not enabled (set \
             MALLOC_CONF=prof:true,prof_active:true); no heap-dump socket"
        );
        return Ok(None);
    }
    let path = match &args.socket {
        Some(p) => p.clone(),
        None => server::default_socket_path()?,
    };
    let listener = server::bind(&path)?;
    std::thread::Builder::new()
        .name("heap-dump-socket".into())
        .spawn(move || server::serve(listener))
        .map_err(|e| format!("spawn socket thread: {e}"))?;
    Ok(Some(path))
}

fn main_loop(args: &Args, load: &mut load::Load) {
    let start = Instant::now();
    let mut auto_spike_done = false;
    let mut auto_release_at: Option<Duration> = None;
    let mut last_leak_log: Option<Instant> = None;
    while !EXIT_REQUESTED.load(Ordering::Relaxed) {
        let now = start.elapsed();
        if args.exit_after.is_some_and(|s| now >= s) {
            break;
        }
        for _ in 0..SPIKE_REQUESTS.swap(0, Ordering::Relaxed) {
            spike(load, args.spike_mb, "SIGUSR1");
        }
        if RELEASE_REQUESTED.swap(false, Ordering::Relaxed) {
            release(load, "SIGUSR2");
        }
        if let Some(at) = args.spike_at.filter(|&at| !auto_spike_done && now >= at) {
            auto_spike_done = true;
            spike(load, args.spike_mb, "--spike-at-secs");
            auto_release_at = args.spike_hold.map(|h| at.saturating_add(h));
        }
        if auto_release_at.is_some_and(|t| now >= t) {
            auto_release_at = None;
            release(load, "--spike-hold-secs");
        }
        if args.leak_mb_per_sec > 0.0 && now > args.leak_after {
            let added = load.leak_to(args.leak_mb_per_sec, now - args.leak_after);
            if added > 0
                && load.leaked_bytes() >= 1 << 20
                && last_leak_log.is_none_or(|t| t.elapsed() >= LEAK_LOG_EVERY)
            {
                last_leak_log = Some(Instant::now());
                let mb = load.leaked_bytes() as f64 / MIB;
                eprintln!("demo-target: leaking, {mb:.1} MiB leaked so far");
            }
        }
        std::thread::sleep(TICK);
    }
}

fn spike(load: &mut load::Load, mb: usize, why: &str) {
    load.spike(mb);
    let held = load.spike_bytes() as f64 / MIB;
    eprintln!("demo-target: spike +{mb} MiB ({why}), spikes hold {held:.0} MiB");
}

fn release(load: &mut load::Load, why: &str) {
    let freed = load.release_spikes() as f64 / MIB;
    eprintln!("demo-target: released spikes, {freed:.0} MiB freed ({why})");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_parse_in_both_forms() {
        let a = parse(&[
            "--base-mb",
            "3",
            "--leak-mb-per-sec=0.5",
            "--spike-at-secs",
            "2",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.base_mb, 3);
        assert_eq!(a.leak_mb_per_sec, 0.5);
        assert_eq!(a.spike_at, Some(Duration::from_secs(2)));
        assert_eq!(a.spike_mb, 256);
        assert!(parse(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn bad_flags_are_named() {
        for (args, needle) in [
            (&["--base-mb", "-1"][..], "--base-mb"),
            (&["--leak-mb-per-sec", "NaN"][..], "--leak-mb-per-sec"),
            (&["--exit-after-secs"][..], "missing value"),
            (&["--frobnicate", "1"][..], "--frobnicate"),
            (&["--spike-hold-secs", "1"][..], "--spike-at-secs"),
        ] {
            let err = parse(args).err().unwrap();
            assert!(err.contains(needle), "{err}");
        }
    }
}
