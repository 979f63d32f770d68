//! The one HTTP/1.1 request reader of the test servers (credential
//! endpoints, the S3 fault proxy, scripted S3 replies): a request head,
//! its headers in lower case, and a `Content-Length` body.
//! Include with `#[path = "common/http.rs"] mod http;`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};

/// One request head as a test server saw it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Head {
    pub method: String,
    /// The request target, as sent (path and query, still percent-encoded).
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    /// The head exactly as received, blank line included (to forward it).
    pub raw: Vec<u8>,
}

impl Head {
    pub(crate) fn content_length(&self) -> u64 {
        self.headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Reads a request (or response) head; `None` at EOF or on a bad line.
pub(crate) fn read_head(reader: &mut impl BufRead) -> Option<Head> {
    let mut head = Head::default();
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    head.raw.extend_from_slice(line.as_bytes());
    let mut parts = line.split_whitespace();
    head.method = parts.next()?.to_owned();
    head.path = parts.next().unwrap_or("").to_owned();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        head.raw.extend_from_slice(h.as_bytes());
        if h.trim().is_empty() {
            return Some(head);
        }
        if let Some((k, v)) = h.split_once(':') {
            head.headers
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
}

/// Reads a whole request: head and body (test bodies are small).
pub(crate) fn read_request(reader: &mut impl BufRead) -> Option<(Head, Vec<u8>)> {
    let head = read_head(reader)?;
    let mut body = Vec::new();
    reader
        .take(head.content_length())
        .read_to_end(&mut body)
        .ok()?;
    Some((head, body))
}

/// Writes a complete response and asks the client to close.
pub(crate) fn respond(
    out: &mut impl Write,
    status: u16,
    extra_headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<()> {
    let mut text = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra_headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    out.write_all(text.as_bytes())
}

/// An S3 XML error body.
pub(crate) fn s3_error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>TEST</RequestId></Error>"
    )
}
