//! The capture worker: one thread that takes dump requests from the run
//! loop, asks the target's socket for `stats` and a `dump`, streams the dump
//! into the spool and wakes the uploader. Sampling never waits on it: a
//! silent socket costs this thread its timeout, not the loop a tick. Each
//! job's typed outcome goes back to the loop ([`Worker::try_done`]), which
//! hands it to the target's lifecycle.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::CaptureConfig;
use crate::core::event::{CaptureFailure, CaptureOutcome, Kind};
use crate::core::explain::Heap;
use crate::io::heapdump::{self, CaptureError};
use crate::io::log;
use crate::io::spool::{self, Meta, Spool, SpoolError};

/// One dump to take.
#[derive(Debug, Clone)]
pub struct Job {
    pub pid: u32,
    /// With the pid, the target incarnation the outcome goes back to.
    pub starttime: u64,
    pub target: String,
    pub socket: PathBuf,
    pub kind: Kind,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub rss_anon_bytes: Option<u64>,
    pub baseline_bytes: Option<u64>,
    pub requested: SystemTime,
    /// When it was queued (a job that waits too long is dropped).
    pub queued: Instant,
    /// False once the incarnation is gone: the job is dropped unstarted.
    pub alive: Arc<AtomicBool>,
}

/// A dump committed to the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    pub path: PathBuf,
    pub key: String,
    pub bytes: u64,
    /// jemalloc's counters from `stats` just before the dump (for the
    /// verdict: allocator retention when resident ≫ allocated).
    pub heap: Option<Heap>,
}

/// What became of one job, for the loop, the uploader and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub pid: u32,
    pub starttime: u64,
    pub kind: Kind,
    pub outcome: CaptureOutcome,
    /// Set when `outcome` is `Spooled`.
    pub spooled: Option<Spooled>,
}

/// Why a job produced no dump.
#[derive(Debug)]
pub enum TakeError {
    Capture(CaptureError),
    Spool(SpoolError),
    /// Waited this long in the queue: past [`MAX_WAIT`].
    Stale(Duration),
}

impl TakeError {
    pub fn outcome(&self) -> CaptureOutcome {
        match self {
            TakeError::Capture(e) => e.outcome(),
            // Full, I/O, or not one complete gzip stream (truncated,
            // corrupt, not gzip: kept as `.partial` evidence).
            TakeError::Spool(e) => CaptureOutcome::Failed(e.capture_failure()),
            TakeError::Stale(_) => CaptureOutcome::Failed(CaptureFailure::Busy),
        }
    }
}

impl fmt::Display for TakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TakeError::Capture(e) => e.fmt(f),
            TakeError::Spool(e) => e.fmt(f),
            TakeError::Stale(waited) => write!(
                f,
                "capture queue: waited {} s for the worker (over {} s), dropped",
                waited.as_secs(),
                MAX_WAIT.as_secs()
            ),
        }
    }
}

impl std::error::Error for TakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TakeError::Capture(e) => Some(e),
            TakeError::Spool(e) => Some(e),
            TakeError::Stale(_) => None,
        }
    }
}

/// At most this many jobs wait for the worker; a request beyond is refused
/// as `busy` (the lifecycle retries it with backoff).
pub const QUEUE: usize = 16;
/// A job that waited longer than this is dropped as `busy`: its episode
/// may be over (the lifecycle asks again if the condition still holds).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Why a request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// [`QUEUE`] jobs are already waiting.
    Full,
    /// The worker has stopped.
    Stopped,
}

/// What the loop and the worker share.
#[derive(Debug, Default)]
struct Shared {
    stopping: AtomicBool,
    /// A capture is in flight.
    busy: AtomicBool,
}

pub struct Worker {
    jobs: SyncSender<Job>,
    done: Receiver<Done>,
    handle: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Worker {
    /// `on_done` runs after each job (the uploader's wake-up on `Spooled`).
    pub fn spawn(
        spool: Spool,
        cfg: CaptureConfig,
        pod: String,
        prefix: String,
        on_done: Box<dyn Fn(&Done) + Send>,
    ) -> std::io::Result<Worker> {
        let (jobs, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let (done_tx, done) = mpsc::channel::<Done>();
        let shared = Arc::new(Shared::default());
        let ctx = Context {
            spool,
            cfg,
            pod,
            prefix,
            shared: Arc::clone(&shared),
        };
        let handle = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || serve(&rx, &ctx, &done_tx, &*on_done))?;
        Ok(Worker {
            jobs,
            done,
            handle,
            shared,
        })
    }

    /// Queues a dump; never blocks.
    pub fn request(&self, job: Job) -> Result<(), Refused> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => Refused::Full,
            TrySendError::Disconnected(_) => Refused::Stopped,
        })
    }

    /// An outcome, if one is ready; never blocks, never allocates.
    pub fn try_done(&self) -> Option<Done> {
        self.done.try_recv().ok()
    }

    /// Stops taking jobs: queued ones are dropped, the one in flight (if
    /// any) goes on. The caller decides how long to wait for it
    /// ([`Stopping::in_flight`]); a dump cut short by the process exit
    /// leaves a temp file the next start removes.
    pub fn finish(self) -> Stopping {
        self.shared.stopping.store(true, Ordering::SeqCst);
        drop(self.jobs);
        Stopping {
            handle: self.handle,
            shared: self.shared,
        }
    }
}

