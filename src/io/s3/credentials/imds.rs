//! EC2 instance metadata, IMDSv2 only: a session token from
//! `PUT /latest/api/token`, then the role name, then the role's credentials.
//! Short timeouts: off EC2 nothing answers at 169.254.169.254.

use std::time::{Duration, SystemTime};

use super::container::{parse_json_credentials, service_error};
use super::http::{self, Limits, Reply};
use super::settings::Settings;
use super::{CredError, Credentials, Probe, Provide, Source};

const LIMITS: Limits = Limits {
    connect: Duration::from_secs(1),
    total: Duration::from_secs(2),
    use_env_proxy: false,
};

const TOKEN_TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// The instance metadata service at `endpoint` (no trailing `/`).
pub struct Imds {
    endpoint: String,
    agent: ureq::Agent,
}

impl Imds {
    pub fn new(endpoint: &str) -> Imds {
        Imds {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            agent: http::agent(LIMITS),
        }
    }

    fn send(
        &self,
        url: &str,
        request: Result<http::Reply, ureq::Error>,
    ) -> Result<Reply, CredError> {
        let reply = request.map_err(|err| CredError::Http {
            source: Source::Imds,
            url: url.to_owned(),
            err,
        })?;
        if reply.is_success() {
            Ok(reply)
        } else {
            Err(service_error(Source::Imds, reply.status, &reply.body))
        }
    }

    fn token(&self) -> Result<String, CredError> {
        let url = format!("{}/latest/api/token", self.endpoint);
        let result = self
            .agent
            .put(&url)
            .header(TOKEN_TTL_HEADER, "21600")
            .send_empty()
            .and_then(http::finish);
        let reply = self.send(&url, result)?;
        let token = String::from_utf8(reply.body).unwrap_or_default();
        let token = token.trim();
        if token.is_empty() || token.chars().any(|c| c.is_control()) {
            return Err(reply_error("the session token is empty or not text"));
        }
        Ok(token.to_owned())
    }

    fn get(&self, path: &str, token: &str) -> Result<Reply, CredError> {
        let url = format!("{}{path}", self.endpoint);
        let result = self
            .agent
            .get(&url)
            .header(TOKEN_HEADER, token)
            .call()
            .and_then(http::finish);
        self.send(&url, result)
    }
}

impl Provide for Imds {
    fn credentials(&mut self, _now: SystemTime) -> Result<Credentials, CredError> {
        let token = self.token()?;
        let listing = self.get(CREDENTIALS_PATH, &token)?;
        let role = role_name(&listing.body)?;
        let reply = self.get(&format!("{CREDENTIALS_PATH}{role}"), &token)?;
        parse_json_credentials(&reply.body, Source::Imds)
    }
}

/// Last link: always tried unless `AWS_EC2_METADATA_DISABLED=true`.
pub(super) fn probe(s: &Settings) -> Result<Probe, CredError> {
    if s.imds_disabled {
        return Ok(Probe::Skip(
            "ec2 imds: AWS_EC2_METADATA_DISABLED=true".to_owned(),
        ));
    }
    Ok(Probe::Use(
        Source::Imds,
        Box::new(Imds::new(&s.imds_endpoint)),
    ))
}

/// The first line of the listing; an IAM role name is `[\w+=,.@-]{1,64}`,
/// which also keeps it a safe URL path segment.
fn role_name(body: &[u8]) -> Result<String, CredError> {
    let text = std::str::from_utf8(body).map_err(|_| reply_error("role listing is not UTF-8"))?;
    let role = text.lines().map(str::trim).find(|l| !l.is_empty());
    let Some(role) = role else {
        return Err(CredError::Config {
            source: Source::Imds,
            what: "no IAM role attached to this instance".to_owned(),
        });
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if role.len() > 64 || !role.chars().all(valid) {
        return Err(reply_error(&format!(
            "role name {:?} is not an IAM role name",
            http::one_line(role, 80)
        )));
    }
    Ok(role.to_owned())
}

fn reply_error(what: &str) -> CredError {
    CredError::Reply {
        source: Source::Imds,
        what: what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_name_takes_the_first_line_and_checks_it() {
        assert_eq!(role_name(b"eks-node-role\n").unwrap(), "eks-node-role");
        assert_eq!(
            role_name(b"\n a.b@c=d+e,f_g-h \nother").unwrap(),
            "a.b@c=d+e,f_g-h"
        );
        let err = role_name(b"").unwrap_err().to_string();
        assert_eq!(
            err,
            "ec2 imds credentials: no IAM role attached to this instance"
        );
        assert!(role_name(b"../../etc").is_err());
        assert!(role_name(b"a/b").is_err());
        assert!(role_name("x".repeat(65).as_bytes()).is_err());
        assert!(role_name(b"\xff").is_err());
    }

    #[test]
    fn imds_json_with_code() {
        let ok = br#"{"Code":"Success","LastUpdated":"2026-11-22T04:00:00Z","Type":"AWS-HMAC",
            "AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"sec/ret+","Token":"tok==",
            "Expiration":"2026-11-22T10:00:00Z"}"#;
        let c = parse_json_credentials(ok, Source::Imds).unwrap();
        assert_eq!(c.access_key_id, "ASIAEXAMPLE");
        assert_eq!(c.session_token.as_deref(), Some("tok=="));
        let failed =
            br#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"EC2 cannot assume the role"}"#;
        let err = parse_json_credentials(failed, Source::Imds)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "ec2 imds credentials: AssumeRoleUnauthorizedAccess: EC2 cannot assume the role"
        );
    }
}
