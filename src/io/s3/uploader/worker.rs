//! The uploader thread's loop: one pass over the spool at a time, each dump
//! with its own backoff, the whole thread paused only by what stops every
//! dump alike (see the module above for the rules).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::{metadata, Delivery, Notice, Options, Shared, Wake, DELIVERED_KEPT, IDLE_RESCAN};
use crate::core::s3_refusal::{skew_ms, Refusal};
use crate::io::log;
use crate::io::s3::backoff::{seed, Backoff};
use crate::io::s3::credentials::Provide;
use crate::io::s3::put::{Client, Object, PutError};

use super::attempt::{put_once, unix_ms, Failure};
use crate::io::spool::{Pending, Spool};

/// What the worker is built from.
pub(super) struct Parts {
    pub spool: Spool,
    pub client: Client,
    pub opts: Options,
    pub creds: Box<dyn Provide>,
    pub stop: Arc<AtomicBool>,
    pub wake: Wake,
    pub shared: Arc<Shared>,
    pub notify: SyncSender<Notice>,
}

/// One dump's own backoff after a failure.
struct Retry {
    backoff: Backoff,
    not_before: Instant,
}

/// How a pass ended.
enum Pass {
    /// Every dump was tried or is waiting for its backoff; the earliest
    /// such wait ends at the given time.
    Done(Option<Instant>),
    /// Something that stops every dump alike: wait the global backoff.
    Pause,
}

/// After one dump: go on with the next, or pause the pass.
enum Step {
    Next,
    Pause,
}

pub(super) struct Worker {
    parts: Parts,
    /// The pause for bucket-wide failures.
    global: Backoff,
    retries: HashMap<PathBuf, Retry>,
    /// The bucket-wide failure of the current episode, already announced.
    blocked: Option<String>,
    /// Added to the local clock when signing (from S3's `Date`).
    skew_ms: i64,
    next_quarantine_try: Instant,
    /// Dumps under another prefix, already logged.
    foreign_logged: HashSet<PathBuf>,
}

impl Worker {
    pub(super) fn new(parts: Parts) -> Worker {
        let global = Backoff::new(parts.opts.backoff_base, parts.opts.backoff_cap, seed());
        let first_retry = Instant::now()
            .checked_add(parts.opts.quarantine_retry)
            .unwrap_or_else(Instant::now);
        Worker {
            parts,
            global,
            retries: HashMap::new(),
            blocked: None,
            skew_ms: 0,
            next_quarantine_try: first_retry,
            foreign_logged: HashSet::new(),
        }
    }

    pub(super) fn run(mut self) {
        while !self.stopping() {
            // Cleared before the scan: a dump committed during the pass wakes the next one.
            self.parts.wake.clear();
            match self.pass() {
                Pass::Done(next) => {
                    self.global.reset();
                    let now = Instant::now();
                    let next = next.map_or(self.next_quarantine_try, |t| {
                        t.min(self.next_quarantine_try)
                    });
                    let wait = next.saturating_duration_since(now);
                    self.parts
                        .wake
                        .wait(wait.min(IDLE_RESCAN), &self.parts.stop, true);
                }
                Pass::Pause if !self.stopping() => {
                    let delay = self.global.next_delay();
                    log::info("upload-retry", &[("in_ms", &delay.as_millis())]);
                    self.parts.wake.wait(delay, &self.parts.stop, false);
                }
                Pass::Pause => {}
            }
        }
        log::info("uploader-stopped", &[]);
    }

    fn stopping(&self) -> bool {
        self.parts.stop.load(Ordering::Relaxed)
    }

    /// One pass over the spool, oldest first, skipping dumps in backoff.
    fn pass(&mut self) -> Pass {
        if Instant::now() >= self.next_quarantine_try {
            self.retry_quarantined();
        }
        let pending = match self.parts.spool.pending() {
            Ok(p) => p,
            Err(e) => {
                log::error("spool-scan-failed", &[("error", &e)]);
                return Pass::Pause;
            }
        };
        self.retries
            .retain(|dump, _| pending.iter().any(|p| &p.dump == dump));
        let mut next: Option<Instant> = None;
        let mut foreign = 0u64;
        for p in &pending {
            if self.stopping() {
                return Pass::Pause;
            }
            if !self.is_ours(p) {
                foreign += 1;
                continue;
            }
            let waiting = self.retries.get(&p.dump).map(|r| r.not_before);
            if let Some(t) = waiting.filter(|&t| t > Instant::now()) {
                next = Some(next.map_or(t, |n| n.min(t)));
                continue;
            }
            if let Step::Pause = self.deliver(p) {
                return Pass::Pause;
            }
            if let Some(r) = self.retries.get(&p.dump) {
                next = Some(next.map_or(r.not_before, |n| n.min(r.not_before)));
            }
        }
        self.parts.shared.skipped.store(foreign, Ordering::Relaxed);
        Pass::Done(next)
    }

