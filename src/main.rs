//! argv/env -> Config -> run. The only place that exits.

use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memory_monitor::capture::Done;
use memory_monitor::config::{self, Command, Config, ConfigError, SETTINGS};
use memory_monitor::core::detectors::DetectParams;
use memory_monitor::core::event::CaptureOutcome;
use memory_monitor::core::replay::{JsonLine, Replayer, TextLine};
use memory_monitor::io::s3::{self, credentials, STOP_GRACE};
use memory_monitor::io::{log, spool::Spool};
use memory_monitor::run::{Monitor, Telling};
use memory_monitor::sys::signal;

const USAGE: &str = "memory-monitor — watch a process's memory, catch leaks and spikes, capture jemalloc heap profiles

usage:
  memory-monitor [run] [--flags]       watch the target (the default command)
  memory-monitor check-config          print the effective configuration (secrets redacted)
  memory-monitor inspect <pid|name> [--format text|json]
                                       memory breakdown of a process (and its cgroup) with a verdict
  memory-monitor replay FILE [--format text|json]
                                       run the detector over a CSV trace `seconds,bytes`
  memory-monitor --help | --version

Every setting is an environment variable and a flag (the flag wins):";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = |k: &str| std::env::var(k).ok();
    let (command, src, mut errors) = config::parse_args(&args, &env);
    match command {
        Command::Help if errors.is_empty() => {
            print_help();
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("memory-monitor {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Replay { file, json } => {
            let detect = config::detect_config(&src);
            errors.extend(detect.as_ref().err().cloned().unwrap_or_default());
            match detect {
                Ok(d) if errors.is_empty() => {
                    let mut p = d.detect_params();
                    // MEMORY_LIMIT, for `%/h` leak rates and time-to-limit.
                    p.trend.memory_limit = config::explain_config(&src).memory_limit;
                    replay(&file, p, json)
                }
                _ => config_failed(&errors),
            }
        }
        Command::Inspect { target, json } => {
            // Only the socket and cgroup settings matter here; defaults otherwise.
            let capture = config::capture_config(&src);
            let settings = config::explain_config(&src);
            match memory_monitor::inspect::report(&target, &capture, &settings, json) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("memory-monitor: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Run | Command::CheckConfig | Command::Help => {
            let parsed = config::parse(&src, &hostname());
            errors.extend(parsed.as_ref().err().cloned().unwrap_or_default());
            let config = match parsed {
                Ok(c) if errors.is_empty() => c,
                _ => return config_failed(&errors),
            };
            if command == Command::CheckConfig {
                print!("{}", config::describe(&src, &config));
                return ExitCode::SUCCESS;
            }
            log::set_format(config.log_format);
            if let Err(e) = signal::install() {
                eprintln!("memory-monitor: cannot install signal handlers: {e}");
                return ExitCode::from(1);
            }
            run(config, &env)
        }
    }
}

/// Spool, uploader (with S3 settings), capture worker and the loop.
// Not inlined into `main` (nor `replay` below): the frames of the other
// commands (replay's detector is 33 KiB) would otherwise sit under the run
// loop for the process's life, every page of them probed and resident.
#[inline(never)]
fn run(config: Config, env: &dyn Fn(&str) -> Option<String>) -> ExitCode {
    log::info(
        "start",
        &[
            ("version", &env!("CARGO_PKG_VERSION")),
            ("pod", &config.pod_name),
        ],
    );
    let spool = match Spool::open(&config.spool) {
        Ok(s) => Some(s),
        // Not ours (a symlink, another user's) or held by another monitor.
        Err(e) if e.is_config_error() => {
            eprintln!("memory-monitor: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            log::error(
                "spool-unavailable",
                &[("dir", &config.spool.dir.display()), ("error", &e)],
            );
            None
        }
    };
    let mut uploader = match (&config.s3, &spool) {
        (Some(s3_config), Some(spool)) => {
            let creds = Box::new(credentials::chain(env, &s3_config.region));
            let stop = Arc::new(AtomicBool::new(false));
            match s3::spawn(spool.clone(), s3_config, &config.pod_name, creds, stop) {
                Ok(u) => Some(u),
                Err(e) => {
                    eprintln!("memory-monitor: S3 settings: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        (None, _) => {
            log::info(
                "store",
                &[
                    ("spool", &config.spool.dir.display()),
                    ("why", &"no S3_BUCKET: dumps stay in the spool"),
                ],
            );
            None
        }
        (Some(_), None) => None,
    };
    let notices = uploader.as_mut().and_then(|u| u.take_notices());
    let stats = uploader.as_ref().map(|u| u.stats());
    let tell = match Telling::start(&config, spool.clone(), stats, notices) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("memory-monitor: {e}");
            return ExitCode::from(2);
        }
    };
    let wake = uploader.as_ref().map(|u| u.waker());
    let on_done = Box::new(move |d: &Done| {
        if let (CaptureOutcome::Spooled, Some(w)) = (d.outcome, &wake) {
            w.wake();
        }
    });
    Monitor::new(config, spool, on_done)
        .with_telling(tell)
        .run();
    if let Some(u) = uploader {
        // An upload in flight gets a bounded grace; an unfinished one stays
        // in the spool for the next start.
        if !u.shutdown(STOP_GRACE + Duration::from_secs(5)) {
            log::warn(
                "uploader-abandoned",
                &[(
                    "why",
                    &"upload still running at shutdown; the dump stays in the spool",
                )],
            );
        }
    }
    ExitCode::SUCCESS
}

fn config_failed(errors: &[ConfigError]) -> ExitCode {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "memory-monitor: {} configuration problem(s):",
        errors.len()
    );
    for e in errors {
        let _ = writeln!(err, "  {e}");
    }
    let _ = writeln!(err, "see `memory-monitor --help`");
    ExitCode::from(2)
}

fn print_help() {
    println!("{USAGE}");
    for (var, flag, meaning) in SETTINGS {
        println!("  {var:<24} {flag:<28} {meaning}");
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-pod".into())
}

#[inline(never)]
fn replay(path: &std::path::Path, params: DetectParams, json: bool) -> ExitCode {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("memory-monitor: replay {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let mut replayer = Replayer::new(params, Instant::now());
    let (mut events, mut dumps) = (0u64, 0u64);
    let mut out = std::io::stdout().lock();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "memory-monitor: replay {}: line {}: {e}",
                    path.display(),
                    i + 1
                );
                return ExitCode::from(2);
            }
        };
        match replayer.line(&line, i + 1) {
            Ok(Some((t, e))) => {
                events += 1;
                dumps += u64::from(e.dump);
                let _ = if json {
                    writeln!(out, "{}", JsonLine(t, &e))
                } else {
                    writeln!(out, "{}", TextLine(t, &e))
                };
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("memory-monitor: replay {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    if !json {
        let _ = writeln!(
            out,
            "{} samples, {events} events, {dumps} dumps",
            replayer.samples
        );
    }
    ExitCode::SUCCESS
}
