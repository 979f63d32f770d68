//! The capture worker: one thread that takes dump requests from the run
//! loop, asks the target's socket for `stats` and a `dump`, streams the dump
//! into the spool and wakes the uploader. Sampling never waits on it: a
//! silent socket costs this thread its timeout, not the loop a tick.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::CaptureConfig;
use crate::io::heapdump::{self, CaptureError};
use crate::io::log;
use crate::io::spool::{self, Meta, Spool};

/// One dump to take.
#[derive(Debug, Clone)]
pub struct Job {
    pub pid: u32,
    pub target: String,
    pub socket: PathBuf,
    pub reason: &'static str,
    pub rss_anon_bytes: Option<u64>,
    pub baseline_bytes: Option<u64>,
    pub requested: SystemTime,
}

/// What happened to a job, for whoever wants to know (uploader, metrics).
#[derive(Debug)]
pub enum Outcome {
    Spooled {
        path: PathBuf,
        key: String,
        bytes: u64,
    },
    NotTaken {
        reason: String,
    },
}

pub struct Worker {
    jobs: Sender<Job>,
    handle: JoinHandle<()>,
}

impl Worker {
    /// `on_spooled` runs after each committed dump (the uploader's wake-up).
    pub fn spawn(
        spool: Spool,
        cfg: CaptureConfig,
        pod: String,
        prefix: String,
        on_outcome: Box<dyn Fn(&Outcome) + Send>,
    ) -> std::io::Result<Worker> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || serve(rx, &spool, &cfg, &pod, &prefix, &*on_outcome))?;
        Ok(Worker { jobs, handle })
    }

    /// Queues a dump; never blocks.
    pub fn request(&self, job: Job) {
        if self.jobs.send(job).is_err() {
            log::error("dump-not-taken", &[("why", &"capture worker has stopped")]);
        }
    }

    /// Stops taking jobs. A dump in flight is left to its own timeouts; its
    /// temp file is removed by the next start if the process exits first.
    pub fn finish(self) -> JoinHandle<()> {
        drop(self.jobs);
        self.handle
    }
}

fn serve(
    rx: Receiver<Job>,
    spool: &Spool,
    cfg: &CaptureConfig,
    pod: &str,
    prefix: &str,
    tell: &dyn Fn(&Outcome),
) {
    while let Ok(job) = rx.recv() {
        let outcome = take(&job, spool, cfg, pod, prefix);
        match &outcome {
            Outcome::Spooled { path, key, bytes } => log::info(
                "dump-spooled",
                &[
                    ("target", &job.target),
                    ("pid", &job.pid),
                    ("reason", &job.reason),
                    ("bytes", bytes),
                    ("file", &path.display()),
                    ("key", key),
                ],
            ),
            Outcome::NotTaken { reason } => log::warn(
                "dump-not-taken",
                &[
                    ("target", &job.target),
                    ("pid", &job.pid),
                    ("reason", &job.reason),
                    ("why", reason),
                ],
            ),
        }
        tell(&outcome);
    }
}

fn take(job: &Job, spool: &Spool, cfg: &CaptureConfig, pod: &str, prefix: &str) -> Outcome {
    let not_taken = |reason: String| Outcome::NotTaken { reason };
    if !job.socket.exists() {
        return not_taken(CaptureError::NoSocket(job.socket.clone()).to_string());
    }
    // Stats first: a dump allocates in the target and would skew them.
    let jemalloc = match heapdump::stats(&job.socket, cfg) {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn(
                "stats-failed",
                &[("target", &job.target), ("pid", &job.pid), ("error", &e)],
            );
            None
        }
    };
    let mut writer = match spool.begin(job.pid, job.reason, job.requested) {
        Ok(w) => w,
        Err(e) => return not_taken(e.to_string()),
    };
    let captured = match heapdump::dump_to(&job.socket, cfg, &mut writer) {
        Ok(c) => c,
        Err(e) => {
            writer.abort();
            return not_taken(e.to_string());
        }
    };
    let unix_ms = job
        .requested
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let key = spool.unique_key(spool::object_key(prefix, pod, unix_ms / 1000, job.reason));
    let meta = Meta {
        key: key.clone(),
        pod: pod.to_string(),
        target: job.target.clone(),
        pid: job.pid,
        reason: job.reason.to_string(),
        unix_ms,
        rss_anon_bytes: job.rss_anon_bytes,
        baseline_bytes: job.baseline_bytes,
        jemalloc,
        bytes: captured.bytes,
        // Set by the commit, which also refuses a reply that is not one
        // complete gzip stream (kept as `.partial` evidence).
        sha256: None,
    };
    match writer.commit(meta) {
        Ok(p) => Outcome::Spooled {
            path: p.dump,
            key,
            bytes: captured.bytes,
        },
        Err(e) => not_taken(e.to_string()),
    }
}
