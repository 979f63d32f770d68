//! A pass-through proxy of our own in front of a real S3 server (s3s-fs):
//! requests are forwarded byte for byte (so s3s-fs still checks SigV4),
//! except for keys a test chose, which get the S3 error the test chose.
//! It can also play an S3 whose clock is off, to test skew correction.
//! Include with `#[path = "common/s3_proxy.rs"] mod s3_proxy;` beside
//! `#[path = "common/http.rs"] mod http;`.
#![allow(dead_code)]

use std::io::{self, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use memory_monitor::core::timefmt::Utc;

use crate::http::{read_head, respond, s3_error_xml, Head};

/// Requests whose target contains `key_part` get `status` + `code`, the
/// first `times` times (or always).
#[derive(Clone, Debug)]
struct Rule {
    key_part: String,
    status: u16,
    code: String,
    message: String,
    times: Option<u32>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Head>,
    /// Seconds S3's clock is ahead of ours (the proxy then answers itself).
    skew_secs: Option<i64>,
}

pub(crate) struct S3Proxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl S3Proxy {
    /// Listens on a free loopback port and forwards to `upstream_port`.
    pub(crate) fn start(upstream_port: u16) -> S3Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = handle(conn, upstream_port, &shared);
                });
            }
        });
        S3Proxy { port, state }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Refuses every request for keys containing `key_part`.
    pub(crate) fn refuse(&self, key_part: &str, status: u16, code: &str, message: &str) {
        self.add(key_part, status, code, message, None);
    }

    /// Refuses the next `times` requests for keys containing `key_part`.
    pub(crate) fn refuse_times(&self, key_part: &str, status: u16, code: &str, times: u32) {
        self.add(key_part, status, code, "try again", Some(times));
    }

    fn add(&self, key_part: &str, status: u16, code: &str, message: &str, times: Option<u32>) {
        self.state.lock().unwrap().rules.push(Rule {
            key_part: key_part.to_owned(),
            status,
            code: code.to_owned(),
            message: message.to_owned(),
            times,
        });
    }

    /// Lets everything through again.
    pub(crate) fn clear(&self) {
        let mut s = self.state.lock().unwrap();
        s.rules.clear();
        s.skew_secs = None;
    }

    /// Plays an S3 whose clock is `secs` ahead: a request signed more than
    /// 15 minutes off gets 403 `RequestTimeTooSkewed` with S3's `Date`; one
    /// signed on S3's time gets 200 (answered here, not forwarded).
    pub(crate) fn skewed_clock(&self, secs: i64) {
        self.state.lock().unwrap().skew_secs = Some(secs);
    }

    /// Every request head seen, in order.
    pub(crate) fn seen(&self) -> Vec<Head> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Requests seen whose target contains `key_part`.
    pub(crate) fn count(&self, key_part: &str) -> usize {
        self.seen()
            .iter()
            .filter(|h| h.path.contains(key_part))
            .count()
    }
}

/// One request per connection (every answer says `Connection: close`).
fn handle(conn: TcpStream, upstream_port: u16, state: &Mutex<State>) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut client = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    let Some(head) = read_head(&mut client) else {
        return Ok(());
    };
    let (refusal, skew) = {
        let mut s = state.lock().unwrap();
        s.seen.push(head.clone());
        let skew = s.skew_secs;
        let rule = s
            .rules
            .iter_mut()
            .find(|r| head.path.contains(&r.key_part) && r.times.is_none_or(|t| t > 0));
        let refusal = rule.map(|r| {
            if let Some(t) = r.times.as_mut() {
                *t -= 1;
            }
            r.clone()
        });
        (refusal, skew)
    };
    if let Some(rule) = refusal {
        io::copy(
            &mut (&mut client).take(head.content_length()),
            &mut io::sink(),
        )?;
        let body = s3_error_xml(&rule.code, &rule.message);
        return respond(
            &mut out,
            rule.status,
            &[("Content-Type", "application/xml")],
            &body,
        );
    }
    if let Some(secs) = skew {
        io::copy(
            &mut (&mut client).take(head.content_length()),
            &mut io::sink(),
        )?;
        return answer_as_skewed_s3(&mut out, &head, secs);
    }
    forward(&mut client, &mut out, &head, upstream_port)
}

fn forward(
    client: &mut BufReader<TcpStream>,
    out: &mut TcpStream,
    head: &Head,
    upstream_port: u16,
) -> io::Result<()> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream_port))?;
    up.write_all(&head.raw)?;
    io::copy(&mut client.take(head.content_length()), &mut up)?;
    let mut reply = BufReader::new(up);
    let resp = read_head(&mut reply).ok_or_else(|| io::Error::other("no reply upstream"))?;
    let mut body = Vec::new();
    (&mut reply)
        .take(resp.content_length())
        .read_to_end(&mut body)?;
    // Re-written with `Connection: close`: one request per connection.
    let status_line = resp.raw.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut text = String::from_utf8_lossy(status_line).trim_end().to_owned();
    text.push_str("\r\n");
    for (k, v) in &resp.headers {
        if k != "connection" && k != "content-length" {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    text.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    out.write_all(text.as_bytes())?;
    out.write_all(&body)
}

fn answer_as_skewed_s3(out: &mut TcpStream, head: &Head, skew_secs: i64) -> io::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let s3_now = now + skew_secs;
    let signed = head
        .headers
        .get("x-amz-date")
        .and_then(|d| parse_amz_date(d))
        .unwrap_or(0);
    if (signed - s3_now).abs() > 15 * 60 {
        let body = s3_error_xml(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        );
        let date = http_date(s3_now as u64);
        return respond(
            out,
            403,
            &[("Date", &date), ("Content-Type", "application/xml")],
            &body,
        );
    }
    respond(out, 200, &[], "")
}

/// `20261128T021751Z` -> seconds since the epoch.
fn parse_amz_date(s: &str) -> Option<i64> {
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        s.get(0..4)?,
        s.get(4..6)?,
        s.get(6..8)?,
        s.get(9..11)?,
        s.get(11..13)?,
        s.get(13..15)?
    );
    let t = memory_monitor::core::iso8601::parse_iso8601(&iso).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64)
}

/// IMF-fixdate, as S3 writes its `Date` header.
pub(crate) fn http_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = Utc::from_unix_ms(unix_secs * 1000);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(unix_secs / 86_400 % 7) as usize],
        t.day,
        MONTHS[(t.month - 1) as usize],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}
