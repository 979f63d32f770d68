//! One S3 PUT: the body streamed from the file (never loaded whole) over
//! ureq with rustls + ring, signed by SigV4 with the digest the capture
//! recorded (a SHA-256 pass over the file only for a dump without one).
//! Every request phase has a timeout; a stop request cuts a body short after
//! [`STOP_GRACE`].

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ring::digest;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, SendBody};

use super::endpoint::Endpoint;
pub use super::put_error::{ClientError, PutError, PutErrorKind};
use super::sign::{sign_s3, Request};
use super::Credentials;
use crate::config::S3Config;
use crate::core::hex::hex;
use crate::core::iso8601::parse_http_date;
use crate::core::xml::error_code_message;

/// How long a body in flight may go on once a stop was requested.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Error bodies are read up to this size; the rest is dropped.
const ERROR_BODY_MAX: u64 = 64 * 1024;
/// A CA bundle larger than this is refused (the Mozilla bundle is ~220 KiB).
const CA_FILE_MAX: u64 = 4 * 1024 * 1024;
const BUF_BYTES: usize = 64 * 1024;

/// Per-request time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// DNS + TCP + TLS handshake.
    pub connect: Duration,
    /// Sending the request headers.
    pub send_request: Duration,
    /// One socket write of the body making no progress (a stalled peer).
    pub stall: Duration,
    /// From the end of the body to the response headers.
    pub recv_response: Duration,
    /// Reading a (small) response body.
    pub recv_body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            send_request: Duration::from_secs(10),
            stall: Duration::from_secs(30),
            recv_response: Duration::from_secs(30),
            recv_body: Duration::from_secs(10),
        }
    }
}

/// An HTTP agent for one bucket, built once.
pub struct Client {
    agent: Agent,
    endpoint: Endpoint,
}

impl Client {
    pub fn new(s3: &S3Config, timeouts: Timeouts) -> Result<Client, ClientError> {
        let endpoint = Endpoint::new(s3).map_err(ClientError::Endpoint)?;
        let mut builder = Agent::config_builder()
            .timeout_connect(Some(timeouts.connect))
            .timeout_send_request(Some(timeouts.send_request))
            .timeout_per_write(Some(timeouts.stall))
            .timeout_recv_response(Some(timeouts.recv_response))
            .timeout_recv_body(Some(timeouts.recv_body))
            .http_status_as_error(false)
            // A 301 PermanentRedirect (wrong region) is reported, not followed.
            .max_redirects(0)
            // Dumps are rare and large: a pooled idle connection would keep
            // its 2 x 128 KiB buffers (and TLS state) resident for nothing.
            .max_idle_connections(0)
            .user_agent(concat!("memory-monitor/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &s3.ca_file {
            let roots = read_ca_file(path)?;
            builder = builder.tls_config(TlsConfig::builder().root_certs(roots).build());
        }
        Ok(Client {
            agent: builder.build().into(),
            endpoint,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Uploads `obj`. The payload digest is `obj.sha256` (taken while the
    /// dump was captured, so the file is read once) or, for a dump without
    /// one, a hashing pass first; `clock` is read only then, right before
    /// signing, so a slow pass cannot age the signature. Returns the number
    /// of bytes sent.
    pub fn put_file(
        &self,
        obj: &Object<'_>,
        creds: &Credentials,
        clock: &dyn Fn() -> SystemTime,
        stop: &AtomicBool,
    ) -> Result<u64, PutError> {
        let fail = |kind| PutError {
            key: obj.key.to_owned(),
            kind,
        };
        let target = self
            .endpoint
            .object(obj.key)
            .map_err(|e| fail(PutErrorKind::Key(e)))?;
        let mut file = open_dump(obj.path).map_err(|e| fail(PutErrorKind::Open(e)))?;
        let (sha256, len) = match obj.sha256 {
            Some(digest) => {
                let len = file
                    .metadata()
                    .map_err(|e| fail(PutErrorKind::Open(e)))?
                    .len();
                (digest.to_owned(), len)
            }
            None => hash_file(&mut file).map_err(|e| fail(PutErrorKind::Hash(e)))?,
        };
        let headers = Headers::new(&target.host, len, obj.metadata);
        let list = headers.list();
        let req = Request {
            method: "PUT",
            url: &target.url,
            headers: &list,
            payload_sha256: &sha256,
        };
        let signed = sign_s3(&req, creds, self.endpoint.region(), clock())
            .map_err(|e| fail(PutErrorKind::Sign(e)))?;
        let mut builder = self.agent.put(target.url.as_str());
        for (name, value) in list.iter().copied() {
            builder = builder.header(name, value);
        }
        for (name, value) in &signed {
            builder = builder.header(*name, value.as_str());
        }
        let mut body = StopBody {
            inner: file.take(len),
            stop,
            deadline: None,
        };
        let resp = builder
            .send(SendBody::from_reader(&mut body))
            .map_err(|e| fail(PutErrorKind::Send(e)))?;
        reply(resp).map(|()| len).map_err(fail)
    }
}

/// The headers of one PUT that are signed: host, length, type, metadata.
struct Headers<'a> {
    host: &'a str,
    len: String,
    meta_names: Vec<String>,
    metadata: &'a [(&'a str, String)],
}

impl<'a> Headers<'a> {
    fn new(host: &'a str, len: u64, metadata: &'a [(&'a str, String)]) -> Headers<'a> {
        Headers {
            host,
            len: len.to_string(),
            meta_names: metadata
                .iter()
                .map(|(n, _)| format!("x-amz-meta-{n}"))
                .collect(),
            metadata,
        }
    }

    fn list(&self) -> Vec<(&str, &str)> {
        let mut out = vec![
            ("host", self.host),
            ("content-length", self.len.as_str()),
            ("content-type", "application/octet-stream"),
        ];
        out.extend(
            self.meta_names
                .iter()
                .zip(self.metadata)
                .map(|(n, (_, v))| (n.as_str(), v.as_str())),
        );
        out
    }
}

/// What to upload.
#[derive(Debug, Clone, Copy)]
pub struct Object<'a> {
    pub key: &'a str,
    pub path: &'a Path,
    /// `x-amz-meta-*` headers, names without the prefix.
    pub metadata: &'a [(&'a str, String)],
    /// SHA-256 of the file (lower-case hex), when known.
    pub sha256: Option<&'a str>,
}

/// Spool files are ours: never follow a link planted in their place.
fn open_dump(path: &Path) -> io::Result<File> {
    crate::io::capped::open_nofollow(path)
}

/// `Ok` on 2xx; else the status with S3's code, message and `Date`.
fn reply(mut resp: http::Response<ureq::Body>) -> Result<(), PutErrorKind> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let date = resp
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_http_date(v).ok());
    let mut body = Vec::new();
    // Best effort: the status decides; the body only explains a failure.
    let _ = resp
        .body_mut()
        .as_reader()
        .take(ERROR_BODY_MAX)
        .read_to_end(&mut body);
    let (code, message) = match error_code_message(&body) {
        Some((c, m)) => (Some(c), Some(m)),
        None => (None, None),
    };
    Err(PutErrorKind::Status {
        status,
        code,
        message,
        date,
    })
}

