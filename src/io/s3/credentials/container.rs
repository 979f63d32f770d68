//! Container credentials: the ECS agent and EKS Pod Identity. A GET to a
//! local endpoint, optionally with an `Authorization` token (re-read from its
//! file on every fetch), answered with JSON. The JSON shape is shared with
//! EC2 IMDS.

use std::path::PathBuf;
use std::time::Duration;

use super::http::{self, Limits};
use super::settings::Settings;
use super::{
    check_secret, parse_iso8601, read_token, CredError, Credentials, Probe, Provide, Source,
};
use crate::core::credentials_json::{self, JsonError};

/// The ECS agent's address, base of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const ECS_BASE: &str = "http://169.254.170.2";

const LIMITS: Limits = Limits {
    connect: Duration::from_secs(2),
    total: Duration::from_secs(5),
    use_env_proxy: false,
};

/// Where the `Authorization` header comes from.
enum Token {
    Value(String),
    File(PathBuf),
}

/// A container credentials endpoint.
pub struct Container {
    url: String,
    token: Option<Token>,
    agent: ureq::Agent,
}

impl Container {
    /// `token_file` wins over `token`, as in the SDKs; the file is re-read on
    /// every fetch because EKS rotates it.
    pub fn new(url: &str, token: Option<String>, token_file: Option<PathBuf>) -> Container {
        let token = match (token_file, token) {
            (Some(file), _) => Some(Token::File(file)),
            (None, Some(value)) => Some(Token::Value(value)),
            (None, None) => None,
        };
        Container {
            url: url.to_owned(),
            token,
            agent: http::agent(LIMITS),
        }
    }

    fn authorization(&self) -> Result<Option<String>, CredError> {
        let token = match &self.token {
            None => return Ok(None),
            Some(Token::File(path)) => read_token(Source::Container, path)?,
            Some(Token::Value(value)) => value.trim().to_owned(),
        };
        if token.chars().any(char::is_control) {
            let what = "AWS_CONTAINER_AUTHORIZATION_TOKEN holds control characters".to_owned();
            return Err(CredError::Config {
                source: Source::Container,
                what,
            });
        }
        Ok(Some(token))
    }
}

impl Provide for Container {
    fn credentials(&mut self, _now: std::time::SystemTime) -> Result<Credentials, CredError> {
        let http_err = |err| CredError::Http {
            source: Source::Container,
            url: self.url.clone(),
            err,
        };
        let mut request = self
            .agent
            .get(&self.url)
            .header("Accept", "application/json");
        if let Some(token) = self.authorization()? {
            request = request.header("Authorization", token);
        }
        let reply = http::finish(request.call().map_err(http_err)?).map_err(http_err)?;
        if !reply.is_success() {
            return Err(service_error(Source::Container, reply.status, &reply.body));
        }
        parse_json_credentials(&reply.body, Source::Container)
    }
}

/// Fourth link: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS) or
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` (EKS Pod Identity, others).
pub(super) fn probe(s: &Settings) -> Result<Probe, CredError> {
    let url = match (&s.container_relative_uri, &s.container_full_uri) {
        (Some(relative), _) => relative_url(relative)?,
        (None, Some(full)) => {
            check_full_uri(full)?;
            full.trim().to_owned()
        }
        (None, None) => {
            let why =
                "container credentials: AWS_CONTAINER_CREDENTIALS_[FULL|RELATIVE]_URI not set";
            return Ok(Probe::Skip(why.to_owned()));
        }
    };
    let token_file = s.container_token_file.as_deref().map(|f| s.expand(f));
    let provider = Container::new(&url, s.container_token.clone(), token_file);
    Ok(Probe::Use(Source::Container, Box::new(provider)))
}

fn relative_url(relative: &str) -> Result<String, CredError> {
    let relative = relative.trim();
    if !relative.starts_with('/') {
        let what =
            format!("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/', got {relative:?}");
        return Err(CredError::Config {
            source: Source::Container,
            what,
        });
    }
    Ok(format!("{ECS_BASE}{relative}"))
}

/// Plain HTTP only to this host or the ECS/EKS agent addresses: anything else
/// would send the token and receive keys in clear over a network.
fn check_full_uri(full: &str) -> Result<(), CredError> {
    let bad = |what: String| CredError::Config {
        source: Source::Container,
        what,
    };
    let uri: ::http::Uri = full.trim().parse().map_err(|_| {
        bad(format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL: {full:?}"
        ))
    })?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if is_allowed_http_host(host) => Ok(()),
        Some("http") => Err(bad(format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http only to loopback or the ECS/EKS agent, not {host:?}"
        ))),
        _ => Err(bad(format!("AWS_CONTAINER_CREDENTIALS_FULL_URI must be http:// or https://, got {full:?}"))),
    }
}

fn is_allowed_http_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_loopback() => true,
        Ok(ip) => ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]
            .iter()
            .any(|agent| agent.parse::<std::net::IpAddr>().is_ok_and(|a| a == ip)),
        Err(_) => false,
    }
}

/// Credentials JSON from the ECS agent or EKS Pod Identity:
/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`. Never panics.
pub fn parse_container_json(body: &[u8]) -> Result<Credentials, CredError> {
    parse_json_credentials(body, Source::Container)
}

