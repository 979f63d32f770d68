//! The credential chain against real servers: moto_server (STS, IAM, S3)
//! for web identity / IRSA, and shared credentials and config files. The
//! endpoint-based links (container, IMDS) and the chain's order are in
//! tests/credentials_endpoints.rs.

mod common;
#[path = "common/cred_endpoint.rs"]
mod cred_endpoint;
#[path = "common/http.rs"]
mod http;
#[path = "common/moto.rs"]
mod moto;

use std::time::Duration;

use common::scratch;
use cred_endpoint::*;
use memory_monitor::io::s3::credentials::{Provide, Source};
use memory_monitor::io::s3::Credentials;
use moto::{Keys, Moto};

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
