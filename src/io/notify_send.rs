//! The notifier thread's side: take a report, build each sink's request,
//! send with retries.

use super::*;

impl Worker {
    pub(super) fn run(mut self) {
        loop {
            let (report, stopping) = {
                let mut q = self.shared.lock();
                while q.items.is_empty() && !q.stop {
                    q = self
                        .shared
                        .cv
                        .wait(q)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                match q.items.pop_front() {
                    Some(r) => (r, q.stop),
                    None => return,
                }
            };
            // Each delivery on a short-lived thread: what a request touches
            // on the stack (ureq, rustls, the bodies) is unmapped when it
            // ends instead of staying resident in this idle lane (idle RSS).
            let _busy = crate::io::burst::Busy::start();
            let sent = thread::scope(|s| {
                thread::Builder::new()
                    .name("notify-send".into())
                    .spawn_scoped(s, || self.deliver(&report, stopping))
                    .map(|h| h.join())
            });
            match sent {
                Ok(Ok(())) => {}
                Ok(Err(p)) => std::panic::resume_unwind(p),
                // No thread to be had: deliver from this one.
                Err(_) => self.deliver(&report, stopping),
            }
        }
    }

    fn stopping(&self) -> bool {
        self.shared.lock().stop
    }

    /// Sleeps `d` unless a stop is requested first. Returns `true` on stop.
    fn pause(&self, d: Duration) -> bool {
        let q = self.shared.lock();
        let (q, _) = self
            .shared
            .cv
            .wait_timeout_while(q, d, |q| !q.stop)
            .unwrap_or_else(PoisonError::into_inner);
        q.stop
    }

    fn deliver(&mut self, report: &Report, stopping: bool) {
        self.sent_ids = self.sent_ids.wrapping_add(1);
        let unix_ms = unix_now().as_millis();
        // One id per message, the same on every attempt (receivers dedupe on it).
        let id = format!(
            "msg_{unix_ms:x}{:x}{:04x}",
            std::process::id(),
            self.sent_ids
        );
        let sink = self.dest.sink();
        match self.dest.clone() {
            Dest::Slack {
                url,
                token,
                channel,
            } => {
                let body = notify::slack_bot_body(&channel, &text::slack(&self.ctx, report));
                let auth = format!("Bearer {token}");
                self.with_retries(sink, report, stopping, |agent| {
                    post(agent, &url, &[("authorization", &auth)], &body, true)
                });
            }
            Dest::SlackWebhook(url) => {
                let body = notify::slack_webhook_body(&text::slack(&self.ctx, report));
                self.with_retries(sink, report, stopping, |agent| {
                    post(agent, &url, &[], &body, false)
                });
            }
            Dest::Webhook(url, secret) => {
                let body = webhook::body(&self.ctx, report);
                self.with_retries(sink, report, stopping, |agent| {
                    // Timestamp and signature afresh for each attempt.
                    let ts = unix_now().as_secs();
                    let ts_text = ts.to_string();
                    let sig = secret.sign(&id, ts, &body);
                    let headers = [
                        ("webhook-id", id.as_str()),
                        ("webhook-timestamp", ts_text.as_str()),
                        ("webhook-signature", sig.as_str()),
                    ];
                    post(agent, &url, &headers, &body, false)
                });
            }
        }
    }

    fn with_retries(
        &mut self,
        sink: Sink,
        report: &Report,
        stopping: bool,
        mut attempt: impl FnMut(&Agent) -> Attempt,
    ) {
        self.backoff.reset();
        let mut n = 0;
        let outcome = loop {
            n += 1;
            match attempt(&self.agent) {
                Attempt::Sent => break Ok(()),
                Attempt::Fail(why) => break Err(why),
                Attempt::Retry(why, after) => {
                    if n >= MAX_ATTEMPTS || stopping || self.stopping() {
                        break Err(why);
                    }
                    let mut wait = self.backoff.next_delay();
                    if let Some(a) = after {
                        wait = wait.max(a.min(RETRY_AFTER_MAX));
                    }
                    log::warn(
                        "notify-retry",
                        &[
                            ("sink", &sink.as_str()),
                            ("reason", &report.kind),
                            ("attempt", &n),
                            ("error", &why),
                            ("retry_in_ms", &wait.as_millis()),
                        ],
                    );
                    if self.pause(wait) {
                        break Err(why);
                    }
                }
            }
        };
        if let Some(r) = &self.registry {
            r.notification(sink, outcome.is_ok());
        }
        match outcome {
            Ok(()) => log::info(
                "notify-sent",
                &[
                    ("sink", &sink.as_str()),
                    ("reason", &report.kind),
                    ("target", &report.target),
                    ("pid", &report.pid),
                    ("attempts", &n),
                ],
            ),
            Err(why) => log::error(
                "notify-failed",
                &[
                    ("sink", &sink.as_str()),
                    ("reason", &report.kind),
                    ("target", &report.target),
                    ("pid", &report.pid),
                    ("attempts", &n),
                    ("error", &why),
                ],
            ),
        }
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Slack error codes worth another attempt.
const SLACK_TRANSIENT: [&str; 5] = [
    "ratelimited",
    "internal_error",
    "service_unavailable",
    "fatal_error",
    "request_timeout",
];

/// One POST. `slack_api`: a 200 must also say `"ok": true`.
fn post(
    agent: &Agent,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    slack_api: bool,
) -> Attempt {
    let mut req = agent
        .post(url)
        .header("content-type", "application/json; charset=utf-8");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut resp = match req.send(body.as_bytes()) {
        Ok(r) => r,
        Err(e) => return classify(&e),
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut reply = Vec::new();
    // Best effort: the status decides; the body explains.
    let _ = resp
        .body_mut()
        .as_reader()
        .take(REPLY_MAX)
        .read_to_end(&mut reply);
    let snippet = || one_line(&String::from_utf8_lossy(&reply));
    match status {
        200..=299 if slack_api => match notify::slack_reply(&reply) {
            Ok(()) => Attempt::Sent,
            Err(code) => {
                log::error("slack-error", &[("error", &code), ("status", &status)]);
                if SLACK_TRANSIENT.contains(&code.as_str()) {
                    Attempt::Retry(format!("slack error {code}"), retry_after)
                } else {
                    Attempt::Fail(format!("slack error {code}"))
                }
            }
        },
        200..=299 => Attempt::Sent,
        408 | 429 | 500..=599 => {
            Attempt::Retry(format!("status {status} {}", snippet()), retry_after)
        }
        _ => Attempt::Fail(format!("status {status} {}", snippet())),
    }
}

fn classify(e: &ureq::Error) -> Attempt {
    use ureq::Error as E;
    let why = format!("send: {e}");
    match e {
        E::Timeout(_) | E::Io(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_) => {
            Attempt::Retry(why, None)
        }
        _ => Attempt::Fail(why),
    }
}

/// A server's reply made safe and short for a log field.
fn one_line(text: &str) -> String {
    text.trim()
        .chars()
        .take(120)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
