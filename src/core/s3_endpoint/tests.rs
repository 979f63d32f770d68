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
