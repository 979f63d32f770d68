//! A real `moto_server` (AWS STS, IAM, S3 and EC2 metadata) on a free
//! loopback port, plus a minimal SigV4 signer for S3 PUTs so tests can prove
//! that credentials work without depending on the crate's own signer.
//! Include with `#[path = "common/moto.rs"] mod moto;`.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ring::{digest, hmac};

pub(crate) struct Moto {
    pub port: u16,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

impl Moto {
    /// Starts moto. With `no_auth_actions = Some(n)`, only the first `n`
    /// API actions skip authentication: after them moto verifies SigV4
    /// signatures, session tokens and IAM policies like AWS does.
    pub(crate) fn start(no_auth_actions: Option<u32>) -> Moto {
        let status = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            panic!("moto not installed: run `just setup`");
        }
        for _attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new("moto_server");
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Some(n) = no_auth_actions {
                cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
            }
            let child = cmd.spawn().expect("spawn moto_server");
            let mut moto = Moto { port, child };
            if moto.wait_ready(Duration::from_secs(30)) {
                return moto;
            }
            drop(moto);
        }
        panic!("moto_server did not start on a free port in 3 attempts");
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false; // lost the port race, or crashed
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let url = format!("{}/moto-api/", self.url());
                if agent()
                    .get(&url)
                    .call()
                    .is_ok_and(|r| r.status().as_u16() < 500)
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An IAM call, routed to IAM by a credential scope moto reads but does
    /// not check while unauthenticated actions remain.
    pub(crate) fn iam(&self, form: &[(&str, &str)]) -> (u16, String) {
        let routing =
            "AWS4-HMAC-SHA256 Credential=AKIAROUTING/20260101/us-east-1/iam/aws4_request, \
                       SignedHeaders=host, Signature=00";
        let response = agent()
            .post(&self.url())
            .header("Authorization", routing)
            .send_form(form.iter().copied());
        read(response.expect("iam request"))
    }

    /// Creates role `name` with an inline policy allowing all of S3.
    pub(crate) fn create_role_allowing_s3(&self, name: &str) {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"oidc"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
        let (status, body) = self.iam(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", trust),
        ]);
        assert_eq!(status, 200, "CreateRole: {body}");
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let (status, body) = self.iam(&[
            ("Action", "PutRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("PolicyName", "s3"),
            ("PolicyDocument", policy),
        ]);
        assert_eq!(status, 200, "PutRolePolicy: {body}");
    }

    /// An unsigned bucket creation (counts as one unauthenticated action).
    pub(crate) fn create_bucket(&self, bucket: &str) {
        let response = agent()
            .put(&format!("{}/{bucket}", self.url()))
            .send_empty()
            .expect("create bucket");
        let (status, body) = read(response);
        assert_eq!(status, 200, "CreateBucket: {body}");
    }

    /// The object as moto stores it (moto's S3 answers unsigned GETs only
    /// while authentication is off, so this signs too).
    pub(crate) fn get_object(&self, bucket: &str, key: &str, creds: &Keys<'_>) -> (u16, Vec<u8>) {
        let path = format!("/{bucket}/{key}");
        let request = signed(
            agent().get(&format!("{}{path}", self.url())),
            "GET",
            &path,
            self.port,
            b"",
            creds,
        );
        let mut response = request.call().expect("get object");
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_to_vec().expect("read body"),
        )
    }

    /// A SigV4-signed S3 PUT of `body`; returns status and reply text.
    pub(crate) fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        creds: &Keys<'_>,
    ) -> (u16, String) {
        let path = format!("/{bucket}/{key}");
        let request = signed(
            agent().put(&format!("{}{path}", self.url())),
            "PUT",
            &path,
            self.port,
            body,
            creds,
        );
        read(request.send(body).expect("put object"))
    }
}

/// What signs a request: the credentials under test.
pub(crate) struct Keys<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .http_status_as_error(false)
        .proxy(None)
        .build();
    config.into()
}

fn read(mut response: http::Response<ureq::Body>) -> (u16, String) {
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
        .as_ref()
        .to_vec()
}

/// `(YYYYMMDD, YYYYMMDDTHHMMSSZ)` for now, UTC.
fn amz_dates() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{year:04}{month:02}{day:02}");
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    (date, stamp)
}

/// Adds SigV4 headers (service `s3`, region `us-east-1`) to a request whose
/// path needs no URI-encoding.
fn signed<B>(
    request: ureq::RequestBuilder<B>,
    method: &str,
    path: &str,
    port: u16,
    body: &[u8],
    keys: &Keys<'_>,
) -> ureq::RequestBuilder<B> {
    let (date, stamp) = amz_dates();
    let payload = hex(digest::digest(&digest::SHA256, body).as_ref());
    let host = format!("127.0.0.1:{port}");
    let mut headers = vec![
        ("host", host.as_str()),
        ("x-amz-content-sha256", &payload),
        ("x-amz-date", &stamp),
    ];
    if let Some(token) = keys.session_token {
        headers.push(("x-amz-security-token", token));
    }
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!("{method}\n{path}\n\n{canonical_headers}\n{signed_headers}\n{payload}");
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let k_date = hmac(format!("AWS4{}", keys.secret_access_key).as_bytes(), &date);
    let k_signing = hmac(&hmac(&hmac(&k_date, "us-east-1"), "s3"), "aws4_request");
    let signature = hex(&hmac(&k_signing, &to_sign));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        keys.access_key_id
    );
    let mut request = request.header("Authorization", authorization);
    for (k, v) in headers.into_iter().filter(|(k, _)| *k != "host") {
        request = request.header(k, v);
    }
    request
}
