//! The notifier thread: a bounded queue of reports (sending never waits; a
//! full queue drops the oldest and counts it) delivered to every configured
//! sink — Slack bot (`chat.postMessage`), Slack incoming webhook, Standard
//! Webhooks — with connect and total timeouts on every request and capped
//! backoff on timeouts, connection errors, 5xx and 429 (`Retry-After`
//! honoured). Permanent errors are not retried. Message text and bodies come
//! from `core::notify`; this module only sends.

use std::collections::VecDeque;
use std::fmt;
use std::io::Read as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ureq::tls::TlsConfig;
use ureq::Agent;

use crate::config::NotifyConfig;
use crate::core::event::Report;
use crate::core::metrics::{Registry, Sink};
use crate::core::notify::{self, text, webhook, Context, Secret};
use crate::io::log;
use crate::io::s3::backoff::{self, Backoff};
use crate::io::s3::put::read_ca_file;
use crate::io::s3::ClientError;

/// Reports waiting to be sent; beyond this the oldest is dropped.
pub const QUEUE_CAPACITY: usize = 32;
/// Attempts per message and sink (the first plus retries).
pub const MAX_ATTEMPTS: u32 = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// A longer `Retry-After` is cut to this.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(300);
const REPLY_MAX: u64 = 16 * 1024;
/// Small buffers: alerts are a few KiB, and idle memory counts.
const BUFFER_BYTES: usize = 16 * 1024;

/// One place alerts go; each has its own thread and queue, so a stuck
/// sink never holds up the others.
#[derive(Clone)]
enum Dest {
    Slack {
        url: String,
        token: String,
        channel: String,
    },
    SlackWebhook(String),
    Webhook(String, Secret),
}

impl Dest {
    fn sink(&self) -> Sink {
        match self {
            Dest::Slack { .. } => Sink::Slack,
            Dest::SlackWebhook(_) => Sink::SlackWebhook,
            Dest::Webhook(..) => Sink::Webhook,
        }
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Report>,
    stop: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    cv: Condvar,
    dropped: AtomicU64,
    registry: Option<Arc<Registry>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One sink's queue and thread.
struct Lane {
    shared: Arc<Shared>,
    handle: JoinHandle<()>,
}

/// The handle the loop keeps; cheap to send through.
pub struct Notifier {
    lanes: Vec<Lane>,
}

/// Why the notifier could not start.
#[derive(Debug)]
pub enum SpawnError {
    Tls(ClientError),
    Thread(std::io::Error),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Tls(e) => write!(f, "notifier: {e}"),
            SpawnError::Thread(e) => write!(f, "notifier: spawn thread: {e}"),
        }
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpawnError::Tls(e) => Some(e),
            SpawnError::Thread(e) => Some(e),
        }
    }
}

impl Notifier {
    /// Starts one thread per configured sink; `Ok(None)` when there is none.
    pub fn spawn(
        cfg: &NotifyConfig,
        ctx: Context,
        ca_file: Option<&Path>,
        registry: Option<Arc<Registry>>,
    ) -> Result<Option<Notifier>, SpawnError> {
        let mut dests = Vec::new();
        if let Some(token) = &cfg.slack_token {
            dests.push(Dest::Slack {
                url: format!("{}/chat.postMessage", cfg.slack_api_url),
                token: token.clone(),
                channel: cfg.slack_channel.clone(),
            });
        }
        if let Some(url) = &cfg.slack_webhook_url {
            dests.push(Dest::SlackWebhook(url.clone()));
        }
        if let (Some(url), Some(secret)) = (&cfg.webhook_url, &cfg.webhook_secret) {
            dests.push(Dest::Webhook(url.clone(), secret.clone()));
        }
        if dests.is_empty() {
            return Ok(None);
        }
        let agent = agent(ca_file).map_err(SpawnError::Tls)?;
        let mut lanes = Vec::with_capacity(dests.len());
        for dest in dests {
            let shared = Arc::new(Shared {
                queue: Mutex::new(Queue {
                    items: VecDeque::with_capacity(QUEUE_CAPACITY),
                    stop: false,
                }),
                cv: Condvar::new(),
                dropped: AtomicU64::new(0),
                registry: registry.clone(),
            });
            let worker = Worker {
                shared: Arc::clone(&shared),
                agent: agent.clone(),
                dest,
                ctx: ctx.clone(),
                registry: registry.clone(),
                backoff: Backoff::new(BACKOFF_BASE, BACKOFF_CAP, backoff::seed()),
                sent_ids: 0,
            };
            let handle = thread::Builder::new()
                .name(format!("notify-{}", worker.dest.sink().as_str()))
                .stack_size(256 * 1024)
                .spawn(move || worker.run())
                .map_err(SpawnError::Thread)?;
            lanes.push(Lane { shared, handle });
        }
        Ok(Some(Notifier { lanes }))
    }

    /// Queues a report for every sink; never blocks on the network. Events
    /// that people are not told about (`Kind::notified`) are ignored.
    pub fn send(&self, report: Report) {
        if !report.kind.notified() {
            return;
        }
        for lane in &self.lanes {
            lane.push(report.clone());
        }
    }

    /// Reports dropped from full queues so far (all sinks).
    pub fn dropped(&self) -> u64 {
        self.lanes
            .iter()
            .map(|l| l.shared.dropped.load(Ordering::Relaxed))
            .sum()
    }

    /// Stops retrying, gives what is queued one last attempt and waits for
    /// the threads at most `grace`.
    pub fn finish(self, grace: Duration) {
        for lane in &self.lanes {
            lane.shared.lock().stop = true;
            lane.shared.cv.notify_all();
        }
        let until = Instant::now() + grace;
        while self.lanes.iter().any(|l| !l.handle.is_finished()) && Instant::now() < until {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Lane {
    fn push(&self, report: Report) {
        let mut q = self.shared.lock();
        if q.items.len() >= QUEUE_CAPACITY {
            if let Some(old) = q.items.pop_front() {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some(r) = &self.shared.registry {
                    r.notification_dropped();
                }
                log::warn(
                    "notification-dropped",
                    &[
                        ("reason", &old.kind),
                        ("target", &old.target),
                        ("why", &"queue full"),
                    ],
                );
            }
        }
        q.items.push_back(report);
        drop(q);
        self.shared.cv.notify_all();
    }
}

fn agent(ca_file: Option<&Path>) -> Result<Agent, ClientError> {
    let mut builder = Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(TOTAL_TIMEOUT))
        .http_status_as_error(false)
        // A redirect could carry the bot token elsewhere.
        .max_redirects(0)
        .max_redirects_will_error(false)
        // Alerts are rare: no idle connection (and its buffers) is kept.
        .max_idle_connections(0)
        .input_buffer_size(BUFFER_BYTES)
        .output_buffer_size(BUFFER_BYTES)
        .user_agent(concat!("memory-monitor/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let roots = read_ca_file(path)?;
        builder = builder.tls_config(TlsConfig::builder().root_certs(roots).build());
    }
    Ok(builder.build().into())
}

/// What one attempt came to.
enum Attempt {
    Sent,
    /// Worth retrying (timeout, connection, 5xx, 429), after at least this.
    Retry(String, Option<Duration>),
    /// Retrying cannot help.
    Fail(String),
}

struct Worker {
    shared: Arc<Shared>,
    agent: Agent,
    dest: Dest,
    ctx: Context,
    registry: Option<Arc<Registry>>,
    backoff: Backoff,
    sent_ids: u64,
}

#[path = "notify_send.rs"]
mod send;
