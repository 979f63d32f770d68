//! Web identity (IRSA): `AssumeRoleWithWebIdentity` against STS with the
//! projected service-account token, and a small hand-written extractor for
//! the XML reply (only the few elements we need; no DTDs, no namespaces).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::http::{self, Limits};
use super::settings::Settings;
use super::{
    check_secret, parse_iso8601, read_token, CredError, Credentials, Probe, Provide, Source,
};
use crate::core::xml::{element, error_code_message, unescape};

const LIMITS: Limits = Limits {
    connect: Duration::from_secs(5),
    total: Duration::from_secs(20),
    use_env_proxy: true,
};

/// One role to assume with a token file; also used by profiles that carry
/// `role_arn` + `web_identity_token_file`.
pub struct WebIdentity {
    role_arn: String,
    token_file: PathBuf,
    session_name: Option<String>,
    endpoint: String,
    agent: ureq::Agent,
}

impl WebIdentity {
    /// `endpoint` is the STS URL (regional by default); `session_name`
    /// defaults to `memory-monitor-<unix seconds>`.
    pub fn new(
        role_arn: &str,
        token_file: PathBuf,
        session_name: Option<String>,
        endpoint: &str,
    ) -> WebIdentity {
        WebIdentity {
            role_arn: role_arn.to_owned(),
            token_file,
            session_name,
            endpoint: endpoint.to_owned(),
            agent: http::agent(LIMITS),
        }
    }
}

impl Provide for WebIdentity {
    fn credentials(&mut self, now: SystemTime) -> Result<Credentials, CredError> {
        let token = read_token(Source::WebIdentity, &self.token_file)?;
        let session = match &self.session_name {
            Some(name) => name.clone(),
            None => {
                let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                format!("memory-monitor-{secs}")
            }
        };
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", self.role_arn.as_str()),
            ("RoleSessionName", session.as_str()),
            ("WebIdentityToken", token.as_str()),
        ];
        let http_err = |err| CredError::Http {
            source: Source::WebIdentity,
            url: self.endpoint.clone(),
            err,
        };
        let response = self
            .agent
            .post(&self.endpoint)
            .header("Accept", "text/xml")
            .send_form(form)
            .map_err(http_err)?;
        let reply = http::finish(response).map_err(http_err)?;
        if reply.is_success() {
            return parse_sts_xml(&reply.body);
        }
        let (code, message) = error_code_message(&reply.body).unwrap_or_default();
        Err(CredError::Service {
            source: Source::WebIdentity,
            status: Some(reply.status),
            code,
            message,
        })
    }
}

/// Third link: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`.
pub(super) fn probe(s: &Settings) -> Result<Probe, CredError> {
    let (role_arn, token_file) = match (&s.role_arn, &s.web_identity_token_file) {
        (Some(role), Some(file)) => (role, file),
        (Some(_), None) => {
            let why = "web identity: AWS_ROLE_ARN set but AWS_WEB_IDENTITY_TOKEN_FILE not";
            return Ok(Probe::Skip(why.to_owned()));
        }
        (None, Some(_)) => {
            let why = "web identity: AWS_WEB_IDENTITY_TOKEN_FILE set but AWS_ROLE_ARN not";
            return Ok(Probe::Skip(why.to_owned()));
        }
        (None, None) => return Ok(Probe::Skip("web identity: AWS_ROLE_ARN not set".to_owned())),
    };
    let provider = WebIdentity::new(
        role_arn,
        s.expand(token_file),
        s.role_session_name.clone(),
        &s.sts_endpoint,
    );
    Ok(Probe::Use(Source::WebIdentity, Box::new(provider)))
}

