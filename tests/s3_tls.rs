//! HTTPS to an S3 endpoint whose certificate comes from a private CA:
//! trusted only when `SSL_CERT_FILE` (S3Config.ca_file) names that CA.
//! The server is a minimal rustls HTTP/1.1 responder on a free port.

mod common;
#[path = "common/s3_server.rs"]
mod s3_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::SystemTime;

use memory_monitor::config::S3Config;
use memory_monitor::io::s3::put::Object;
use memory_monitor::io::s3::{Client, Credentials, Timeouts};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Test-only CA and a leaf for 127.0.0.1 / localhost it signed (P-256, 100 years).
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBqTCCAU+gAwIBAgIUaxstAIWgj81RanwFEPdx6xzwDFMwCgYIKoZIzj0EAwIw\nITEfMB0GA1UEAwwWbWVtb3J5LW1vbml0b3IgdGVzdCBDQTAgFw0yNjExMjIwNDM1\nNTlaGA8yMTI2MTAyOTA0MzU1OVowITEfMB0GA1UEAwwWbWVtb3J5LW1vbml0b3Ig\ndGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKiG6S+7OOgJbuIuqDXZ\nzrp4CxwHKkhl+1//RhxlLQivEi9xcLKx2TAOz7GMlZIqpQ9ONpcNtbaCjWFqzfxG\nrY2jYzBhMB0GA1UdDgQWBBTzKO+F7hL4J1gVYAkuzJMD2BAGCDAfBgNVHSMEGDAW\ngBTzKO+F7hL4J1gVYAkuzJMD2BAGCDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB\n/wQEAwICBDAKBggqhkjOPQQDAgNIADBFAiBVIqcIVFx2DSnxkzZ9RJgi3clQVIK2\npiZp53jCa7FYmQIhAN+487D31K37FQgOzs6C0tC65Mm4L6IM/TKgyO7tutBu\n-----END CERTIFICATE-----\n";
const LEAF_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBtzCCAV2gAwIBAgIUE/BmONUlJO7GNQXcpD6EA2lwYiYwCgYIKoZIzj0EAwIw\nITEfMB0GA1UEAwwWbWVtb3J5LW1vbml0b3IgdGVzdCBDQTAgFw0yNjExMjIwNDM1\nNTlaGA8yMTI2MTAyOTA0MzU1OVowFDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYH\nKoZIzj0CAQYIKoZIzj0DAQcDQgAEkv6E75el2iDHe+3KbaTcuasCsqSNgiWYQQ6b\nOKVTj5Op31zmauDrd1d50EDKzQIbLYF247XgsyuRSGZmlGAJ5KN+MHwwGgYDVR0R\nBBMwEYcEfwAAAYIJbG9jYWxob3N0MAkGA1UdEwQCMAAwEwYDVR0lBAwwCgYIKwYB\nBQUHAwEwHQYDVR0OBBYEFKVv/vO9GgbPsaPJSSxPBoHeJXHiMB8GA1UdIwQYMBaA\nFPMo74XuEvgnWBVgCS7MkwPYEAYIMAoGCCqGSM49BAMCA0gAMEUCIQD9KQjgjlmW\ne+oMvAA7wFSC0DhuImyivyd1l8gRzmG1VQIgTucq+Vruy99Uj6TsnkH4FQrs2Jwy\ntO/8YtfXJ0amkzE=\n-----END CERTIFICATE-----\n";
const LEAF_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUlE9dkNQYj6riYSI\nj2YkcxPm/xy041OsfV29Y2mbkE2hRANCAASS/oTvl6XaIMd77cptpNy5qwKypI2C\nJZhBDps4pVOPk6nfXOZq4Ot3V3nQQMrNAhstgXbjteCzK5FIZmaUYAnk\n-----END PRIVATE KEY-----\n";

/// Serves `n` connections: reads one request (headers + body), answers 200.
fn tls_server(n: usize) -> u16 {
    let cert = CertificateDer::from_pem_slice(LEAF_PEM.as_bytes()).expect("leaf pem");
    let key = PrivateKeyDer::from_pem_slice(LEAF_KEY.as_bytes()).expect("key pem");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for tcp in listener.incoming().take(n) {
            let Ok(tcp) = tcp else { continue };
            let conn = rustls::ServerConnection::new(config.clone()).expect("conn");
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let _ = serve(&mut tls);
        }
    });
    port
}

fn serve(stream: &mut (impl Read + Write)) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *stream);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    drop(reader);
    stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")?;
    stream.flush()
}

fn put(port: u16, ca_file: Option<std::path::PathBuf>) -> Result<u64, String> {
    let s3 = S3Config {
        bucket: "dumps".into(),
        prefix: String::new(),
        region: "us-east-1".into(),
        endpoint: Some(format!("https://127.0.0.1:{port}")),
        force_path_style: false,
        ca_file,
    };
    let client = Client::new(&s3, Timeouts::default()).map_err(|e| e.to_string())?;
    let dir = s3_server::temp_dir("tls");
    let dump = dir.join("d.pprof");
    std::fs::write(&dump, b"\x1f\x8bhello").expect("write dump");
    let creds = Credentials {
        access_key_id: "AKID".into(),
        secret_access_key: "secret".into(),
        session_token: None,
        expires: None,
    };
    let stop = AtomicBool::new(false);
    let obj = Object {
        key: "k.pprof",
        path: &dump,
        metadata: &[],
        sha256: None,
    };
    let r = client.put_file(&obj, &creds, &SystemTime::now, &stop);
    let _ = std::fs::remove_dir_all(&dir);
    r.map_err(|e| e.to_string())
}

#[test]
fn private_ca_from_ssl_cert_file_is_trusted() {
    let port = tls_server(2);
    let dir = s3_server::temp_dir("ca");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, CA_PEM).expect("write ca");
    assert_eq!(put(port, Some(ca)), Ok(7));
    let err = put(port, None).expect_err("webpki roots alone must not trust a private CA");
    assert!(err.contains("s3 put k.pprof: send:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unusable_ca_files_are_named() {
    let dir = s3_server::temp_dir("badca");
    let missing = dir.join("missing.pem");
    let err = put(1, Some(missing)).expect_err("missing file");
    assert!(
        err.starts_with("SSL_CERT_FILE ") && err.contains("missing.pem"),
        "{err}"
    );
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    let err = put(1, Some(empty)).expect_err("no certificate");
    assert!(err.contains("no PEM certificate found"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
