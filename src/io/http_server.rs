//! The `/metrics` and `/healthz` endpoint (METRICS_ADDR): a small HTTP/1.1
//! server on its own thread. One request per connection, then close. Each
//! connection gets a short-lived thread with a small stack, a read timeout
//! and an overall deadline; beyond [`MAX_CONNECTIONS`] open at once a new
//! connection is closed at once. Nothing here can slow the sampling loop.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::core::http::{self, Refusal, Route, HEAD_MAX};
use crate::core::metrics::{self, Health, ProcessStats, Registry};
use crate::io::log;
use crate::sys::clock;

/// Connections served at once; more are closed unanswered.
pub const MAX_CONNECTIONS: usize = 16;
/// No byte for this long ends the connection.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole request head must arrive within this.
const HEAD_DEADLINE: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const STACK_BYTES: usize = 128 * 1024;

/// Brings figures owned by other threads (uploads, spool) up to date right
/// before a scrape is rendered.
pub type Collect = Box<dyn Fn(&Registry) + Send + Sync>;

/// Binds `addr` and serves on a thread. Returns the bound address (for
/// port 0 in tests).
pub fn spawn(
    addr: SocketAddr,
    registry: Arc<Registry>,
    collect: Option<Collect>,
) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let collect: Arc<Option<Collect>> = Arc::new(collect);
    thread::Builder::new()
        .name("http".into())
        .stack_size(STACK_BYTES)
        .spawn(move || accept_loop(&listener, &registry, &collect))?;
    Ok(bound)
}

fn accept_loop(listener: &TcpListener, registry: &Arc<Registry>, collect: &Arc<Option<Collect>>) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) => {
                log::warn("metrics-accept-failed", &[("error", &e)]);
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            drop(stream);
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let (open2, registry) = (Arc::clone(&open), Arc::clone(registry));
        let collect = Arc::clone(collect);
        let spawned = thread::Builder::new()
            .name("http-conn".into())
            .stack_size(STACK_BYTES)
            .spawn(move || {
                serve(stream, &registry, &collect);
                open2.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Reads one request head and answers it.
fn serve(mut stream: TcpStream, registry: &Registry, collect: &Option<Collect>) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let reply = match read_head(&mut stream) {
        Ok(Some(Ok(route))) => {
            if let (Route::Metrics, Some(c)) = (route, collect) {
                c(registry);
            }
            answer(route, registry)
        }
        Ok(Some(Err(refusal))) => refuse(refusal),
        // EOF or timeout before a whole head: just close.
        Ok(None) | Err(_) => return,
    };
    let _ = stream.write_all(&reply);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    // Drain briefly (bounded in time and bytes) so that closing with unread
    // input does not reset the reply before the client has read it.
    let until = Instant::now() + Duration::from_millis(200);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut sink = [0u8; 1024];
    let mut drained = 0usize;
    while Instant::now() < until && drained < 64 * 1024 {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => drained += n,
            _ => break,
        }
    }
}

/// `Ok(None)`: the client went quiet or away before a whole head.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<Result<Route, Refusal>>> {
    let mut buf = [0u8; HEAD_MAX];
    let mut len = 0;
    let deadline = Instant::now() + HEAD_DEADLINE;
    loop {
        // With a full buffer this is a whole head or a refusal (431).
        match http::parse_head(&buf[..len]) {
            Ok(Some(req)) => return Ok(Some(Ok(http::route(req.path)))),
            Ok(None) => {}
            Err(r) => return Ok(Some(Err(r))),
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        let n = stream.read(&mut buf[len..])?;
        if n == 0 {
            return Ok(None);
        }
        len += n;
    }
}

fn refuse(r: Refusal) -> Vec<u8> {
    let (status, reason) = r.status();
    http::response(status, reason, TEXT, &format!("{}\n", r.reason()))
}

const TEXT: &str = "text/plain; charset=utf-8";
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

fn answer(route: Route, registry: &Registry) -> Vec<u8> {
    match route {
        Route::Metrics => {
            let body = registry.render(&process_stats());
            http::response(200, "OK", PROMETHEUS, &body)
        }
        Route::Health => match registry.health(Instant::now()) {
            Health::Ok => http::response(200, "OK", TEXT, "200 ok\n"),
            Health::Waiting => http::response(200, "OK", TEXT, "200 waiting\n"),
            Health::Stuck(d) => http::response(
                503,
                "Service Unavailable",
                TEXT,
                &format!(
                    "503 the sampling loop has not woken up for {:.1}s (more than three intervals)\n",
                    d.as_secs_f64()
                ),
            ),
        },
        Route::NotFound => http::response(404, "Not Found", TEXT, "404 try /metrics or /healthz\n"),
    }
}

/// `/proc/self`: resident memory, CPU time and start time. Missing pieces
/// read as 0 rather than failing the scrape.
pub fn process_stats() -> ProcessStats {
    let ticks = clock::ticks_per_second() as f64;
    let mut out = ProcessStats::default();
    if let Ok(status) = fs::read("/proc/self/status") {
        let s = crate::core::status::scan_all(&status);
        out.resident_bytes = s.vm_rss.unwrap_or(0);
    }
    let btime = fs::read("/proc/stat")
        .ok()
        .and_then(|s| metrics::parse_btime(&s));
    if let Some((utime, stime, start)) = fs::read("/proc/self/stat")
        .ok()
        .and_then(|s| metrics::parse_self_stat(&s))
    {
        out.cpu_seconds = (utime.saturating_add(stime)) as f64 / ticks;
        out.start_time_seconds = match btime {
            Some(b) => b as f64 + start as f64 / ticks,
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        };
    }
    out
}