/// Extracts the temporary credentials from an `AssumeRoleWithWebIdentity`
/// (or `AssumeRole`) reply. An STS error document gives `Service` with its
/// `Code` and `Message`. Never panics, whatever the bytes.
pub fn parse_sts_xml(body: &[u8]) -> Result<Credentials, CredError> {
    let reply = |what: &str| CredError::Reply {
        source: Source::WebIdentity,
        what: what.to_owned(),
    };
    let doc = std::str::from_utf8(body).map_err(|_| reply("not UTF-8"))?;
    if let Some((code, message)) = error_code_message(body) {
        return Err(CredError::Service {
            source: Source::WebIdentity,
            status: None,
            code,
            message,
        });
    }
    let creds = element(doc, "Credentials").ok_or_else(|| reply("no <Credentials> element"))?;
    let field = |name: &str| -> Result<String, CredError> {
        let raw =
            element(creds, name).ok_or_else(|| reply(&format!("no <{name}> in <Credentials>")))?;
        let text = unescape(raw).ok_or_else(|| reply(&format!("bad XML entity in <{name}>")))?;
        Ok(text.trim().to_owned())
    };
    let access_key_id = field("AccessKeyId")?;
    let secret_access_key = field("SecretAccessKey")?;
    let session_token = field("SessionToken")?;
    for (name, value) in [
        ("AccessKeyId", &access_key_id),
        ("SecretAccessKey", &secret_access_key),
        ("SessionToken", &session_token),
    ] {
        check_secret(Source::WebIdentity, name, value)?;
    }
    let expiration = field("Expiration")?;
    let expires =
        parse_iso8601(&expiration).map_err(|why| reply(&format!("Expiration: bad {why}")))?;
    Ok(Credentials {
        access_key_id,
        secret_access_key,
        session_token: Some(session_token),
        expires: Some(expires),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape AWS documents for AssumeRoleWithWebIdentity.
    const AWS_REPLY: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:default:app</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/app/botocore-session-1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <Provider>oidc.eks.us-east-1.amazonaws.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#;

    /// Captured from moto 5.2 (one line, fractional seconds).
    const MOTO_REPLY: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIARZPUZDIKAXUBVP7A</AccessKeyId><SecretAccessKey>IBE7sKDpJyvzZ/td5+iehEHpYZozO05RlYA0wEHa</SecretAccessKey><SessionToken>FQoGZXIvYXdzEBYaDudRbTbVel4z=</SessionToken><Expiration>2026-11-22T05:22:34.054175Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>ARO123EXAMPLE123:s1</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/test/s1</Arn></AssumedRoleUser><PackedPolicySize>6</PackedPolicySize></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>zKtY</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>"#;

    const ERROR_REPLY: &str = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidIdentityToken</Code>
    <Message>No OpenIDConnect provider found in your account for https://oidc.example/id/&quot;X&quot;</Message>
  </Error>
  <RequestId>b1c2</RequestId>
</ErrorResponse>"#;

    fn unix(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn aws_documented_reply() {
        let c = parse_sts_xml(AWS_REPLY.as_bytes()).unwrap();
        assert_eq!(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            c.secret_access_key,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        );
        assert_eq!(
            c.session_token.as_deref(),
            Some("AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE")
        );
        assert_eq!(unix(c.expires.unwrap()), 1_414_191_623);
    }

    #[test]
    fn moto_reply() {
        let c = parse_sts_xml(MOTO_REPLY.as_bytes()).unwrap();
        assert_eq!(c.access_key_id, "ASIARZPUZDIKAXUBVP7A");
        assert_eq!(
            c.session_token.as_deref(),
            Some("FQoGZXIvYXdzEBYaDudRbTbVel4z=")
        );
        assert_eq!(unix(c.expires.unwrap()), 1_795_324_954);
    }

    #[test]
    fn error_document_surfaces_code_and_message() {
        let err = parse_sts_xml(ERROR_REPLY.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "web identity credentials: InvalidIdentityToken: No OpenIDConnect provider found in your account for https://oidc.example/id/\"X\""
        );
    }

    #[test]
    fn every_truncated_prefix_is_an_error_without_secrets() {
        for doc in [AWS_REPLY, MOTO_REPLY] {
            // Cutting inside `</Credentials>` or later still leaves a valid
            // document for this extractor; everything before must fail.
            let end = doc.find("</Credentials>").unwrap();
            for cut in 0..end {
                let err = parse_sts_xml(&doc.as_bytes()[..cut])
                    .unwrap_err()
                    .to_string();
                assert!(!err.contains("wJalrX") && !err.contains("IBE7s"), "{err}");
            }
        }
        for cut in 0..ERROR_REPLY.len() {
            assert!(parse_sts_xml(&ERROR_REPLY.as_bytes()[..cut]).is_err());
        }
    }

    #[test]
    fn odd_but_valid_markup() {
        let doc = "<R><CredentialsList/><Credentials >\
            <AccessKeyIdX>no</AccessKeyIdX><AccessKeyId>A&amp;B</AccessKeyId>\
            <SecretAccessKey><![CDATA[s/e+c]]></SecretAccessKey>\
            <SessionToken>t&#x41;&#66;</SessionToken>\
            <Expiration> 2030-01-01T00:00:00+00:00 </Expiration></Credentials></R>";
        let c = parse_sts_xml(doc.as_bytes()).unwrap();
        assert_eq!(c.access_key_id, "A&B");
        assert_eq!(c.secret_access_key, "s/e+c");
        assert_eq!(c.session_token.as_deref(), Some("tAB"));
    }

    #[test]
    fn malformed_inputs_name_what_is_wrong() {
        let cases: [(&[u8], &str); 5] = [
            (b"\xff\xfe", "not UTF-8"),
            (b"<html>502 Bad Gateway</html>", "no <Credentials> element"),
            (
                b"<Credentials><AccessKeyId>A</AccessKeyId></Credentials>",
                "no <SecretAccessKey>",
            ),
            (
                b"<Credentials><AccessKeyId>A&bogus;</AccessKeyId></Credentials>",
                "bad XML entity",
            ),
            (
                b"<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>\
                  <SessionToken>t</SessionToken><Expiration>tomorrow</Expiration></Credentials>",
                "Expiration: bad year",
            ),
        ];
        for (body, want) in cases {
            let err = parse_sts_xml(body).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }
}
