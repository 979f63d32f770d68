//! Bucket, region and endpoint -> the URL of one object. Pure: no I/O.
//!
//! AWS regional virtual-hosted style by default
//! (`https://{bucket}.s3.{region}.amazonaws.com/{key}`); a custom endpoint
//! (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`) for S3-compatible stores.
//! Path-style (`{endpoint}/{bucket}/{key}`) when forced, when the endpoint
//! host is an IP address or `localhost`, or when the bucket name cannot be a
//! DNS label (dots break TLS wildcard certificates, as in the AWS SDKs).

use core::net::{Ipv4Addr, Ipv6Addr};
use std::fmt;

use crate::core::hex::push_percent;

/// Where a bucket is, as the settings say (`config::S3Config` is one).
pub trait Location {
    fn bucket(&self) -> &str;
    fn region(&self) -> &str;
    /// A custom endpoint URL (S3-compatible stores), if any.
    fn endpoint(&self) -> Option<&str>;
    fn force_path_style(&self) -> bool;
}

/// The DNS suffix of an AWS region: the China partition has its own.
pub fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// S3 limits a key to 1024 bytes of UTF-8.
const MAX_KEY_BYTES: usize = 1024;

/// Why an S3 location cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    BadRegion(String),
    BadBucket(String),
    BadEndpoint { url: String, why: &'static str },
    BadKey { key: String, why: &'static str },
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRegion(r) => write!(
                f,
                "AWS_REGION {r:?}: expected lower-case letters, digits and '-'"
            ),
            Self::BadBucket(b) => write!(
                f,
                "S3_BUCKET {b:?}: expected 3-255 of A-Z, a-z, 0-9, '.', '-', '_'"
            ),
            Self::BadEndpoint { url, why } => write!(f, "AWS_ENDPOINT_URL {url:?}: {why}"),
            Self::BadKey { key, why } => write!(f, "s3 key {key:?}: {why}"),
        }
    }
}

impl std::error::Error for EndpointError {}

/// Where objects of one bucket live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` or `http`.
    scheme: &'static str,
    /// Host (and `:port` when given) that requests go to.
    host: String,
    /// Path prefix of a custom endpoint, without trailing `/` (usually empty).
    base_path: String,
    bucket: String,
    region: String,
    path_style: bool,
}

/// One object's request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUrl {
    /// Full URL, key percent-encoded.
    pub url: String,
    /// The `Host` header value (signed).
    pub host: String,
}

impl Endpoint {
    pub fn new(s3: &impl Location) -> Result<Endpoint, EndpointError> {
        let region = s3.region();
        let region_ok = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(EndpointError::BadRegion(region.to_owned()));
        }
        let bucket = s3.bucket();
        // Legacy names (upper case, `_`, up to 255) stay valid (NAMES.md),
        // and go path-style like any name that cannot be a DNS label.
        let bucket_ok = (3..=255).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !bucket_ok {
            return Err(EndpointError::BadBucket(bucket.to_owned()));
        }
        let dns_bucket = bucket.len() <= 63
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let (scheme, host, base_path) = match s3.endpoint() {
            Some(url) => split_url(url)?,
            None => ("https", aws_host(region), String::new()),
        };
        let path_style = s3.force_path_style() || !dns_bucket || host_is_ip_or_localhost(&host);
        Ok(Endpoint {
            scheme,
            host,
            base_path,
            bucket: bucket.to_owned(),
            region: region.to_owned(),
            path_style,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn path_style(&self) -> bool {
        self.path_style
    }

    /// The URL and `Host` of `key`.
    pub fn object(&self, key: &str) -> Result<ObjectUrl, EndpointError> {
        if key.is_empty() {
            return Err(EndpointError::BadKey {
                key: key.to_owned(),
                why: "empty",
            });
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(EndpointError::BadKey {
                key: key.to_owned(),
                why: "longer than 1024 bytes",
            });
        }
        let encoded = encode_key(key);
        let (host, path) = if self.path_style {
            (
                self.host.clone(),
                format!("{}/{}/{}", self.base_path, self.bucket, encoded),
            )
        } else {
            (
                format!("{}.{}", self.bucket, self.host),
                format!("{}/{}", self.base_path, encoded),
            )
        };
        let url = format!("{}://{}{}", self.scheme, host, path);
        Ok(ObjectUrl { url, host })
    }

    /// `s3://bucket/key`, the form the AWS CLI takes.
    pub fn s3_uri(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, key)
    }

    /// A link to the object in the AWS console.
    pub fn console_url(&self, key: &str) -> String {
        format!(
            "https://s3.console.aws.amazon.com/s3/object/{}?region={}&prefix={}",
            self.bucket,
            self.region,
            encode_query(key)
        )
    }
}

fn aws_host(region: &str) -> String {
    format!("s3.{region}.{}", dns_suffix(region))
}

/// `scheme://authority[/base]` -> (scheme, authority, base path without trailing `/`).
fn split_url(url: &str) -> Result<(&'static str, String, String), EndpointError> {
    let bad = |why| EndpointError::BadEndpoint {
        url: url.to_owned(),
        why,
    };
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        ("https", rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        ("http", rest)
    } else {
        return Err(bad("expected http:// or https://"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    let allowed =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']');
    if !authority.bytes().all(allowed) {
        return Err(bad(
            "host may hold only letters, digits, '.', '-', ':' and [IPv6]",
        ));
    }
    if path.contains(['?', '#']) {
        return Err(bad("no query or fragment allowed"));
    }
    let base = path.trim_end_matches('/');
    if !base.bytes().all(|b| is_unreserved(b) || b == b'/') {
        return Err(bad("path may hold only unreserved characters"));
    }
    Ok((scheme, authority.to_ascii_lowercase(), base.to_owned()))
}

fn host_is_ip_or_localhost(authority: &str) -> bool {
    if authority.starts_with('[') {
        let inner = authority
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or("");
        return inner.parse::<Ipv6Addr>().is_ok();
    }
    let host = authority.split(':').next().unwrap_or("");
    host == "localhost" || host.parse::<Ipv4Addr>().is_ok()
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// S3 key encoding (the URI-encode of SigV4): unreserved bytes and `/` kept,
/// every other byte of the UTF-8 as `%XX` upper-case.
pub fn encode_key(key: &str) -> String {
    encode(key, true)
}

fn encode_query(s: &str) -> String {
    encode(s, false)
}

fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            push_percent(&mut out, b);
        }
    }
    out
}

#[cfg(test)]
mod tests;
