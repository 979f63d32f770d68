//! The chain's caching and refresh rules, with a scripted source so each
//! step is checked against an exact call count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn temp(id: &str, expires: u64) -> Credentials {
    Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: "SECRETSECRET".to_owned(),
        session_token: Some("TOKENTOKEN".to_owned()),
        expires: Some(at(expires)),
    }
}

/// Answers from a script, one entry per call, and counts calls.
struct Scripted {
    script: Vec<Result<Credentials, CredError>>,
    calls: Arc<AtomicUsize>,
}

impl Provide for Scripted {
    fn credentials(&mut self, _now: SystemTime) -> Result<Credentials, CredError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.script.is_empty() {
            return Err(CredError::Reply {
                source: Source::Container,
                what: "script exhausted".to_owned(),
            });
        }
        self.script.remove(0)
    }
}

fn chain_with(script: Vec<Result<Credentials, CredError>>) -> (Chain, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let env = |_: &str| None;
    let mut chain = chain(&env, "us-east-1");
    chain.active = Some((
        Source::Container,
        Box::new(Scripted {
            script,
            calls: calls.clone(),
        }),
    ));
    (chain, calls)
}

fn outage() -> CredError {
    CredError::Service {
        source: Source::Container,
        status: Some(503),
        code: String::new(),
        message: "down".to_owned(),
    }
}

#[test]
fn cached_until_five_minutes_before_expiry() {
    let (mut chain, calls) = chain_with(vec![Ok(temp("A", 3600)), Ok(temp("B", 7200))]);
    assert_eq!(chain.credentials(at(0)).unwrap().access_key_id, "A");
    assert_eq!(chain.credentials(at(3299)).unwrap().access_key_id, "A");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(chain.credentials(at(3300)).unwrap().access_key_id, "B");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn short_lived_credentials_are_fetched_every_time() {
    let (mut chain, calls) = chain_with(vec![Ok(temp("A", 120)), Ok(temp("B", 240))]);
    assert_eq!(chain.credentials(at(0)).unwrap().access_key_id, "A");
    assert_eq!(chain.credentials(at(1)).unwrap().access_key_id, "B");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn failed_refresh_keeps_valid_credentials_and_reports() {
    let script = vec![Ok(temp("A", 3600)), Err(outage()), Ok(temp("B", 7200))];
    let (mut chain, calls) = chain_with(script);
    chain.credentials(at(0)).unwrap();
    assert_eq!(chain.credentials(at(3400)).unwrap().access_key_id, "A");
    let reported = chain.take_refresh_error().unwrap().to_string();
    assert_eq!(reported, "container credentials: status 503 error: down");
    assert!(chain.take_refresh_error().is_none());
    // Retried on the very next call.
    assert_eq!(chain.credentials(at(3401)).unwrap().access_key_id, "B");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn failed_refresh_after_expiry_is_an_error_and_the_chain_starts_over() {
    let (mut chain, _calls) = chain_with(vec![Ok(temp("A", 3600)), Err(outage())]);
    chain.credentials(at(0)).unwrap();
    assert!(chain.credentials(at(3600)).is_err());
    assert_eq!(chain.source(), None);
    // Nothing is configured in this environment except IMDS, which is off.
    let env = |k: &str| (k == "AWS_EC2_METADATA_DISABLED").then(|| "true".to_owned());
    let mut empty = super::chain(&env, "us-east-1");
    let err = empty.credentials(at(0)).unwrap_err().to_string();
    assert_eq!(
        err,
        "no aws credentials found: env: AWS_ACCESS_KEY_ID not set; \
         profile default: not found in the shared config or credentials file; \
         web identity: AWS_ROLE_ARN not set; \
         container credentials: AWS_CONTAINER_CREDENTIALS_[FULL|RELATIVE]_URI not set; \
         ec2 imds: AWS_EC2_METADATA_DISABLED=true"
    );
}

#[test]
fn static_env_credentials_are_returned_as_is() {
    let env = |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some("AKIAENV".to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("envsecret".to_owned()),
        "AWS_SESSION_TOKEN" => Some("envtoken".to_owned()),
        _ => None,
    };
    let mut chain = chain(&env, "us-east-1");
    let c = chain.credentials(at(0)).unwrap();
    assert_eq!(chain.source(), Some(Source::Env));
    assert_eq!(
        (c.access_key_id.as_str(), c.secret_access_key.as_str()),
        ("AKIAENV", "envsecret")
    );
    assert_eq!(
        (c.session_token.as_deref(), c.expires),
        (Some("envtoken"), None)
    );
    assert_eq!(chain.credentials(at(u64::from(u32::MAX))).unwrap(), c);
}

#[test]
fn errors_and_debug_never_show_secrets() {
    let c = temp("AKIAVISIBLE", 10);
    let shown = format!("{c:?}");
    assert!(shown.contains("AKIAVISIBLE"));
    assert!(
        !shown.contains("SECRETSECRET") && !shown.contains("TOKENTOKEN"),
        "{shown}"
    );
    let env = |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some("AKIA".to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("bad secret\n".to_owned()),
        _ => None,
    };
    let err = chain(&env, "x").credentials(at(0)).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("AWS_SECRET_ACCESS_KEY contains whitespace"),
        "{text}"
    );
    assert!(!text.contains("bad secret"), "{text}");
}

#[test]
fn needs_refresh_handles_far_future_and_past() {
    let far = Credentials {
        expires: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 4)),
        ..temp("A", 0)
    };
    assert!(!needs_refresh(&far, at(0)));
    assert!(needs_refresh(&temp("A", 0), at(10)));
    assert!(!still_valid(&temp("A", 10), at(10)));
}
