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

use flate2::write::GzEncoder;
use flate2::Compression;

#[derive(Debug, Clone)]
pub enum Reply {
    /// Close without a reply.
    Close,
    /// A complete gzip stream of these bytes.
    Gzip(Vec<u8>),
}

pub struct DumpServer {
    pub path: PathBuf,
    dumps: Arc<AtomicUsize>,
}

impl DumpServer {
    /// Serves at `path` until the test process ends.
    pub fn start(path: &Path, script: impl Fn(usize) -> Reply + Send + 'static) -> DumpServer {
        let listener = UnixListener::bind(path).expect("bind dump socket");
        let dumps = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&dumps);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                match read_line(&mut conn).as_slice() {
                    b"stats\n" => {
                        let _ = conn.write_all(b"{}");
                    }
                    b"dump\n" => {
                        let n = count.fetch_add(1, Ordering::SeqCst);
                        if let Reply::Gzip(data) = script(n) {
                            let _ = conn.write_all(&gzip(&data));
                        }
                    }
                    _ => {}
                }
            }
        });
        DumpServer {
            path: path.to_path_buf(),
            dumps,
        }
    }

    /// `dump` requests served so far.
    pub fn dumps(&self) -> usize {
        self.dumps.load(Ordering::SeqCst)
    }
}

impl Drop for DumpServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
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
