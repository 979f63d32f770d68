//! Shared harness of the credential-chain tests: a chain over exactly the
//! variables a test gives, and a real HTTP/1.1 endpoint (one request per
//! connection, every request recorded) for container credentials and IMDS.
//! Include with `#[path = "common/cred_endpoint.rs"] mod cred_endpoint;`
//! beside `mod common;` and `#[path = "common/http.rs"] mod http;`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use memory_monitor::io::s3::credentials::{chain, Chain};

use crate::http::{read_request, respond};

pub(crate) const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/test";
/// Any JWT-shaped string is accepted by moto.
pub(crate) const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl";

// ---------------------------------------------------------------- harness

/// A chain over exactly `vars` (plus `HOME` = an empty scratch dir unless
/// given, and IMDS off unless asked for): nothing leaks in from this machine.
pub(crate) fn chain_of(vars: &[(&str, String)]) -> Chain {
    let mut env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    env.entry("HOME".into())
        .or_insert_with(|| crate::common::scratch("home").display().to_string());
    env.entry("AWS_EC2_METADATA_DISABLED".into())
        .or_insert_with(|| "true".into());
    chain(&|k| env.get(k).cloned(), "us-east-1")
}

pub(crate) fn now() -> SystemTime {
    SystemTime::now()
}

/// ISO-8601 UTC text for `t`, as credential endpoints write it.
pub(crate) fn iso(t: SystemTime) -> String {
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", t.duration_since(UNIX_EPOCH).unwrap().as_secs()),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .expect("run date");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// One request as a test endpoint saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
}

pub(crate) type Handler = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// A real HTTP/1.1 server on a free loopback port: one thread, one request
/// per connection, every request recorded.
pub(crate) struct Endpoint {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Endpoint {
    pub(crate) fn start(
        handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static,
    ) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let handler: Box<Handler> = Box::new(handler);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve(stream, &*handler, &seen2);
                }
            }
        });
        Endpoint { port, seen, stop }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub(crate) fn count(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<Seen>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let Some((head, _body)) = read_request(&mut reader) else {
        return;
    };
    let request = Seen {
        method: head.method,
        path: head.path,
        headers: head.headers,
    };
    let (status, reply) = handler(&request);
    seen.lock().unwrap().push(request);
    let mut stream = stream;
    let _ = respond(
        &mut stream,
        status,
        &[("Content-Type", "application/json")],
        &reply,
    );
}

pub(crate) fn creds_json(id: &str, expires: SystemTime) -> String {
    format!(
        r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"{id}","SecretAccessKey":"secret-{id}","Token":"token-{id}","Expiration":"{}"}}"#,
        iso(expires)
    )
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}
