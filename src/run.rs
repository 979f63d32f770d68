//! The loop, on one thread: where `core` meets `io`.
//!
//! Each tick `pread`s every tracked target's open status file into one
//! fixed buffer, feeds the detector and sleeps until the next deadline. A
//! steady-state tick allocates nothing and never scans `/proc`; scanning
//! happens only while a target is missing. Dumps go to the capture worker,
//! so a slow socket never delays sampling.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::capture::{Job, Outcome, Worker};
use crate::config::{Config, TargetSpec};
use crate::core::detector::{Detector, Event, Params};
use crate::core::status::StatusSample;
use crate::io::discover::{self, Incarnation};
use crate::io::procfs::{self, ReadError, StatusFile};
use crate::io::{heapdump, log, spool::Spool};
use crate::sys::signal;

/// Looking for targets scans all of `/proc`: at most this often.
const SCAN_EVERY: Duration = Duration::from_secs(1);
/// How long shutdown waits for a dump in flight.
const CAPTURE_GRACE: Duration = Duration::from_millis(1500);

enum Phase {
    /// Waiting INITIAL_DELAY before the baseline dump.
    Delay {
        until: Instant,
    },
    /// After the baseline dump: the dump itself allocates in the target.
    Settle {
        until: Instant,
    },
    Watching,
}

struct Target {
    inc: Incarnation,
    name: String,
    socket: PathBuf,
    status: StatusFile,
    detector: Box<Detector>,
    phase: Phase,
    last: Option<StatusSample>,
    record: Option<Recorder>,
}

/// The last incarnation that ended, reported as a restart when a new one appears.
struct Ended {
    pid: u32,
    rss_anon: Option<u64>,
    peak: Option<u64>,
}

/// `--record FILE`: `seconds,bytes` rows written from a stack buffer.
struct Recorder {
    file: File,
    origin: Option<Instant>,
}

impl Recorder {
    fn create(path: &Path) -> std::io::Result<Recorder> {
        let mut file = File::create(path)?;
        file.write_all(b"seconds,bytes\n")?;
        Ok(Recorder { file, origin: None })
    }

    fn row(&mut self, now: Instant, bytes: u64) {
        let origin = *self.origin.get_or_insert(now);
        let mut line = heapless::String::<48>::new();
        let secs = now.saturating_duration_since(origin).as_secs_f64();
        // 48 bytes always hold "<f64 with 3 decimals>,<u64>\n" for sane uptimes.
        if writeln!(line, "{secs:.3},{bytes}").is_ok() {
            let _ = self.file.write_all(line.as_bytes());
        }
    }
}

pub struct Monitor {
    config: Config,
    params: Params,
    targets: Vec<Target>,
    capture: Option<Worker>,
    waiting_logged: bool,
    last_scan: Option<Instant>,
    ended: Option<Ended>,
    lost: usize,
    recorded_once: bool,
}

impl Monitor {
    /// `spool` is `None` when it could not be opened: monitoring goes on,
    /// events are reported without dumps. `on_outcome` hears about every dump.
    pub fn new(
        config: Config,
        spool: Option<Spool>,
        on_outcome: Box<dyn Fn(&Outcome) + Send>,
    ) -> Monitor {
        let capture = spool.and_then(|spool| {
            let prefix = config
                .s3
                .as_ref()
                .map(|s| s.prefix.clone())
                .unwrap_or_default();
            let worker = Worker::spawn(
                spool,
                config.capture.clone(),
                config.pod_name.clone(),
                prefix,
                on_outcome,
            );
            worker
                .map_err(|e| log::error("capture-unavailable", &[("error", &e)]))
                .ok()
        });
        Monitor {
            params: Params::from_config(&config.detect),
            config,
            targets: Vec::new(),
            capture,
            waiting_logged: false,
            last_scan: None,
            ended: None,
            lost: 0,
            recorded_once: false,
        }
    }

