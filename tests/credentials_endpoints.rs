//! The credential chain's endpoint links against real servers: container
//! credentials with an Authorization token, a strict IMDSv2, moto's IMDS;
//! refresh and fail-over; the order of the links.

mod common;
#[path = "common/cred_endpoint.rs"]
mod cred_endpoint;
#[path = "common/http.rs"]
mod http;
#[path = "common/moto.rs"]
mod moto;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::scratch;
use cred_endpoint::*;
use memory_monitor::io::s3::credentials::{Provide, Source};
use moto::Moto;

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
