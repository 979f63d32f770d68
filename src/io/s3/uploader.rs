//! The uploader thread: drains the spool oldest-first into S3, and never
//! lets one dump hold up the others (PRODUCT §3.7, §4).
//!
//! A dump is removed from the spool only after S3 answered 2xx; if that
//! delete fails it is marked delivered and never sent again. What happens
//! after a failure follows [`crate::core::s3_refusal`]:
//! - a dump S3 refuses for good (a 4xx about the request) moves to the
//!   spool's `quarantine/` folder — kept, counted, logged with S3's code and
//!   message, announced as a [`Notice`], retried every
//!   [`Options::quarantine_retry`] — and the dumps behind it go on;
//! - a transient failure (5xx, 408, 429) backs off that dump only;
//! - a bucket-wide refusal (no such bucket, access denied, bad key), stale
//!   credentials or an unreachable S3 pause the whole uploader with one
//!   capped exponential backoff, logged and announced once per episode;
//! - `RequestTimeTooSkewed`: the clock offset is taken from S3's `Date`
//!   header and the dump is sent again at once, signed at send time.
//!
//! Waking: the run loop calls [`Wake::wake`] after committing a dump; the
//! thread otherwise sleeps on a condition variable (until the next dump's
//! backoff ends, at most [`IDLE_RESCAN`]). A wake during a bucket-wide pause
//! does not cut it short. Stopping: [`Uploader::shutdown`] sets the stop
//! flag and wakes the thread; a body in flight is cut off
//! [`STOP_GRACE`](super::put::STOP_GRACE) later (the dump stays in the
//! spool for the next start), then the thread exits.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::credentials::Provide;
use super::put::{Client, ClientError, Timeouts};
use crate::config::S3Config;
use crate::core::hex::push_percent;
use crate::io::spool::{Meta, Spool};

mod attempt;
mod notice;
mod worker;

pub use notice::Notice;

/// The spool is rescanned this often even without a wake.
pub const IDLE_RESCAN: Duration = Duration::from_secs(60);
/// Deliveries remembered for notifications.
const DELIVERED_KEPT: usize = 32;
/// Notices not yet taken are dropped past this many.
const NOTICES_KEPT: usize = 64;

/// Tuning of the uploader; [`Options::new`] has the production values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// S3_PATH_PREFIX, for a dump whose metadata (and so its key) was lost.
    pub prefix: String,
    /// POD_NAME, for the same case.
    pub pod: String,
    /// First and longest wait of the backoffs (bucket-wide and per dump).
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// How often quarantined dumps are offered to S3 again.
    pub quarantine_retry: Duration,
}

impl Options {
    pub fn new(prefix: &str, pod: &str) -> Options {
        Options {
            prefix: prefix.to_owned(),
            pod: pod.to_owned(),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            quarantine_retry: Duration::from_secs(3600),
        }
    }
}

/// Why the uploader could not start (a start-up error).
#[derive(Debug)]
pub enum SpawnError {
    Client(ClientError),
    Thread(io::Error),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(e) => write!(f, "s3 uploader: {e}"),
            Self::Thread(e) => write!(f, "s3 uploader: spawn thread: {e}"),
        }
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Client(e) => Some(e),
            Self::Thread(e) => Some(e),
        }
    }
}

/// One delivered dump, for notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub key: String,
    /// `s3://bucket/key`.
    pub uri: String,
    pub console_url: String,
    pub bytes: u64,
}

/// Totals since start, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub uploaded: u64,
    /// Failed attempts (each one, whatever came next).
    pub failed: u64,
    pub bytes: u64,
    /// Dumps moved to the quarantine.
    pub quarantined: u64,
    /// Dumps left in place at the last pass: their key is not under
    /// `S3_PATH_PREFIX`.
    pub skipped: u64,
}

/// Wakes the uploader (cheap to clone; call after a dump is committed).
#[derive(Clone, Default)]
pub struct Wake(Arc<(Mutex<bool>, Condvar)>);

impl Wake {
    pub fn wake(&self) {
        *self.flag() = true;
        self.0 .1.notify_all();
    }

    fn flag(&self) -> MutexGuard<'_, bool> {
        self.0 .0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn clear(&self) {
        *self.flag() = false;
    }

    /// Sleeps up to `d`; ends early on stop, and on a wake if `by_wake`.
    fn wait(&self, d: Duration, stop: &AtomicBool, by_wake: bool) {
        let guard = self.flag();
        let keep_waiting =
            |woken: &mut bool| !(stop.load(Ordering::Relaxed) || (by_wake && *woken));
        drop(self.0 .1.wait_timeout_while(guard, d, keep_waiting));
    }
}

#[derive(Default)]
struct Shared {
    delivered: Mutex<VecDeque<Delivery>>,
    uploaded: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    quarantined: AtomicU64,
    skipped: AtomicU64,
}

/// A cloneable view of the uploader's totals (for metrics).
#[derive(Clone)]
pub struct Stats(Arc<Shared>);

