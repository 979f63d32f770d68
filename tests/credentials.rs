//! The credential chain against real servers: moto_server (STS, IAM, S3,
//! IMDS) and small local HTTP endpoints that check what they are sent
//! (container credentials with an Authorization token, a strict IMDSv2).

#[path = "common/moto.rs"]
mod moto;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use memory_monitor::io::s3::credentials::{chain, Chain, Provide, Source};
use memory_monitor::io::s3::Credentials;
use moto::{Keys, Moto};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/test";
/// Any JWT-shaped string is accepted by moto.
const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl";

// ---------------------------------------------------------------- harness

fn scratch(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("mm-creds-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A chain over exactly `vars` (plus `HOME` = an empty scratch dir unless
/// given, and IMDS off unless asked for): nothing leaks in from this machine.
fn chain_of(vars: &[(&str, String)]) -> Chain {
    let mut env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    env.entry("HOME".into())
        .or_insert_with(|| scratch("home").display().to_string());
    env.entry("AWS_EC2_METADATA_DISABLED".into())
        .or_insert_with(|| "true".into());
    chain(&|k| env.get(k).cloned(), "us-east-1")
}

fn now() -> SystemTime {
    SystemTime::now()
}

/// ISO-8601 UTC text for `t`, as credential endpoints write it.
fn iso(t: SystemTime) -> String {
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
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
}

type Handler = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// A real HTTP/1.1 server on a free loopback port: one thread, one request
/// per connection, every request recorded.
struct Endpoint {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Endpoint {
    fn start(handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Endpoint {
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

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, path: &str) -> usize {
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
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let request = Seen {
        method,
        path,
        headers,
    };
    let (status, reply) = handler(&request);
    seen.lock().unwrap().push(request);
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
}

fn creds_json(id: &str, expires: SystemTime) -> String {
    format!(
        r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"{id}","SecretAccessKey":"secret-{id}","Token":"token-{id}","Expiration":"{}"}}"#,
        iso(expires)
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

// ------------------------------------------------------------------ IRSA

#[test]
fn irsa_end_to_end_credentials_sign_an_s3_put_that_moto_verifies() {
    // After 4 unauthenticated actions (CreateRole, PutRolePolicy,
    // CreateBucket, AssumeRoleWithWebIdentity) moto checks every signature,
    // session token and IAM policy.
    let moto = Moto::start(Some(4));
    moto.create_role_allowing_s3("test");
    moto.create_bucket("dumps");
    let dir = scratch("irsa");
    let token = write(&dir, "token", &format!("{JWT}\n"));
    let mut chain = chain_of(&[
        ("AWS_ROLE_ARN", ROLE_ARN.into()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        ("AWS_ROLE_SESSION_NAME", "memory-monitor-test".into()),
        ("AWS_ENDPOINT_URL_STS", format!("{}/", moto.url())),
    ]);
    let c = chain.credentials(now()).expect("credentials from STS");
    assert_eq!(chain.source(), Some(Source::WebIdentity));
    assert!(c.access_key_id.starts_with("ASIA"), "{c:?}");
    let token = c.session_token.clone().expect("session token");
    let left = c
        .expires
        .expect("expiry")
        .duration_since(now())
        .expect("expires in the future");
    assert!(
        left > Duration::from_secs(50 * 60) && left <= Duration::from_secs(3600),
        "{left:?}"
    );

    let keys = Keys {
        access_key_id: &c.access_key_id,
        secret_access_key: &c.secret_access_key,
        session_token: Some(&token),
    };
    let (status, body) = moto.put_object("dumps", "pod-a/baseline.pprof", b"\x1f\x8bheap", &keys);
    assert_eq!(status, 200, "PUT with STS credentials: {body}");
    let (status, stored) = moto.get_object("dumps", "pod-a/baseline.pprof", &keys);
    assert_eq!((status, stored.as_slice()), (200, &b"\x1f\x8bheap"[..]));

    // The check is real: a wrong secret or a missing token is refused.
    let wrong = Keys {
        secret_access_key: "not-the-secret",
        ..keys
    };
    let (status, body) = moto.put_object("dumps", "x", b"x", &wrong);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    let tokenless = Keys {
        session_token: None,
        ..keys
    };
    let (status, body) = moto.put_object("dumps", "x", b"x", &tokenless);
    assert_eq!(status, 403, "{body}");

    // Cached: the same credentials come back without another STS call.
    assert_eq!(chain.credentials(now()).unwrap(), c);
}

#[test]
fn irsa_sts_error_is_surfaced_with_code_and_message() {
    let sts = Endpoint::start(|_| {
        let body = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Couldn't retrieve verification key from your identity provider</Message></Error><RequestId>r</RequestId></ErrorResponse>"#;
        (400, body.to_owned())
    });
    let dir = scratch("irsa-err");
    let token = write(&dir, "token", JWT);
    let mut chain = chain_of(&[
        ("AWS_ROLE_ARN", ROLE_ARN.into()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        ("AWS_ENDPOINT_URL", sts.url("/")),
    ]);
    let err = chain.credentials(now()).unwrap_err().to_string();
    assert_eq!(
        err,
        "web identity credentials: status 400 InvalidIdentityToken: Couldn't retrieve verification key from your identity provider"
    );
    assert!(!err.contains(JWT));
    let seen = sts.seen();
    assert_eq!((seen.len(), seen[0].method.as_str()), (1, "POST"));
    assert_eq!(
        seen[0].headers.get("content-type").map(String::as_str),
        Some("application/x-www-form-urlencoded")
    );
    // A missing token file names the file.
    std::fs::remove_file(&token).unwrap();
    let err = chain.credentials(now()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "web identity credentials: read {}:",
            token.display()
        )),
        "{err}"
    );
}

// --------------------------------------------------------------- profiles

#[test]
fn profile_static_keys_from_the_credentials_file() {
    let dir = scratch("profile");
    let creds = write(&dir, "credentials", "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\n[ci]\naws_access_key_id = AKIACI\naws_secret_access_key = ci/secret\naws_session_token = citoken\n");
    let mut chain = chain_of(&[
        ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
        ("AWS_CONFIG_FILE", dir.join("absent").display().to_string()),
        ("AWS_PROFILE", "ci".into()),
    ]);
    let c = chain.credentials(now()).unwrap();
    assert_eq!(chain.source(), Some(Source::Profile));
    let want = Credentials {
        access_key_id: "AKIACI".into(),
        secret_access_key: "ci/secret".into(),
        session_token: Some("citoken".into()),
        expires: None,
    };
    assert_eq!(c, want);
    // Default paths: $HOME/.aws/credentials.
    let home = scratch("home-default");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    write(
        &home.join(".aws"),
        "credentials",
        "[default]\naws_access_key_id = AKIAHOME\naws_secret_access_key = h\n",
    );
    let mut chain = chain_of(&[("HOME", home.display().to_string())]);
    assert_eq!(chain.credentials(now()).unwrap().access_key_id, "AKIAHOME");
}

#[test]
fn profile_errors_name_the_file_and_line() {
    let dir = scratch("profile-bad");
    let config = write(
        &dir,
        "config",
        "[profile p]\nregion = us-east-1\nthis line is broken\n",
    );
    let mut chain = chain_of(&[
        ("AWS_CONFIG_FILE", config.display().to_string()),
        ("AWS_PROFILE", "p".into()),
    ]);
    let err = chain.credentials(now()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "aws profile file {}: line 3: expected 'key = value'",
            config.display()
        )
    );
    let config = write(
        &dir,
        "config2",
        "[profile p]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
    );
    let mut chain = chain_of(&[
        ("AWS_CONFIG_FILE", config.display().to_string()),
        ("AWS_PROFILE", "p".into()),
    ]);
    let err = chain.credentials(now()).unwrap_err().to_string();
    assert_eq!(err, "profile credentials: profile p: role_arn with source_profile is not supported (use web_identity_token_file)");
}

#[test]
fn web_identity_profile_goes_to_sts() {
    let moto = Moto::start(None);
    let dir = scratch("profile-wi");
    let token = write(&dir, "token", JWT);
    let config = write(
        &dir,
        "config",
        &format!(
            "[default]\nregion = us-east-1\n\n[profile irsa]\nrole_arn = {ROLE_ARN}\nweb_identity_token_file = {}\nrole_session_name = from-profile\n",
            token.display()
        ),
    );
    let mut chain = chain_of(&[
        ("AWS_CONFIG_FILE", config.display().to_string()),
        ("AWS_PROFILE", "irsa".into()),
        ("AWS_ENDPOINT_URL_STS", moto.url()),
    ]);
    let c = chain
        .credentials(now())
        .expect("credentials via profile web identity");
    assert_eq!(chain.source(), Some(Source::Profile));
    assert!(
        c.access_key_id.starts_with("ASIA") && c.session_token.is_some() && c.expires.is_some(),
        "{c:?}"
    );
}

// ------------------------------------------------------------- container

#[test]
fn container_credentials_send_the_authorization_token() {
    let expires = now() + Duration::from_secs(3600);
    let server =
        Endpoint::start(
            move |req| match req.headers.get("authorization").map(String::as_str) {
                Some("Bearer pod-identity-token") => (200, creds_json("ASIACONTAINER", expires)),
                _ => (
                    401,
                    r#"{"code":"AccessDenied","message":"bad token"}"#.to_owned(),
                ),
            },
        );
    let mut chain = chain_of(&[
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            server.url("/v1/credentials"),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "Bearer pod-identity-token".into(),
        ),
    ]);
    let c = chain.credentials(now()).unwrap();
    assert_eq!(chain.source(), Some(Source::Container));
    assert_eq!(c.access_key_id, "ASIACONTAINER");
    assert_eq!(c.session_token.as_deref(), Some("token-ASIACONTAINER"));
    assert_eq!(
        server.seen()[0].headers.get("accept").map(String::as_str),
        Some("application/json")
    );

    let mut wrong = chain_of(&[
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            server.url("/v1/credentials"),
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer stale".into()),
    ]);
    let err = wrong.credentials(now()).unwrap_err().to_string();
    assert_eq!(
        err,
        "container credentials: status 401 AccessDenied: bad token"
    );
    assert!(!err.contains("stale"));
}

#[test]
fn container_token_file_is_reread_on_every_fetch() {
    let dir = scratch("container-file");
    let token_file = write(&dir, "token", "first-token\n");
    let server = Endpoint::start(|req| {
        let id = match req.headers.get("authorization").map(String::as_str) {
            Some("first-token") => "ASIAFIRST",
            Some("second-token") => "ASIASECOND",
            _ => return (401, "{}".to_owned()),
        };
        // Two minutes left: inside the refresh margin, so every call fetches.
        (
            200,
            creds_json(id, SystemTime::now() + Duration::from_secs(120)),
        )
    });
    let mut chain = chain_of(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/creds")),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        // The file wins over the variable, as in the SDKs.
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored".into()),
    ]);
    assert_eq!(chain.credentials(now()).unwrap().access_key_id, "ASIAFIRST");
    write(&dir, "token", "second-token");
    assert_eq!(
        chain.credentials(now()).unwrap().access_key_id,
        "ASIASECOND"
    );
    assert_eq!(server.count("/creds"), 2);
}

// ------------------------------------------------------------------ IMDS

#[test]
fn imds_flow_against_moto() {
    let moto = Moto::start(None);
    let mut chain = chain_of(&[
        ("AWS_EC2_METADATA_DISABLED", "false".into()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", moto.url()),
    ]);
    let c = chain
        .credentials(now())
        .expect("credentials from moto's IMDS");
    assert_eq!(chain.source(), Some(Source::Imds));
    assert!(
        !c.access_key_id.is_empty() && c.session_token.is_some() && c.expires.is_some(),
        "{c:?}"
    );
}

/// IMDSv2 as EC2 enforces it: no token, no answer.
fn strict_imds(expires_in: Duration) -> Endpoint {
    let issued = Arc::new(AtomicU32::new(0));
    Endpoint::start(move |req| {
        let token = req.headers.get("x-aws-ec2-metadata-token");
        match (req.method.as_str(), req.path.as_str()) {
            ("PUT", "/latest/api/token") => {
                match req.headers.get("x-aws-ec2-metadata-token-ttl-seconds") {
                    Some(ttl) if ttl == "21600" => {
                        let n = issued.fetch_add(1, Ordering::SeqCst);
                        (200, format!("imds-token-{n}"))
                    }
                    _ => (400, String::new()),
                }
            }
            (_, _) if !token.is_some_and(|t| t.starts_with("imds-token-")) => (401, String::new()),
            ("GET", "/latest/meta-data/iam/security-credentials/") => (200, "node-role".to_owned()),
            ("GET", "/latest/meta-data/iam/security-credentials/node-role") => {
                (200, creds_json("ASIAIMDS", SystemTime::now() + expires_in))
            }
            _ => (404, String::new()),
        }
    })
}

#[test]
fn imds_v2_token_is_required_and_near_expiry_refreshes() {
    let imds = strict_imds(Duration::from_secs(120));
    let mut chain = chain_of(&[
        ("AWS_EC2_METADATA_DISABLED", "false".into()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url("/")),
    ]);
    let c = chain
        .credentials(now())
        .expect("credentials from strict IMDS");
    assert_eq!(
        (c.access_key_id.as_str(), chain.source()),
        ("ASIAIMDS", Some(Source::Imds))
    );
    let creds_path = "/latest/meta-data/iam/security-credentials/node-role";
    assert_eq!(imds.count(creds_path), 1);
    // Expiration is now + 2 min, inside the 5-minute margin: fetch again.
    chain.credentials(now()).unwrap();
    assert_eq!(imds.count(creds_path), 2);
    assert_eq!(imds.count("/latest/api/token"), 2);
    // Every GET carried the session token.
    assert!(imds
        .seen()
        .iter()
        .filter(|s| s.method == "GET")
        .all(|s| s.headers.contains_key("x-aws-ec2-metadata-token")));

    // Long-lived credentials are cached.
    let imds = strict_imds(Duration::from_secs(6 * 3600));
    let mut chain = chain_of(&[
        ("AWS_EC2_METADATA_DISABLED", "false".into()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url("")),
    ]);
    chain.credentials(now()).unwrap();
    chain.credentials(now()).unwrap();
    assert_eq!(imds.count(creds_path), 1);
    // ...until the caller's clock comes within 5 minutes of expiry.
    chain
        .credentials(now() + Duration::from_secs(6 * 3600 - 200))
        .unwrap();
    assert_eq!(imds.count(creds_path), 2);
}

#[test]
fn imds_unreachable_means_no_credentials_found() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut chain = chain_of(&[
        ("AWS_EC2_METADATA_DISABLED", "false".into()),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://127.0.0.1:{closed}"),
        ),
    ]);
    let started = std::time::Instant::now();
    let err = chain.credentials(now()).unwrap_err().to_string();
    assert!(
        err.starts_with("no aws credentials found: env: AWS_ACCESS_KEY_ID not set;"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "ec2 imds credentials: http://127.0.0.1:{closed}/latest/api/token:"
        )),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

// ------------------------------------------------- refresh and fail-over

#[test]
fn failed_refresh_keeps_valid_credentials_then_re_resolves_the_chain() {
    let fail = Arc::new(AtomicBool::new(false));
    let fail2 = fail.clone();
    let server = Endpoint::start(move |_| {
        if fail2.load(Ordering::SeqCst) {
            (
                500,
                r#"{"code":"InternalError","message":"agent restarting"}"#.to_owned(),
            )
        } else {
            (
                200,
                creds_json(
                    "ASIACONTAINER",
                    SystemTime::now() + Duration::from_secs(600),
                ),
            )
        }
    });
    let dir = scratch("failover");
    let creds_file = dir.join("credentials");
    let mut chain = chain_of(&[
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            creds_file.display().to_string(),
        ),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/c")),
    ]);
    let t0 = now();
    assert_eq!(
        chain.credentials(t0).unwrap().access_key_id,
        "ASIACONTAINER"
    );
    fail.store(true, Ordering::SeqCst);
    // 6 minutes later: inside the margin, refresh fails, still valid → kept.
    let t1 = t0 + Duration::from_secs(360);
    assert_eq!(
        chain.credentials(t1).unwrap().access_key_id,
        "ASIACONTAINER"
    );
    let reported = chain
        .take_refresh_error()
        .expect("refresh error reported")
        .to_string();
    assert_eq!(
        reported,
        "container credentials: status 500 InternalError: agent restarting"
    );
    assert_eq!(server.count("/c"), 2);
    // Expired and still failing: an error, never stale keys.
    let t2 = t0 + Duration::from_secs(700);
    assert!(chain.credentials(t2).is_err());
    // A profile appears: the whole chain is resolved again and it wins.
    write(
        &dir,
        "credentials",
        "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = p\n",
    );
    assert_eq!(chain.credentials(t2).unwrap().access_key_id, "AKIAPROFILE");
    assert_eq!(chain.source(), Some(Source::Profile));
}

// ------------------------------------------------------------- precedence

#[test]
fn precedence_env_then_profile_then_irsa_then_container_then_imds() {
    let moto = Moto::start(None);
    let dir = scratch("precedence");
    let token = write(&dir, "token", JWT);
    let profile = write(
        &dir,
        "credentials",
        "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = p\n",
    );
    let container = Endpoint::start(|_| {
        (
            200,
            creds_json(
                "ASIACONTAINER",
                SystemTime::now() + Duration::from_secs(3600),
            ),
        )
    });
    let imds = strict_imds(Duration::from_secs(3600));
    let all: Vec<(&str, String)> = vec![
        ("AWS_ACCESS_KEY_ID", "AKIAENV".into()),
        ("AWS_SECRET_ACCESS_KEY", "e".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", profile.display().to_string()),
        ("AWS_ROLE_ARN", ROLE_ARN.into()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        ("AWS_ENDPOINT_URL_STS", moto.url()),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url("/c")),
        ("AWS_EC2_METADATA_DISABLED", "false".into()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url("")),
    ];
    let expected = [
        (Source::Env, "AKIAENV"),
        (Source::Profile, "AKIAPROFILE"),
        (Source::WebIdentity, "ASIA"),
        (Source::Container, "ASIACONTAINER"),
        (Source::Imds, "ASIAIMDS"),
    ];
    // Drop the winner each round: the next link must take over.
    let drop_per_round: [&[&str]; 4] = [
        &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        &["AWS_SHARED_CREDENTIALS_FILE"],
        &["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"],
        &["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
    ];
    let mut vars = all;
    for (round, (source, prefix)) in expected.into_iter().enumerate() {
        if round > 0 {
            let gone = drop_per_round[round - 1];
            vars.retain(|(k, _)| !gone.contains(k));
            if gone.contains(&"AWS_SHARED_CREDENTIALS_FILE") {
                vars.push((
                    "AWS_SHARED_CREDENTIALS_FILE",
                    dir.join("absent").display().to_string(),
                ));
            }
        }
        let mut chain = chain_of(&vars);
        let c = chain
            .credentials(now())
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(chain.source(), Some(source), "round {round}");
        assert!(c.access_key_id.starts_with(prefix), "round {round}: {c:?}");
    }
    // Lower links were never asked while a higher one answered.
    assert_eq!(container.count("/c"), 1);
    assert_eq!(imds.count("/latest/api/token"), 1);
}