    /// A dump whose key is under another `S3_PATH_PREFIX` (another
    /// monitor's, or an old setting's) is left in place, logged once.
    fn is_ours(&mut self, p: &Pending) -> bool {
        let key = p.key_or(&self.parts.opts.prefix, &self.parts.opts.pod);
        if key.starts_with(&self.parts.opts.prefix) {
            return true;
        }
        if self.foreign_logged.insert(p.dump.clone()) {
            log::warn(
                "spool-file-skipped",
                &[
                    ("file", &p.dump.display()),
                    ("key", &key),
                    ("why", &"its key is not under S3_PATH_PREFIX: left in place"),
                ],
            );
        }
        false
    }

    /// Offers every quarantined dump to S3 once more (hourly).
    fn retry_quarantined(&mut self) {
        self.next_quarantine_try = Instant::now()
            .checked_add(self.parts.opts.quarantine_retry)
            .unwrap_or_else(Instant::now);
        let Ok(list) = self.parts.spool.quarantined() else {
            return;
        };
        for p in &list {
            if !self.is_ours(p) {
                continue;
            }
            let key = p.key_or(&self.parts.opts.prefix, &self.parts.opts.pod);
            match self.put(p, &key) {
                Ok(bytes) => self.delivered(p, key, bytes),
                Err(e) => {
                    log::info("quarantine-retry-failed", &[("key", &key), ("error", &e)]);
                    if e.refusal() != Refusal::Permanent {
                        return; // S3 is not well: try again next time
                    }
                }
            }
        }
    }

    fn deliver(&mut self, p: &Pending) -> Step {
        let key = p.key_or(&self.parts.opts.prefix, &self.parts.opts.pod);
        match self.put(p, &key) {
            Ok(bytes) => {
                self.retries.remove(&p.dump);
                self.delivered(p, key, bytes);
                Step::Next
            }
            Err(Failure::Put(e)) if e.is_missing_file() => {
                // Removed by someone else between the scan and the upload.
                log::warn("upload-skipped", &[("key", &key), ("error", &e)]);
                Step::Next
            }
            Err(e) => self.failed(p, &key, e),
        }
    }

