//! The uploader thread: drains the spool oldest-first into S3.
//!
//! A dump is removed from the spool only after S3 answered 2xx. On failure
//! the thread waits a capped exponential backoff with jitter and starts again
//! from the oldest dump; sampling never waits for it.
//!
//! Waking: the run loop calls [`Wake::wake`] after committing a dump; the
//! thread otherwise sleeps on a condition variable (rescanning the spool every
//! [`IDLE_RESCAN`] as a safety net). A wake during a backoff does not cut the
//! backoff short. Stopping: [`Uploader::shutdown`] sets the stop flag and
//! wakes the thread; a body in flight is cut off [`STOP_GRACE`](super::put::STOP_GRACE) later (the
//! dump stays in the spool for the next start), then the thread exits. A stop
//! flag set elsewhere (a signal handler) is seen at the next wake-up.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use super::backoff::{seed, Backoff};
use super::credentials::Provide;
use super::put::{Client, ClientError, Timeouts};
use crate::config::S3Config;
use crate::io::log;
use crate::io::spool::{Meta, Pending, Spool};

/// The spool is rescanned this often even without a wake.
pub const IDLE_RESCAN: Duration = Duration::from_secs(60);
/// Deliveries remembered for notifications.
const DELIVERED_KEPT: usize = 32;

/// Tuning of the uploader; [`Options::new`] has the production values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// S3_PATH_PREFIX, for a dump whose metadata (and so its key) was lost.
    pub prefix: String,
    /// POD_NAME, for the same case.
    pub pod: String,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl Options {
    pub fn new(prefix: &str, pod: &str) -> Options {
        Options {
            prefix: prefix.to_owned(),
            pod: pod.to_owned(),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
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

impl std::error::Error for SpawnError {}

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
    pub failed: u64,
    pub bytes: u64,
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
}

/// Handle to the running uploader thread.
pub struct Uploader {
    handle: JoinHandle<()>,
    wake: Wake,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
}

impl Uploader {
    pub fn waker(&self) -> Wake {
        self.wake.clone()
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
        Counts {
            uploaded: self.shared.uploaded.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
            bytes: self.shared.bytes.load(Ordering::Relaxed),
        }
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
    let backoff = Backoff::new(opts.backoff_base, opts.backoff_cap, seed());
    let worker = Worker {
        spool,
        client,
        opts,
        creds,
        stop: stop.clone(),
        wake: wake.clone(),
        shared: shared.clone(),
        backoff,
    };
    let handle = thread::Builder::new()
        .name("s3-uploader".into())
        .spawn(move || worker.run())
        .map_err(SpawnError::Thread)?;
    Ok(Uploader {
        handle,
        wake,
        stop,
        shared,
    })
}

struct Worker {
    spool: Spool,
    client: Client,
    opts: Options,
    creds: Box<dyn Provide>,
    stop: Arc<AtomicBool>,
    wake: Wake,
    shared: Arc<Shared>,
    backoff: Backoff,
}

impl Worker {
    fn run(mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            // Cleared before the scan: a dump committed during the pass wakes the next one.
            self.wake.clear();
            if self.pass() {
                self.backoff.reset();
                self.wake.wait(IDLE_RESCAN, &self.stop, true);
            } else if !self.stop.load(Ordering::Relaxed) {
                let delay = self.backoff.next_delay();
                log::info("upload-retry", &[("in_ms", &delay.as_millis())]);
                self.wake.wait(delay, &self.stop, false);
            }
        }
        log::info("uploader-stopped", &[]);
    }

    /// One pass over the spool, oldest first; `false` at the first failure.
    fn pass(&mut self) -> bool {
        let pending = match self.spool.pending() {
            Ok(p) => p,
            Err(e) => {
                log::error("spool-scan-failed", &[("error", &e)]);
                return false;
            }
        };
        for p in &pending {
            if self.stop.load(Ordering::Relaxed) || !self.deliver(p) {
                return false;
            }
        }
        true
    }

    fn deliver(&mut self, p: &Pending) -> bool {
        let key = p.key_or(&self.opts.prefix, &self.opts.pod);
        let creds = match self.creds.credentials(SystemTime::now()) {
            Ok(c) => c,
            Err(e) => {
                self.shared.failed.fetch_add(1, Ordering::Relaxed);
                log::error("upload-failed", &[("key", &key), ("error", &e)]);
                return false;
            }
        };
        if let Some(e) = self.creds.take_refresh_error() {
            log::warn(
                "credentials-refresh-failed",
                &[("error", &e), ("using", &"cached credentials, still valid")],
            );
        }
        let meta = metadata(&p.meta);
        let result =
            self.client
                .put_file(&key, &p.dump, &meta, &creds, SystemTime::now(), &self.stop);
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(e) if e.is_missing_file() => {
                // Removed by someone else between the scan and the upload.
                log::warn("upload-skipped", &[("key", &key), ("error", &e)]);
                return true;
            }
            Err(e) => {
                self.shared.failed.fetch_add(1, Ordering::Relaxed);
                log::error("upload-failed", &[("key", &key), ("error", &e)]);
                if e.is_credentials_rejected() {
                    self.creds.invalidate();
                }
                return false;
            }
        };
        self.backoff.reset();
        let endpoint = self.client.endpoint();
        let d = Delivery {
            uri: endpoint.s3_uri(&key),
            console_url: endpoint.console_url(&key),
            key,
            bytes,
        };
        log::info(
            "uploaded",
            &[
                ("key", &d.key),
                ("uri", &d.uri),
                ("console", &d.console_url),
                ("bytes", &bytes),
            ],
        );
        self.shared.uploaded.fetch_add(1, Ordering::Relaxed);
        self.shared.bytes.fetch_add(bytes, Ordering::Relaxed);
        let mut list = self
            .shared
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if list.len() >= DELIVERED_KEPT {
            list.pop_front();
        }
        list.push_back(d);
        drop(list);
        // Recorded first: whoever sees the spool drained also sees the delivery.
        if let Err(e) = self.spool.remove(p) {
            // Delivered anyway; a later retry rewrites the same object.
            log::error("spool-remove-failed", &[("error", &e)]);
        }
        true
    }
}

/// `x-amz-meta-*` headers (names without the prefix) of one dump.
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
            out.push_str(&format!("%{b:02X}"));
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
