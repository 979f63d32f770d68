//! The credentials JSON of the ECS agent, EKS Pod Identity and IMDS
//! (`{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`; IMDS adds
//! `Code`, `LastUpdated`, `Type`), typed through serde. Pure; never panics
//! (fuzzed). `io::s3::credentials` checks the values and the expiry.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::core::text::one_line;

/// One field as sent: text, or something else (a number, an object).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Field {
    Text(String),
    Other(IgnoredAny),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Reply {
    code: Option<Field>,
    message: Option<Field>,
    access_key_id: Option<Field>,
    secret_access_key: Option<Field>,
    token: Option<Field>,
    expiration: Option<Field>,
}

/// A non-2xx reply's body: `Code`/`Message` in either case.
#[derive(Debug, Default, Deserialize)]
struct ErrorReply {
    #[serde(alias = "code", alias = "Code", default)]
    code: Option<Field>,
    #[serde(alias = "message", alias = "Message", default)]
    message: Option<Field>,
}

/// The fields of a successful reply, trimmed, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `None` when absent or `null` (static credentials).
    pub token: Option<String>,
    /// The raw `Expiration` text, when there is one.
    pub expiration: Option<String>,
}

/// Why a reply gave no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON, or not a JSON object (the reason says which).
    Malformed(String),
    /// `Code` other than `Success`: the service said no.
    Service { code: String, message: String },
    /// A required field is missing or not a string.
    NoString(&'static str),
    /// `Expiration` is there but not a string.
    NotString(&'static str),
}

/// Parses a credentials reply.
pub fn parse(body: &[u8]) -> Result<JsonCredentials, JsonError> {
    let map: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
        JsonError::Malformed(if e.is_data() {
            "not a JSON object".to_owned()
        } else {
            format!("not JSON: {e}")
        })
    })?;
    let reply = Reply::deserialize(Value::Object(map))
        .map_err(|e| JsonError::Malformed(format!("not JSON: {e}")))?;
    if let Some(code) = text(&reply.code).filter(|c| *c != "Success") {
        return Err(JsonError::Service {
            code: one_line(code, 100),
            message: one_line(text(&reply.message).unwrap_or_default(), 200),
        });
    }
    let required = |f: &Option<Field>, name| {
        text(f)
            .map(|t| t.trim().to_owned())
            .ok_or(JsonError::NoString(name))
    };
    let token = match &reply.token {
        None => None,
        Some(_) => Some(required(&reply.token, "Token")?),
    };
    let expiration = match &reply.expiration {
        None => None,
        Some(Field::Text(t)) => Some(t.clone()),
        Some(Field::Other(_)) => return Err(JsonError::NotString("Expiration")),
    };
    Ok(JsonCredentials {
        access_key_id: required(&reply.access_key_id, "AccessKeyId")?,
        secret_access_key: required(&reply.secret_access_key, "SecretAccessKey")?,
        token,
        expiration,
    })
}

/// `code` and `message` of an error reply (either case), one-lined; `None`
/// when the body is not such a JSON object.
pub fn error_fields(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let reply: ErrorReply = serde_json::from_slice(body).ok()?;
    let field = |f: &Option<Field>| text(f).map(|t| one_line(t, 200));
    Some((field(&reply.code), field(&reply.message)))
}

fn text(f: &Option<Field>) -> Option<&str> {
    match f {
        Some(Field::Text(t)) => Some(t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_fields_and_their_errors() {
        let ok = parse(br#"{"AccessKeyId":" a ","SecretAccessKey":"s","Token":null,"Expiration":"2026-01-01T00:00:00Z","Type":"AWS-HMAC"}"#).unwrap();
        assert_eq!(ok.access_key_id, "a");
        assert_eq!(ok.token, None);
        assert_eq!(ok.expiration.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(
            parse(b"[]"),
            Err(JsonError::Malformed("not a JSON object".into()))
        );
        assert!(matches!(parse(b"{"), Err(JsonError::Malformed(m)) if m.starts_with("not JSON")));
        assert_eq!(
            parse(br#"{"AccessKeyId":"a","SecretAccessKey":7}"#),
            Err(JsonError::NoString("SecretAccessKey"))
        );
        assert_eq!(
            parse(br#"{"AccessKeyId":"a","SecretAccessKey":"s","Expiration":1}"#),
            Err(JsonError::NotString("Expiration"))
        );
        assert_eq!(
            parse(br#"{"Code":"Throttled","Message":"slow\ndown"}"#),
            Err(JsonError::Service {
                code: "Throttled".into(),
                message: "slow down".into()
            })
        );
        assert_eq!(
            error_fields(br#"{"code":"X","message":"m"}"#),
            Some((Some("X".into()), Some("m".into())))
        );
        assert_eq!(error_fields(b"<html>"), None);
    }
}