    /// Runs until SIGTERM / SIGINT.
    pub fn run(mut self) {
        let interval = self.config.detect.interval;
        let mut buf = [0u8; 4096];
        let mut deadline = Instant::now();
        while !signal::stopping() {
            let now = Instant::now();
            if self.targets.is_empty() || self.lost > 0 {
                self.look(now);
            }
            self.tick(now, &mut buf);
            deadline += interval;
            let now = Instant::now();
            if deadline < now {
                deadline = now + interval;
            }
            if signal::sleep(deadline - now) {
                break;
            }
        }
        log::info("stopping", &[("signal", &signal::last_signal())]);
        if let Some(worker) = self.capture.take() {
            let handle = worker.finish();
            let until = Instant::now() + CAPTURE_GRACE;
            while !handle.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// One steady-state tick over every target: no allocation, no scan.
    pub fn tick(&mut self, now: Instant, buf: &mut [u8]) {
        let mut i = 0;
        while i < self.targets.len() {
            match self.targets[i].status.read(buf) {
                Ok(sample) => {
                    self.sample(i, now, sample);
                    i += 1;
                }
                Err(ReadError::Gone) => {
                    let t = self.targets.swap_remove(i);
                    self.gone(t);
                }
                Err(ReadError::Io(e)) => {
                    let t = &self.targets[i];
                    log::warn(
                        "sample-skipped",
                        &[("target", &t.name), ("pid", &t.inc.pid), ("error", &e)],
                    );
                    i += 1;
                }
            }
        }
    }

    fn sample(&mut self, i: usize, now: Instant, sample: StatusSample) {
        let t = &mut self.targets[i];
        t.last = Some(sample);
        // Kernels before 4.5 have no RssAnon: VmRSS is the closest we have.
        let Some(bytes) = sample.rss_anon.or(sample.vm_rss) else {
            return;
        };
        if let Some(r) = t.record.as_mut() {
            r.row(now, bytes);
        }
        match t.phase {
            Phase::Delay { until } if now >= until => {
                t.phase = Phase::Settle {
                    until: now + self.config.baseline_settle,
                };
                let job = job(t, "baseline", Some(bytes), None);
                log::info(
                    "baseline-dump",
                    &[
                        ("target", &t.name),
                        ("pid", &t.inc.pid),
                        ("rss_anon", &bytes),
                    ],
                );
                self.request(job);
            }
            Phase::Settle { until } if now >= until => {
                t.phase = Phase::Watching;
                log::info(
                    "watching",
                    &[
                        ("target", &t.name),
                        ("pid", &t.inc.pid),
                        ("window", &self.params.window_size),
                    ],
                );
            }
            Phase::Watching => {
                if let Some(event) = t.detector.on_sample(now, bytes) {
                    let job = event
                        .dump
                        .then(|| job(t, event.kind.as_str(), Some(bytes), Some(event.baseline)));
                    report(t, &event, &self.config);
                    if let Some(job) = job {
                        self.request(job);
                    }
                }
            }
            _ => {}
        }
    }

    fn request(&self, job: Job) {
        match &self.capture {
            Some(w) => w.request(job),
            None => log::warn(
                "dump-not-taken",
                &[("target", &job.target), ("why", &"no usable spool")],
            ),
        }
    }

    fn gone(&mut self, t: Target) {
        let last = t.last.unwrap_or_default();
        log::warn(
            "target-gone",
            &[
                ("target", &t.name),
                ("pid", &t.inc.pid),
                ("last_rss_anon", &opt(last.rss_anon)),
                ("peak_vm_hwm", &opt(last.vm_hwm)),
            ],
        );
        self.ended = Some(Ended {
            pid: t.inc.pid,
            rss_anon: last.rss_anon,
            peak: last.vm_hwm,
        });
        self.lost += 1;
        self.waiting_logged = false;
    }

    /// Scans for targets we do not track yet (only while one is missing).
    fn look(&mut self, now: Instant) {
        if self
            .last_scan
            .is_some_and(|t| now.saturating_duration_since(t) < SCAN_EVERY)
        {
            return;
        }
        self.last_scan = Some(now);
        let found = match discover::find(&self.config.target) {
            Ok(found) => found,
            Err(e) => {
                log::warn("scan-failed", &[("error", &e)]);
                Vec::new()
            }
        };
        let mut added = 0;
        for inc in found {
            if self.targets.iter().any(|t| t.inc == inc) {
                continue;
            }
            match self.track(inc, now) {
                Ok(t) => {
                    self.announce(&t);
                    self.targets.push(t);
                    added += 1;
                }
                Err(e) => log::warn("target-unreadable", &[("pid", &inc.pid), ("error", &e)]),
            }
        }
        self.lost = self.lost.saturating_sub(added);
        if self.targets.is_empty() && !self.waiting_logged {
            log::info(
                "waiting-for-target",
                &[("target", &spec_text(&self.config.target))],
            );
            self.waiting_logged = true;
        }
    }

    fn announce(&mut self, t: &Target) {
        let fields: [(&str, &dyn std::fmt::Display); 4] = [
            ("target", &t.name),
            ("pid", &t.inc.pid),
            ("starttime", &t.inc.starttime),
            ("socket", &t.socket.display()),
        ];
        match self.ended.take() {
            Some(e) => log::warn(
                "restart",
                &[
                    fields[0],
                    ("old_pid", &e.pid),
                    fields[1],
                    ("last_rss_anon", &opt(e.rss_anon)),
                    ("peak_vm_hwm", &opt(e.peak)),
                ],
            ),
            None => log::info("target-found", &fields),
        }
    }

    fn track(&mut self, inc: Incarnation, now: Instant) -> std::io::Result<Target> {
        let status = StatusFile::open(inc.pid)?;
        // The file may belong to a newer process that reused the pid.
        if procfs::starttime(inc.pid)? != inc.starttime {
            return Err(std::io::Error::other("pid reused while opening"));
        }
        let exe = procfs::socket_name(inc.pid).unwrap_or_default();
        let name = procfs::comm(inc.pid).unwrap_or_else(|_| exe.clone());
        let record = self.recorder(inc.pid);
        Ok(Target {
            inc,
            socket: heapdump::socket_path(&self.config.capture, &exe),
            name: match &self.config.target {
                TargetSpec::Name(n) => n.clone(),
                _ => name,
            },
            status,
            detector: Box::new(Detector::new(self.params)),
            phase: Phase::Delay {
                until: now + self.config.initial_delay,
            },
            last: None,
            record,
        })
    }

    /// The first target records to FILE itself, later ones to `FILE.<pid>`.
    fn recorder(&mut self, pid: u32) -> Option<Recorder> {
        let path = self.config.record.as_ref()?;
        let path = if self.recorded_once {
            PathBuf::from(format!("{}.{pid}", path.display()))
        } else {
            path.clone()
        };
        self.recorded_once = true;
        Recorder::create(&path)
            .map_err(|e| log::error("record-failed", &[("file", &path.display()), ("error", &e)]))
            .ok()
    }
}

fn job(t: &Target, reason: &'static str, rss_anon: Option<u64>, baseline: Option<u64>) -> Job {
    Job {
        pid: t.inc.pid,
        target: t.name.clone(),
        socket: t.socket.clone(),
        reason,
        rss_anon_bytes: rss_anon,
        baseline_bytes: baseline,
        requested: SystemTime::now(),
    }
}

/// One log line per event, saying what grew.
fn report(t: &Target, e: &Event, config: &Config) {
    let s = t.last.unwrap_or_default();
    let ticks_per_hour = 3600.0 / config.detect.interval.as_secs_f64();
    let rate = t
        .detector
        .window()
        .slope_per_tick()
        .map_or(0, |b| (b * ticks_per_hour) as i64);
    log::write(
        if e.dump {
            log::Level::Warn
        } else {
            log::Level::Info
        },
        e.kind.as_str(),
        &[
            ("target", &t.name),
            ("pid", &t.inc.pid),
            ("pod", &config.pod_name),
            ("rss_anon", &e.bytes),
            ("p50", &e.p50),
            ("p95", &e.p95),
            ("baseline", &e.baseline),
            ("dump", &e.dump),
            ("rss_file", &opt(s.rss_file)),
            ("rss_shmem", &opt(s.rss_shmem)),
            ("vm_swap", &opt(s.vm_swap)),
            ("leak_rate_bytes_per_hour", &rate),
        ],
    );
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "unknown".to_string(), |v| v.to_string())
}

fn spec_text(spec: &TargetSpec) -> String {
    match spec {
        TargetSpec::Name(n) => n.clone(),
        TargetSpec::Pid(p) => format!("pid {p}"),
        TargetSpec::PidFile(f) => format!("pidfile {}", f.display()),
    }
}
