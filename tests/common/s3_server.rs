//! A real S3-compatible server for tests: `s3s-fs` (which verifies SigV4)
//! on a free loopback port, storing bucket `B` under `ROOT/B/`.
//! Include with `#[path = "common/s3_server.rs"] mod s3_server;` beside
//! `mod common;`.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::thread;
use std::time::{Duration, Instant};

pub(crate) const ACCESS_KEY: &str = "AKIDMEMORYMONITORTEST";
pub(crate) const SECRET_KEY: &str = "memory-monitor-test-secret-key/0123456789";

pub(crate) struct S3Server {
    pub root: PathBuf,
    pub port: u16,
    child: Option<Child>,
    log: PathBuf,
}

/// The `s3s-fs` binary, or a panic telling how to install it.
pub(crate) fn s3s_fs_binary() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("s3s-fs not installed: run `just setup`"))
}

/// The one scratch-directory maker (tests/common/mod.rs).
pub(crate) use crate::common::scratch as temp_dir;

pub(crate) fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

impl S3Server {
    /// Starts a server with `buckets` created.
    pub(crate) fn start(buckets: &[&str]) -> S3Server {
        let root = temp_dir("s3root");
        for b in buckets {
            fs::create_dir_all(root.join(b)).expect("create bucket dir");
        }
        let log = root.with_extension("log");
        let mut s = S3Server {
            root,
            port: free_port(),
            child: None,
            log,
        };
        s.restart();
        s
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where `bucket/key` lands on disk.
    pub(crate) fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }

    /// Contents of every object-metadata file s3s-fs wrote
    /// (`ROOT/.bucket-*.object-*.metadata.json`: the `x-amz-meta-*` headers).
    pub(crate) fn metadata_files(&self) -> Vec<String> {
        let Ok(dir) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(".bucket-") && name.ends_with(".metadata.json")
            })
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .collect()
    }

    pub(crate) fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (the port stays ours by convention).
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// (Re)starts on the same port and waits until it accepts connections.
    pub(crate) fn restart(&mut self) {
        self.stop();
        let log = File::create(&self.log).expect("create server log");
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn s3s-fs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                panic!("s3s-fs exited with {status} on port {}: {log}", self.port);
            }
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not listen on port {} within 15 s",
                self.port
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.root);
        let _ = fs::remove_file(&self.log);
    }
}

/// Compares two files in chunks (never both whole in memory).
pub(crate) fn same_contents(a: &Path, b: &Path) -> bool {
    let (Ok(mut fa), Ok(mut fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => panic!("read: {e}"),
        }
    }
    n
}

/// Deterministic, incompressible test bytes (xorshift), written in chunks.
pub(crate) fn fill(out: &mut impl std::io::Write, len: u64, seed: u64) {
    let mut x = seed | 1;
    let mut buf = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bytes = x.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        let n = usize::try_from(left.min(buf.len() as u64)).expect("fits");
        out.write_all(&buf[..n]).expect("write test bytes");
        left -= n as u64;
    }
}

/// A gzip stream (stored blocks, so it costs no CPU to make) whose content
/// is `len` bytes of [`fill`]: a dump the spool accepts as complete.
pub(crate) fn fill_gzip(out: &mut impl std::io::Write, len: u64, seed: u64) {
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::none());
    fill(&mut gz, len, seed);
    gz.finish().expect("finish gzip stream");
}

impl S3Server {
    /// Keys of every object in `bucket` (files under its directory), sorted.
    pub(crate) fn keys(&self, bucket: &str) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            let Ok(entries) = fs::read_dir(dir) else {
                return;
            };
            for e in entries.filter_map(Result::ok) {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if let Ok(rel) = path.strip_prefix(base) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        let base = self.root.join(bucket);
        let mut out = Vec::new();
        walk(&base, &base, &mut out);
        out.sort();
        out
    }
}