/// The JSON shape shared by container credentials and IMDS (which adds
/// `Code`, `LastUpdated` and `Type`). A `Code` other than `Success` is an
/// error carrying the `Message`.
pub(super) fn parse_json_credentials(
    body: &[u8],
    source: Source,
) -> Result<Credentials, CredError> {
    let reply = |what: String| CredError::Reply { source, what };
    let json = credentials_json::parse(body).map_err(|e| match e {
        JsonError::Malformed(why) => reply(why),
        JsonError::Service { code, message } => CredError::Service {
            source,
            status: None,
            code,
            message,
        },
        JsonError::NoString(name) => reply(format!("no string \"{name}\"")),
        JsonError::NotString(name) => reply(format!("\"{name}\" is not a string")),
    })?;
    check_secret(source, "AccessKeyId", &json.access_key_id)?;
    check_secret(source, "SecretAccessKey", &json.secret_access_key)?;
    if let Some(token) = &json.token {
        check_secret(source, "Token", token)?;
    }
    let expires = match &json.expiration {
        None => None,
        Some(when) => {
            Some(parse_iso8601(when).map_err(|why| reply(format!("Expiration: bad {why}")))?)
        }
    };
    Ok(Credentials {
        access_key_id: json.access_key_id,
        secret_access_key: json.secret_access_key,
        session_token: json.token,
        expires,
    })
}

/// A non-2xx reply: the JSON `code`/`message` (either case) when there is one,
/// else the start of the body.
pub(super) fn service_error(source: Source, status: u16, body: &[u8]) -> CredError {
    let (code, message) = credentials_json::error_fields(body).unwrap_or_default();
    CredError::Service {
        source,
        status: Some(status),
        code: code.unwrap_or_default(),
        message: message.unwrap_or_else(|| http::one_line(&String::from_utf8_lossy(body), 200)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// The shape the ECS agent and the EKS Pod Identity agent send.
    const REPLY: &str = r#"{
    "AccessKeyId": "ASIAIOSFODNN7EXAMPLE",
    "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "Token": "IQoJb3JpZ2luX2VjEXAMPLE==",
    "AccountId": "123456789012",
    "Expiration": "2026-11-22T05:22:34Z"
}"#;

    #[test]
    fn real_shaped_reply() {
        let c = parse_container_json(REPLY.as_bytes()).unwrap();
        assert_eq!(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            c.secret_access_key,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        );
        assert_eq!(
            c.session_token.as_deref(),
            Some("IQoJb3JpZ2luX2VjEXAMPLE==")
        );
        let secs = c
            .expires
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs, 1_795_324_954);
    }

    #[test]
    fn every_truncated_prefix_is_an_error_without_secrets() {
        for cut in 0..REPLY.len() {
            let err = parse_container_json(&REPLY.as_bytes()[..cut])
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("container credentials: bad reply: not JSON"),
                "{err}"
            );
            assert!(!err.contains("wJalr") && !err.contains("IQoJ"), "{err}");
        }
    }

    #[test]
    fn malformed_replies_name_the_field() {
        let cases: [(&str, &str); 6] = [
            ("[]", "not a JSON object"),
            (r#"{"SecretAccessKey":"s"}"#, "no string \"AccessKeyId\""),
            (
                r#"{"AccessKeyId":"a","SecretAccessKey":7}"#,
                "no string \"SecretAccessKey\"",
            ),
            (
                r#"{"AccessKeyId":"a","SecretAccessKey":"s","Token":""}"#,
                "Token is empty",
            ),
            (
                r#"{"AccessKeyId":"a","SecretAccessKey":"s","Expiration":"soon"}"#,
                "Expiration: bad year",
            ),
            (
                r#"{"AccessKeyId":"a","SecretAccessKey":"s","Expiration":1}"#,
                "not a string",
            ),
        ];
        for (body, want) in cases {
            let err = parse_container_json(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
        // Static credentials without token or expiry are allowed.
        let c = parse_container_json(br#"{"AccessKeyId":"a","SecretAccessKey":"s","Token":null}"#)
            .unwrap();
        assert_eq!((c.session_token, c.expires), (None, None));
        // Deep nesting is refused by serde_json's recursion limit, not the stack.
        let deep = "[".repeat(100_000);
        assert!(parse_container_json(deep.as_bytes()).is_err());
    }

    #[test]
    fn full_uri_rules() {
        for ok in [
            "https://creds.example.com/x",
            "http://127.0.0.1:8080/creds",
            "http://localhost/creds",
            "http://[::1]:9/c",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
        ] {
            assert!(check_full_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1/creds",
            "ftp://127.0.0.1/",
            "not a url",
            "http://evil.example/",
        ] {
            let err = check_full_uri(bad).unwrap_err().to_string();
            assert!(err.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"), "{err}");
        }
        assert_eq!(
            relative_url("/v2/credentials/abc").unwrap(),
            "http://169.254.170.2/v2/credentials/abc"
        );
        assert!(relative_url("v2").is_err());
    }

    #[test]
    fn error_replies_surface_code_and_message() {
        let err = service_error(
            Source::Container,
            400,
            br#"{"code":"InvalidToken","message":"Service account token cannot be empty"}"#,
        );
        assert_eq!(
            err.to_string(),
            "container credentials: status 400 InvalidToken: Service account token cannot be empty"
        );
        let err = service_error(Source::Container, 502, b"<html>\nbad gateway</html>");
        assert_eq!(
            err.to_string(),
            "container credentials: status 502 error: <html> bad gateway</html>"
        );
    }
}