    /// [`Self::put_here`] on a short-lived thread: what a PUT touches on
    /// the stack (ureq, rustls, SigV4, the body's buffers) is unmapped when
    /// it ends instead of staying resident in this idle thread (idle RSS).
    fn put(&mut self, p: &Pending, key: &str) -> Result<u64, Failure> {
        let _busy = crate::io::burst::Busy::start();
        let sent = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("s3-put".into())
                .spawn_scoped(s, || self.put_here(p, key))
                .map(|h| h.join())
        });
        match sent {
            Ok(Ok(r)) => r,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            // No thread to be had: upload from this one.
            Err(_) => self.put_here(p, key),
        }
    }

    /// One PUT, with a second one at once if S3 found our clock skewed.
    fn put_here(&mut self, p: &Pending, key: &str) -> Result<u64, Failure> {
        let creds = self
            .parts
            .creds
            .credentials(SystemTime::now())
            .map_err(|e| Failure::Credentials(e.to_string()))?;
        if let Some(e) = self.parts.creds.take_refresh_error() {
            log::warn(
                "credentials-refresh-failed",
                &[("error", &e), ("using", &"cached credentials, still valid")],
            );
        }
        let meta = metadata(&p.meta);
        let obj = Object {
            key,
            path: &p.dump,
            metadata: &meta,
            sha256: p.meta.sha256.as_deref(),
        };
        let stop = &self.parts.stop;
        let first = put_once(&self.parts.client, &obj, &creds, self.skew_ms, stop);
        let date = match &first {
            Err(e) if e.refusal() == Refusal::ClockSkew => e.s3_date(),
            _ => None,
        };
        let Some(date) = date else {
            return first.map_err(Failure::Put);
        };
        let server_secs = date.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.skew_ms = skew_ms(server_secs, unix_ms(SystemTime::now()));
        log::warn(
            "clock-skew",
            &[
                ("skew_ms", &self.skew_ms),
                ("from", &"the Date of S3's reply"),
            ],
        );
        put_once(&self.parts.client, &obj, &creds, self.skew_ms, stop).map_err(Failure::Put)
    }

    fn failed(&mut self, p: &Pending, key: &str, failure: Failure) -> Step {
        self.parts.shared.failed.fetch_add(1, Ordering::Relaxed);
        let e = match failure {
            Failure::Credentials(why) => {
                self.block(key, &why);
                return Step::Pause;
            }
            Failure::Put(e) => e,
        };
        let refusal = e.refusal();
        if refusal == Refusal::Permanent {
            self.quarantine(p, key, &e);
            return Step::Next;
        }
        // Every other failure backs this dump off too, so that the next
        // pass starts with another one.
        self.back_off(p);
        match refusal {
            Refusal::Transient => {
                log::warn("upload-failed", &[("key", &key), ("error", &e)]);
                Step::Next
            }
            Refusal::Credentials => {
                self.parts.creds.invalidate();
                self.block(key, &e.to_string());
                Step::Pause
            }
            _ => {
                self.block(key, &e.to_string());
                Step::Pause
            }
        }
    }

    fn back_off(&mut self, p: &Pending) {
        let opts = &self.parts.opts;
        let retry = self.retries.entry(p.dump.clone()).or_insert_with(|| Retry {
            backoff: Backoff::new(opts.backoff_base, opts.backoff_cap, seed()),
            not_before: Instant::now(),
        });
        let delay = retry.backoff.next_delay();
        retry.not_before = Instant::now()
            .checked_add(delay)
            .unwrap_or_else(Instant::now);
    }

    /// Logs and announces a bucket-wide failure once per episode.
    fn block(&mut self, key: &str, why: &str) {
        if self.blocked.is_some() {
            log::info("upload-failed", &[("key", &key), ("error", &why)]);
            return;
        }
        self.blocked = Some(why.to_owned());
        log::error(
            "uploads-blocked",
            &[
                ("key", &key),
                ("error", &why),
                ("next", &"one backoff for all dumps; nothing is deleted"),
            ],
        );
        let _ = self.parts.notify.try_send(Notice::Blocked {
            why: why.to_owned(),
        });
    }

    fn quarantine(&mut self, p: &Pending, key: &str, e: &PutError) {
        let (status, code, message) = e.s3_reply().unwrap_or((0, "", ""));
        let moved = match self.parts.spool.quarantine(p, &e.to_string()) {
            Ok(q) => q,
            Err(err) => {
                log::error("quarantine-failed", &[("key", &key), ("error", &err)]);
                self.back_off(p);
                return;
            }
        };
        self.parts
            .shared
            .quarantined
            .fetch_add(1, Ordering::Relaxed);
        log::error(
            "dump-quarantined",
            &[
                ("key", &key),
                ("status", &status),
                ("code", &code),
                ("message", &message),
                ("file", &moved.dump.display()),
                ("retry", &"hourly"),
            ],
        );
        let _ = self.parts.notify.try_send(Notice::Quarantined {
            key: key.to_owned(),
            uri: self.parts.client.endpoint().s3_uri(key),
            file: moved.dump.clone(),
            meta: Box::new(moved.meta.clone()),
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        });
    }

    fn delivered(&mut self, p: &Pending, key: String, bytes: u64) {
        if self.blocked.take().is_some() {
            log::info("uploads-resumed", &[("key", &key)]);
        }
        let endpoint = self.parts.client.endpoint();
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
        let shared = &self.parts.shared;
        shared.uploaded.fetch_add(1, Ordering::Relaxed);
        shared.bytes.fetch_add(bytes, Ordering::Relaxed);
        let mut list = shared
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if list.len() >= DELIVERED_KEPT {
            list.pop_front();
        }
        list.push_back(d);
        drop(list);
        // Recorded first: whoever sees the spool drained also sees the delivery.
        if let Err(e) = self.parts.spool.remove(p) {
            let marked = self.parts.spool.mark_delivered(p);
            log::error(
                "spool-remove-failed",
                &[
                    ("file", &p.dump.display()),
                    ("error", &e),
                    (
                        "next",
                        &match marked {
                            Ok(()) => "marked delivered; deleted at the next start",
                            Err(_) => "not sent again by this run",
                        },
                    ),
                ],
            );
        }
    }
}
