//! Helpers for tests/capture.rs (beside tests/common/mod.rs, which it
//! builds on): scratch directories removed on drop, a real Unix-socket
//! server in a thread, and a child copy of the test binary for tests that
//! must measure or kill a whole process.

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use memory_monitor::config::{CaptureConfig, SpoolConfig};
use memory_monitor::io::spool::Meta;

use crate::common::scratch;

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        TempDir(scratch(tag))
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn capture_cfg(max_bytes: u64, read_timeout: Duration) -> CaptureConfig {
    CaptureConfig {
        socket_override: None,
        max_bytes,
        connect_timeout: Duration::from_secs(2),
        read_timeout,
        total_timeout: Duration::from_secs(600),
    }
}

pub(crate) fn spool_cfg(dir: &Path, max_bytes: u64) -> SpoolConfig {
    SpoolConfig {
        dir: dir.to_path_buf(),
        max_bytes,
    }
}

pub(crate) fn meta(key: &str, pid: u32, reason: &str, unix_ms: u64) -> Meta {
    Meta {
        key: key.to_owned(),
        pod: "pod-a".to_owned(),
        target: "demo-target".to_owned(),
        pid,
        reason: reason.to_owned(),
        unix_ms,
        rss_anon_bytes: Some(123 << 20),
        baseline_bytes: Some(100 << 20),
        jemalloc: None,
        sha256: None,
        bytes: 0,
    }
}

/// Names in `dir`, sorted (without the spool's `.lock`).
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .expect("read spool dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("utf-8 name")
        })
        .filter(|n| n != ".lock") // the spool's lock, held while it is open
        .collect();
    out.sort();
    out
}

pub(crate) fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Binds `path`, accepts one client, reads its one-line request, then hands
/// the connection to `reply`. The thread returns the request it read.
pub(crate) fn serve<F>(path: &Path, reply: F) -> JoinHandle<Vec<u8>>
where
    F: FnOnce(UnixStream) + Send + 'static,
{
    let listener = UnixListener::bind(path).expect("bind test socket");
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let request = read_line(&mut conn);
        reply(conn);
        request
    })
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

/// Writes `total` zero bytes in 64 KiB pieces (or until the client leaves).
pub(crate) fn write_zeros(conn: &mut UnixStream, total: u64) {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let mut left = total;
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        if conn.write_all(&ZEROS[..n]).is_err() {
            return;
        }
        left -= n as u64;
    }
}

/// A complete gzip stream of `total` zero bytes (stored blocks: no CPU to
/// make), written in pieces as a dump server would; stops when the client
/// goes away.
pub(crate) fn write_gzip_zeros(conn: &mut UnixStream, total: u64) {
    let mut gz = flate2::write::GzEncoder::new(conn, flate2::Compression::none());
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let mut left = total;
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        if gz.write_all(&ZEROS[..n]).is_err() {
            return;
        }
        left -= n as u64;
    }
    let _ = gz.finish();
}

/// A complete gzip stream of exactly `len` bytes (at least 23).
pub(crate) fn gzip_of_len(len: usize) -> Vec<u8> {
    let stored = |n: usize| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        gz.write_all(&vec![0x5a; n]).unwrap();
        gz.finish().unwrap()
    };
    let overhead = stored(len).len() - len;
    let out = stored(len - overhead);
    assert_eq!(out.len(), len, "one stored block");
    out
}

/// Lower-case hex SHA-256, as the spool records it.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Waits until the client closes its end (it read what it wanted or gave up).
pub(crate) fn wait_for_close(mut conn: UnixStream) {
    let mut sink = [0u8; 64];
    while conn.read(&mut sink).map(|n| n > 0).unwrap_or(false) {}
}

/// Runs this same test binary with only `test_name`, `role` in the
/// environment variable `MM_CAPTURE_CHILD`, and stdout piped.
pub(crate) fn spawn_child(test_name: &str, role: &str, envs: &[(&str, &Path)]) -> Child {
    let exe = std::env::current_exe().expect("path of the test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env("MM_CAPTURE_CHILD", role)
        .stdout(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn the test binary as a child")
}

/// Reads the child's stdout until a line containing `prefix`; returns what follows it.
pub(crate) fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    let out = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(out).lines();
    for line in lines.by_ref() {
        let line = line.expect("child stdout");
        // libtest prints "test NAME ... " without a newline before our output.
        if let Some(at) = line.find(prefix) {
            let rest = line[at + prefix.len()..].to_owned();
            // Keep draining so the child never blocks on a full pipe.
            thread::spawn(move || for _ in lines {});
            return rest;
        }
    }
    panic!("child exited without printing {prefix:?}");
}

/// kB value of `field` in /proc/self/status.
pub(crate) fn status_kib(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}
