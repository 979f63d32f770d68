//! The request head of the metrics endpoint, parsed without I/O: GET only,
//! at most [`HEAD_MAX`] bytes, HTTP/1.0 or 1.1, strict about what it reads
//! and silent about headers it does not need. The server (`io::http_server`)
//! answers every connection once and closes it.

use std::fmt::Write as _;

/// The longest request head served; longer is `431`.
pub const HEAD_MAX: usize = 8 * 1024;

/// A complete, acceptable request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The path without the query string.
    pub path: &'a str,
}

/// Why a request is refused, with the status it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400: not HTTP/1.x as we know it.
    BadRequest(&'static str),
    /// 405: a method other than GET.
    MethodNotAllowed,
    /// 431: the head is longer than [`HEAD_MAX`].
    HeadTooLarge,
}

impl Refusal {
    pub fn status(self) -> (u16, &'static str) {
        match self {
            Refusal::BadRequest(_) => (400, "Bad Request"),
            Refusal::MethodNotAllowed => (405, "Method Not Allowed"),
            Refusal::HeadTooLarge => (431, "Request Header Fields Too Large"),
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Refusal::BadRequest(why) => why,
            Refusal::MethodNotAllowed => "only GET is served",
            Refusal::HeadTooLarge => "request head over 8 KiB",
        }
    }
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn request_line(line: &[u8]) -> Result<Request<'_>, Refusal> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::BadRequest("malformed request line"));
    };
    if !is_token(method) {
        return Err(Refusal::BadRequest("malformed method"));
    }
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return Err(Refusal::BadRequest("not HTTP/1.0 or HTTP/1.1"));
    }
    if method != b"GET" {
        return Err(Refusal::MethodNotAllowed);
    }
    if target.first() != Some(&b'/') || target.iter().any(|&b| !(0x21..0x7f).contains(&b)) {
        return Err(Refusal::BadRequest("malformed request target"));
    }
    let target =
        std::str::from_utf8(target).map_err(|_| Refusal::BadRequest("malformed request target"))?;
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Ok(Request { path })
}

fn header_line(line: &[u8]) -> Result<(), Refusal> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(Refusal::BadRequest("header line without a colon"))?;
    if !is_token(&line[..colon]) {
        return Err(Refusal::BadRequest("malformed header name"));
    }
    if line[colon + 1..]
        .iter()
        .any(|&b| b != b'\t' && (b < 0x20 || b == 0x7f))
    {
        return Err(Refusal::BadRequest("control character in a header value"));
    }
    Ok(())
}

/// Strips one trailing `\r`.
fn chomp(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses the bytes received so far. `Ok(None)`: the head is not complete
/// yet (read more). Errors as soon as the bytes so far cannot become an
/// acceptable request, so garbage is refused without waiting for more.
pub fn parse_head(buf: &[u8]) -> Result<Option<Request<'_>>, Refusal> {
    let window = &buf[..buf.len().min(HEAD_MAX)];
    let mut lines = window.split(|&b| b == b'\n');
    let mut complete_lines = window.iter().filter(|&&b| b == b'\n').count();
    let mut request = None;
    while complete_lines > 0 {
        complete_lines -= 1;
        let Some(raw) = lines.next() else { break };
        let line = chomp(raw);
        match request {
            None => request = Some(request_line(line)?),
            Some(req) if line.is_empty() => return Ok(Some(req)),
            Some(_) => header_line(line)?,
        }
    }
    if request.is_none() {
        // The request line so far: refuse a bad method or control bytes early.
        let partial = lines.next().unwrap_or(&[]);
        let method = partial.split(|&b| b == b' ').next().unwrap_or(&[]);
        let method_done = partial.contains(&b' ');
        if (method_done && !is_token(method)) || partial.iter().any(|&b| b < 0x20 && b != b'\r') {
            return Err(Refusal::BadRequest("malformed request line"));
        }
    }
    if buf.len() >= HEAD_MAX {
        return Err(Refusal::HeadTooLarge);
    }
    Ok(None)
}

/// Where a GET goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Metrics,
    Health,
    NotFound,
}

pub fn route(path: &str) -> Route {
    match path {
        "/metrics" => Route::Metrics,
        "/healthz" => Route::Health,
        _ => Route::NotFound,
    }
}

/// A whole response; every connection is closed after one.
pub fn response(status: u16, reason: &str, content_type: &str, body: &str) -> Vec<u8> {
    let mut head = String::with_capacity(160);
    let _ = write!(
        head,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status == 405 {
        head.push_str("Allow: GET\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"GET /metrics?x=1 HTTP/1.1\r\nHost: a:9464\r\nUser-Agent: Prometheus/2\r\nAccept: */*\r\n\r\n";

    #[test]
    fn a_scrape_and_every_prefix_of_it() {
        assert_eq!(parse_head(GOOD), Ok(Some(Request { path: "/metrics" })));
        for n in 0..GOOD.len() {
            assert_eq!(parse_head(&GOOD[..n]), Ok(None), "prefix {n}");
        }
        assert_eq!(
            parse_head(b"GET /healthz HTTP/1.0\n\n"),
            Ok(Some(Request { path: "/healthz" }))
        );
    }

    #[test]
    fn refusals() {
        let bad = |s: &[u8]| parse_head(s).unwrap_err().status().0;
        assert_eq!(bad(b"POST /metrics HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(bad(b"HEAD / HTTP/1.1\r\n"), 405);
        assert_eq!(bad(b"GET /metrics HTTP/2.0\r\n\r\n"), 400);
        assert_eq!(bad(b"GET metrics HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(bad(b"GET  /metrics HTTP/1.1\r\n"), 400);
        assert_eq!(bad(b"\x16\x03\x01\x02\x00"), 400);
        assert_eq!(bad(b"G(T / HTTP/1.1"), 400);
        assert_eq!(bad(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"), 400);
        assert_eq!(bad(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), 400);
        assert_eq!(bad(b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n"), 400);
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(HEAD_MAX, b'a');
        assert_eq!(bad(&big), 431);
        big.resize(HEAD_MAX * 4, b'a');
        assert_eq!(bad(&big), 431);
    }

    #[test]
    fn mutated_and_random_heads_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut buf = GOOD.to_vec();
            for _ in 0..(next() % 4) {
                let i = (next() % buf.len() as u64) as usize;
                buf[i] = next() as u8;
            }
            buf.truncate((next() % (buf.len() as u64 + 1)) as usize);
            crate::fuzzing::http_head(&buf);
            let random: Vec<u8> = (0..next() % 64).map(|_| next() as u8).collect();
            crate::fuzzing::http_head(&random);
        }
    }

    #[test]
    fn routes_and_responses() {
        assert_eq!(route("/metrics"), Route::Metrics);
        assert_eq!(route("/healthz"), Route::Health);
        assert_eq!(route("/"), Route::NotFound);
        let r =
            String::from_utf8(response(405, "Method Not Allowed", "text/plain", "no\n")).unwrap();
        assert_eq!(
            r,
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\nAllow: GET\r\n\r\nno\n"
        );
    }
}