pub fn read_ca_file(path: &Path) -> Result<RootCerts, ClientError> {
    let shown = path.display().to_string();
    let pem =
        crate::io::capped::read_capped(path, CA_FILE_MAX).map_err(|cause| ClientError::CaFile {
            path: shown.clone(),
            cause,
        })?;
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(ClientError::CaPem {
                    path: shown,
                    why: e.to_string(),
                })
            }
        }
    }
    if certs.is_empty() {
        return Err(ClientError::CaPem {
            path: shown,
            why: "no PEM certificate found".into(),
        });
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// SHA-256 (lower-case hex) and length of the file, then rewinds it.
pub fn hash_file(file: &mut File) -> io::Result<(String, u64)> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; BUF_BYTES];
    let mut len: u64 = 0;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or(&[]);
        ctx.update(chunk);
        len = len.saturating_add(n as u64);
    }
    file.seek(SeekFrom::Start(0))?;
    Ok((hex(ctx.finish().as_ref()), len))
}

/// The request body: the file, cut short [`STOP_GRACE`] after a stop request.
struct StopBody<'a, R> {
    inner: R,
    stop: &'a AtomicBool,
    deadline: Option<Instant>,
}

impl<R: Read> Read for StopBody<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let deadline = *self.deadline.get_or_insert(now + STOP_GRACE);
            if now >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "stopping: upload abandoned",
                ));
            }
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_pass_matches_known_digests_and_rewinds() {
        let dir = std::env::temp_dir().join(format!("mm-put-hash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"Welcome to Amazon S3.").unwrap();
        let mut f = File::open(&path).unwrap();
        let (h, n) = hash_file(&mut f).unwrap();
        assert_eq!(
            h,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        assert_eq!(n, 21);
        let mut again = String::new();
        f.read_to_string(&mut again).unwrap();
        assert_eq!(again, "Welcome to Amazon S3.");
        std::fs::write(&path, b"").unwrap();
        let (h, n) = hash_file(&mut File::open(&path).unwrap()).unwrap();
        assert_eq!(
            (h.as_str(), n),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                0
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stop_body_gives_up_only_after_the_grace() {
        let stop = AtomicBool::new(false);
        let data = [7u8; 4];
        let mut body = StopBody {
            inner: &data[..],
            stop: &stop,
            deadline: None,
        };
        let mut buf = [0u8; 2];
        assert_eq!(body.read(&mut buf).unwrap(), 2);
        stop.store(true, Ordering::Relaxed);
        assert_eq!(
            body.read(&mut buf).unwrap(),
            2,
            "within the grace the body goes on"
        );
        body.deadline = Some(Instant::now());
        assert!(body.read(&mut buf).is_err());
    }
}