/// A worker told to stop.
pub struct Stopping {
    handle: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Stopping {
    /// A capture was in flight when the worker was told to stop, or still is.
    pub fn in_flight(&self) -> bool {
        self.shared.busy.load(Ordering::SeqCst)
    }

    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

struct Context {
    spool: Spool,
    cfg: CaptureConfig,
    pod: String,
    prefix: String,
    shared: Arc<Shared>,
}

/// Each dump on a short-lived thread: its stack (the 64 KiB read buffer,
/// the gzip verifier's state) is unmapped when it ends rather than staying
/// resident in the long-lived worker (idle RSS).
fn take_on_own_thread(job: &Job, ctx: &Context) -> Result<Spooled, TakeError> {
    let _busy = crate::io::burst::Busy::start();
    let result = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("capture-job".into())
            .spawn_scoped(s, || take(job, ctx))
            .map(|h| h.join())
    });
    match result {
        Ok(Ok(r)) => r,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        // No thread to be had: capture from this one.
        Err(_) => take(job, ctx),
    }
}

fn serve(rx: &Receiver<Job>, ctx: &Context, done: &Sender<Done>, tell: &dyn Fn(&Done)) {
    while let Ok(job) = rx.recv() {
        // Busy first, then the stop check: `finish` sets stopping first,
        // then reads busy, so one of the two sides always sees the other.
        ctx.shared.busy.store(true, Ordering::SeqCst);
        if ctx.shared.stopping.load(Ordering::SeqCst) || !job.alive.load(Ordering::SeqCst) {
            // Stopping, or the incarnation is gone: nobody wants this dump.
            ctx.shared.busy.store(false, Ordering::SeqCst);
            continue;
        }
        let result = if job.queued.elapsed() > MAX_WAIT {
            Err(TakeError::Stale(job.queued.elapsed()))
        } else {
            take_on_own_thread(&job, ctx)
        };
        ctx.shared.busy.store(false, Ordering::SeqCst);
        let outcome = match &result {
            Ok(s) => {
                log::info(
                    "dump-spooled",
                    &[
                        ("target", &job.target),
                        ("pid", &job.pid),
                        ("reason", &job.kind),
                        ("bytes", &s.bytes),
                        ("file", &s.path.display()),
                        ("key", &s.key),
                    ],
                );
                CaptureOutcome::Spooled
            }
            Err(e) => {
                let outcome = e.outcome();
                log::warn(
                    "dump-not-taken",
                    &[
                        ("target", &job.target),
                        ("pid", &job.pid),
                        ("reason", &job.kind),
                        ("outcome", &outcome.as_str()),
                        ("attempt", &job.attempt),
                        ("why", e),
                    ],
                );
                outcome
            }
        };
        let d = Done {
            pid: job.pid,
            starttime: job.starttime,
            kind: job.kind,
            outcome,
            spooled: result.ok(),
        };
        tell(&d);
        // The loop may have stopped listening (shutdown): nothing to do then.
        let _ = done.send(d);
    }
}

fn take(job: &Job, ctx: &Context) -> Result<Spooled, TakeError> {
    let (spool, cfg) = (&ctx.spool, &ctx.cfg);
    if !job.socket.exists() {
        return Err(TakeError::Capture(CaptureError::NoSocket(
            job.socket.clone(),
        )));
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
    let reason = job.kind.as_str();
    let mut writer = spool
        .begin(job.pid, reason, job.requested)
        .map_err(TakeError::Spool)?;
    let captured = match heapdump::dump_to(&job.socket, cfg, &mut writer) {
        Ok(c) => c,
        Err(e) => {
            writer.abort();
            return Err(TakeError::Capture(e));
        }
    };
    let unix_ms = job
        .requested
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let key = spool.unique_key(spool::object_key(
        &ctx.prefix,
        &ctx.pod,
        unix_ms / 1000,
        reason,
    ));
    let meta = Meta {
        key: key.clone(),
        pod: ctx.pod.clone(),
        target: job.target.clone(),
        pid: job.pid,
        reason: reason.to_string(),
        unix_ms,
        rss_anon_bytes: job.rss_anon_bytes,
        baseline_bytes: job.baseline_bytes,
        jemalloc,
        bytes: captured.bytes,
        // Set by the commit, which also refuses a reply that is not one
        // complete gzip stream (kept as `.partial` evidence).
        sha256: None,
    };
    let p = writer.commit(meta).map_err(TakeError::Spool)?;
    Ok(Spooled {
        path: p.dump,
        key,
        bytes: captured.bytes,
        heap: jemalloc.map(|j| Heap {
            allocated: j.allocated,
            resident: j.resident,
        }),
    })
}