impl Stats {
    pub fn counts(&self) -> Counts {
        self.0.counts()
    }
}

impl Shared {
    fn counts(&self) -> Counts {
        Counts {
            uploaded: self.uploaded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            quarantined: self.quarantined.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
        }
    }
}

/// Handle to the running uploader thread.
pub struct Uploader {
    handle: JoinHandle<()>,
    wake: Wake,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    notices: Option<Receiver<Notice>>,
}

impl Uploader {
    pub fn waker(&self) -> Wake {
        self.wake.clone()
    }

    pub fn stats(&self) -> Stats {
        Stats(Arc::clone(&self.shared))
    }

    /// The notices (quarantined dumps, blocked uploads); the first call gets
    /// them, later ones `None`. Untaken notices are dropped past a few dozen.
    pub fn take_notices(&mut self) -> Option<Receiver<Notice>> {
        self.notices.take()
    }

    /// The last deliveries, oldest first.
    pub fn delivered(&self) -> Vec<Delivery> {
        let list = self
            .shared
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        list.iter().cloned().collect()
    }

    pub fn counts(&self) -> Counts {
        self.shared.counts()
    }

    /// Stops the thread and waits up to `within` for it (use more than
    /// [`STOP_GRACE`](super::put::STOP_GRACE)). `false`: it is still running and is left behind; an
    /// unfinished dump stays in the spool for the next start.
    pub fn shutdown(self, within: Duration) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.wake();
        let deadline = Instant::now() + within;
        while !self.handle.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        self.handle.is_finished() && self.handle.join().is_ok()
    }
}

/// Starts the uploader with production timeouts and backoff.
pub fn spawn(
    spool: Spool,
    s3: &S3Config,
    pod: &str,
    creds: Box<dyn Provide>,
    stop: Arc<AtomicBool>,
) -> Result<Uploader, SpawnError> {
    let client = Client::new(s3, Timeouts::default()).map_err(SpawnError::Client)?;
    spawn_with(spool, client, Options::new(&s3.prefix, pod), creds, stop)
}

/// Starts the uploader with a given client and tuning (tests use short ones).
pub fn spawn_with(
    spool: Spool,
    client: Client,
    opts: Options,
    creds: Box<dyn Provide>,
    stop: Arc<AtomicBool>,
) -> Result<Uploader, SpawnError> {
    let wake = Wake::default();
    let shared = Arc::new(Shared::default());
    let (notify, notices) = mpsc::sync_channel(NOTICES_KEPT);
    let worker = worker::Worker::new(worker::Parts {
        spool,
        client,
        opts,
        creds,
        stop: stop.clone(),
        wake: wake.clone(),
        shared: shared.clone(),
        notify,
    });
    let handle = thread::Builder::new()
        .name("s3-uploader".into())
        .spawn(move || worker.run())
        .map_err(SpawnError::Thread)?;
    Ok(Uploader {
        handle,
        wake,
        stop,
        shared,
        notices: Some(notices),
    })
}

pub fn metadata(meta: &Meta) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("pod", header_safe(&meta.pod)),
        ("target", header_safe(&meta.target)),
        ("reason", header_safe(&meta.reason)),
    ];
    if let Some(b) = meta.rss_anon_bytes {
        out.push(("rss-anon-bytes", b.to_string()));
    }
    if let Some(b) = meta.baseline_bytes {
        out.push(("baseline-bytes", b.to_string()));
    }
    out
}

/// S3 metadata must be printable US-ASCII without surrounding spaces (they
/// would be trimmed in transit and break the signature): other bytes, `%`
/// and spaces become `%XX`.
fn header_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            push_percent(&mut out, b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_headers_are_ascii_safe() {
        let meta = Meta {
            key: "p/k.pprof".into(),
            pod: "pod-1".into(),
            target: "my app\u{e9}%".into(),
            pid: 7,
            reason: "slow-leak".into(),
            unix_ms: 0,
            rss_anon_bytes: Some(123),
            baseline_bytes: None,
            jemalloc: None,
            sha256: None,
            bytes: 5,
        };
        let h = metadata(&meta);
        assert_eq!(
            h,
            vec![
                ("pod", "pod-1".to_owned()),
                ("target", "my%20app%C3%A9%25".to_owned()),
                ("reason", "slow-leak".to_owned()),
                ("rss-anon-bytes", "123".to_owned()),
            ]
        );
    }

    #[test]
    fn wake_ends_an_idle_wait_but_not_a_backoff() {
        let wake = Wake::default();
        let stop = AtomicBool::new(false);
        wake.wake();
        let t = Instant::now();
        wake.wait(Duration::from_secs(5), &stop, true);
        assert!(t.elapsed() < Duration::from_secs(1));
        let t = Instant::now();
        wake.wait(Duration::from_millis(200), &stop, false);
        assert!(t.elapsed() >= Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let t = Instant::now();
        wake.wait(Duration::from_secs(5), &stop, false);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
