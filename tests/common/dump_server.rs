//! A scripted heap-dump socket server in a thread, for tests that run the
//! real binary: `stats` gets `{}`, each `dump` gets what the script says for
//! its number (0 = the first dump request): a real gzip stream, or a close
//! without a byte (the dump failed in the target).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;

#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// Close without a reply.
    Close,
    /// A complete gzip stream of these bytes.
    Gzip(Vec<u8>),
    /// The same, in 8 pieces with this pause before each.
    Slow(Vec<u8>, Duration),
}

/// How `stats` is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stats {
    /// `{}` at once.
    Empty,
    /// One space a second, forever (never idle, never done).
    Trickle,
}

pub(crate) struct DumpServer {
    pub path: PathBuf,
    dumps: Arc<AtomicUsize>,
}

impl DumpServer {
    /// Serves at `path` until the test process ends.
    pub(crate) fn start(
        path: &Path,
        script: impl Fn(usize) -> Reply + Send + Sync + 'static,
    ) -> DumpServer {
        DumpServer::start_with(path, Stats::Empty, script)
    }

    /// `start` with `stats` answered as told. Each connection is served on
    /// its own thread.
    pub(crate) fn start_with(
        path: &Path,
        stats: Stats,
        script: impl Fn(usize) -> Reply + Send + Sync + 'static,
    ) -> DumpServer {
        let script = Arc::new(script);
        let listener = UnixListener::bind(path).expect("bind dump socket");
        let dumps = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&dumps);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let count = Arc::clone(&count);
                let script = Arc::clone(&script);
                std::thread::spawn(move || serve_one(conn, stats, &count, &*script));
            }
        });
        DumpServer {
            path: path.to_path_buf(),
            dumps,
        }
    }

    /// `dump` requests served so far.
    pub(crate) fn dumps(&self) -> usize {
        self.dumps.load(Ordering::SeqCst)
    }
}

impl Drop for DumpServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve_one(
    mut conn: UnixStream,
    stats: Stats,
    count: &AtomicUsize,
    script: &dyn Fn(usize) -> Reply,
) {
    match read_line(&mut conn).as_slice() {
        b"stats\n" if stats == Stats::Trickle => {
            while conn.write_all(b" ").is_ok() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        b"stats\n" => {
            let _ = conn.write_all(b"{}");
        }
        b"dump\n" => match script(count.fetch_add(1, Ordering::SeqCst)) {
            Reply::Close => {}
            Reply::Gzip(data) => {
                let _ = conn.write_all(&gzip(&data));
            }
            Reply::Slow(data, pause) => {
                let body = gzip(&data);
                for piece in body.chunks(body.len().div_ceil(8)) {
                    std::thread::sleep(pause);
                    if conn.write_all(piece).is_err() {
                        return;
                    }
                }
            }
        },
        _ => {}
    }
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn read_line(conn: &mut UnixStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while conn.read(&mut byte).map(|n| n == 1).unwrap_or(false) {
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    line
}
