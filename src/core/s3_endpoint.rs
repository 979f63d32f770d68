//! Bucket, region and endpoint -> the URL of one object. Pure: no I/O.
//!
//! AWS regional virtual-hosted style by default
//! (`https://{bucket}.s3.{region}.amazonaws.com/{key}`); a custom endpoint
//! (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`) for S3-compatible stores.
//! Path-style (`{endpoint}/{bucket}/{key}`) when forced, when the endpoint
//! host is an IP address or `localhost`, or when the bucket name cannot be a
//! DNS label (dots break TLS wildcard certificates, as in the AWS SDKs).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

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
mod tests {
    use super::*;

    /// The settings' fields, as `config::S3Config` holds them.
    struct S3Config {
        bucket: String,
        region: String,
        endpoint: Option<String>,
        force_path_style: bool,
    }

    impl Location for S3Config {
        fn bucket(&self) -> &str {
            &self.bucket
        }
        fn region(&self) -> &str {
            &self.region
        }
        fn endpoint(&self) -> Option<&str> {
            self.endpoint.as_deref()
        }
        fn force_path_style(&self) -> bool {
            self.force_path_style
        }
    }

    fn cfg(endpoint: Option<&str>, force: bool) -> S3Config {
        S3Config {
            bucket: "dumps-bucket".into(),
            region: "eu-west-1".into(),
            endpoint: endpoint.map(str::to_owned),
            force_path_style: force,
        }
    }

    fn url(endpoint: Option<&str>, force: bool, key: &str) -> String {
        Endpoint::new(&cfg(endpoint, force))
            .unwrap()
            .object(key)
            .unwrap()
            .url
    }

    #[test]
    fn aws_default_is_virtual_hosted_https() {
        let e = Endpoint::new(&cfg(None, false)).unwrap();
        let o = e.object("p/pod-2024-01-02-03-04-05-spike.pprof").unwrap();
        assert_eq!(
            o.url,
            "https://dumps-bucket.s3.eu-west-1.amazonaws.com/p/pod-2024-01-02-03-04-05-spike.pprof"
        );
        assert_eq!(o.host, "dumps-bucket.s3.eu-west-1.amazonaws.com");
        assert_eq!(e.s3_uri("p/k"), "s3://dumps-bucket/p/k");
        assert_eq!(
            e.console_url("p/a b"),
            "https://s3.console.aws.amazon.com/s3/object/dumps-bucket?region=eu-west-1&prefix=p%2Fa%20b"
        );
    }

    #[test]
    fn aws_forced_path_style_and_china() {
        assert_eq!(
            url(None, true, "k"),
            "https://s3.eu-west-1.amazonaws.com/dumps-bucket/k"
        );
        let mut c = cfg(None, false);
        c.region = "cn-north-1".into();
        assert_eq!(
            Endpoint::new(&c).unwrap().object("k").unwrap().url,
            "https://dumps-bucket.s3.cn-north-1.amazonaws.com.cn/k"
        );
    }

    #[test]
    fn dotted_bucket_goes_path_style() {
        let mut c = cfg(None, false);
        c.bucket = "my.dumps".into();
        assert_eq!(
            Endpoint::new(&c).unwrap().object("k").unwrap().url,
            "https://s3.eu-west-1.amazonaws.com/my.dumps/k"
        );
    }

    #[test]
    fn custom_endpoints() {
        assert_eq!(
            url(Some("https://minio.example.com"), false, "k"),
            "https://dumps-bucket.minio.example.com/k"
        );
        assert_eq!(
            url(Some("https://minio.example.com/"), true, "k"),
            "https://minio.example.com/dumps-bucket/k"
        );
        assert_eq!(
            url(Some("http://minio.example.com:9000/s3/"), true, "k"),
            "http://minio.example.com:9000/s3/dumps-bucket/k"
        );
        assert_eq!(
            url(Some("https://R2.Example.com"), false, "k"),
            "https://dumps-bucket.r2.example.com/k"
        );
    }

    #[test]
    fn ips_and_localhost_are_path_style() {
        let o = Endpoint::new(&cfg(Some("http://127.0.0.1:9000"), false))
            .unwrap()
            .object("a/b")
            .unwrap();
        assert_eq!(o.url, "http://127.0.0.1:9000/dumps-bucket/a/b");
        assert_eq!(o.host, "127.0.0.1:9000");
        assert_eq!(
            url(Some("http://localhost:9000"), false, "k"),
            "http://localhost:9000/dumps-bucket/k"
        );
        assert_eq!(
            url(Some("https://[::1]:9000"), false, "k"),
            "https://[::1]:9000/dumps-bucket/k"
        );
        assert_eq!(
            url(Some("https://10.0.0.7"), false, "k"),
            "https://10.0.0.7/dumps-bucket/k"
        );
        // A name that merely starts with digits is DNS.
        assert_eq!(
            url(Some("https://127.example.com"), false, "k"),
            "https://dumps-bucket.127.example.com/k"
        );
        assert_eq!(
            url(Some("https://localhost.example.com"), false, "k"),
            "https://dumps-bucket.localhost.example.com/k"
        );
    }

    #[test]
    fn key_encoding() {
        assert_eq!(encode_key("a/b-c_d.e~f"), "a/b-c_d.e~f");
        assert_eq!(encode_key("test$file.text"), "test%24file.text");
        assert_eq!(
            encode_key("a b+c=d&e?f#g%h"),
            "a%20b%2Bc%3Dd%26e%3Ff%23g%25h"
        );
        assert_eq!(encode_key("pod-ü/x:y"), "pod-%C3%BC/x%3Ay");
        assert_eq!(
            url(None, false, "dir//x"),
            "https://dumps-bucket.s3.eu-west-1.amazonaws.com/dir//x"
        );
    }

    #[test]
    fn bad_inputs_are_named() {
        let mut c = cfg(None, false);
        c.region = "eu-west-1.evil.com/".into();
        assert!(matches!(
            Endpoint::new(&c),
            Err(EndpointError::BadRegion(_))
        ));
        c = cfg(None, false);
        c.bucket = "Bad Bucket".into();
        assert!(matches!(
            Endpoint::new(&c),
            Err(EndpointError::BadBucket(_))
        ));
        for u in [
            "ftp://x",
            "minio:9000",
            "https://",
            "https://a@b",
            "https://h/p?q=1",
            "http://h/%zz",
        ] {
            let err = Endpoint::new(&cfg(Some(u), false)).unwrap_err();
            assert!(
                err.to_string().starts_with("AWS_ENDPOINT_URL"),
                "{u}: {err}"
            );
        }
        let e = Endpoint::new(&cfg(None, false)).unwrap();
        assert!(e.object("").is_err());
        assert!(e.object(&"k".repeat(1025)).is_err());
        assert!(e.object(&"k".repeat(1024)).is_ok());
    }

    #[test]
    fn legacy_bucket_names_stay_valid_and_go_path_style() {
        for name in ["Legacy_Bucket", "UPPER", &"a".repeat(64)] {
            let mut c = cfg(None, false);
            c.bucket = name.to_owned();
            let e = Endpoint::new(&c).unwrap();
            assert!(e.path_style(), "{name}");
            assert_eq!(
                e.object("k").unwrap().url,
                format!("https://s3.eu-west-1.amazonaws.com/{name}/k")
            );
        }
        let mut c = cfg(None, false);
        c.bucket = "a".repeat(256);
        assert!(Endpoint::new(&c).is_err());
        assert_eq!(dns_suffix("cn-north-1"), "amazonaws.com.cn");
        assert_eq!(dns_suffix("eu-west-1"), "amazonaws.com");
    }
}
