//! What people are told about an event, built purely from a
//! [`Report`](crate::core::event::Report): the Slack text, the Slack request
//! bodies, the Standard Webhooks payload and its signature, and the channel
//! routing of the drop-in contract. The sending is `io::notify`.

pub mod base64;
#[cfg(test)]
pub(crate) mod fixture;
pub mod sign;
pub mod text;
pub mod webhook;

pub use sign::{Secret, SecretError};

use crate::core::json::Quoted;

/// Who is speaking: the parts of a message that come from the config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    pub pod: String,
    /// ENVIRONMENT; empty when unset.
    pub environment: String,
    pub network: Option<String>,
}

/// The drop-in channel routing: `prod` -> `alerts-prod`, `staging` or
/// `shadow` -> `alerts-barn`, anything else (or unset) -> `alerts-temp`.
pub fn channel_for(environment: &str) -> &'static str {
    match environment {
        "prod" => "alerts-prod",
        "staging" | "shadow" => "alerts-barn",
        _ => "alerts-temp",
    }
}

/// The `chat.postMessage` body.
pub fn slack_bot_body(channel: &str, text: &str) -> String {
    format!(
        "{{\"channel\":{},\"text\":{}}}",
        Quoted(channel),
        Quoted(text)
    )
}

/// The incoming-webhook body (the webhook is bound to its channel).
pub fn slack_webhook_body(text: &str) -> String {
    format!("{{\"text\":{}}}", Quoted(text))
}

/// What a Slack Web API reply says: `Ok(())` for `"ok": true`, else Slack's
/// error code (`invalid_auth`, `channel_not_found`, ...), or a short
/// description when the reply is not the JSON Slack sends.
pub fn slack_reply(body: &[u8]) -> Result<(), String> {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return Err("reply is not JSON".into()),
    };
    match value.get("ok").and_then(serde_json::Value::as_bool) {
        Some(true) => Ok(()),
        Some(false) => Err(value
            .get("error")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| "unknown".into(), one_word)),
        None => Err("reply has no \"ok\" field".into()),
    }
}

/// A server-supplied code made safe for a log field.
fn one_word(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing() {
        assert_eq!(channel_for("prod"), "alerts-prod");
        assert_eq!(channel_for("staging"), "alerts-barn");
        assert_eq!(channel_for("shadow"), "alerts-barn");
        assert_eq!(channel_for(""), "alerts-temp");
        assert_eq!(channel_for("Prod"), "alerts-temp");
        assert_eq!(channel_for("dev"), "alerts-temp");
    }

    #[test]
    fn slack_bodies() {
        assert_eq!(
            slack_bot_body("alerts-prod", "a \"b\"\nc"),
            r#"{"channel":"alerts-prod","text":"a \"b\"\nc"}"#
        );
        assert_eq!(slack_webhook_body("hi"), r#"{"text":"hi"}"#);
    }

    #[test]
    fn slack_replies() {
        assert_eq!(slack_reply(br#"{"ok":true,"ts":"1.2"}"#), Ok(()));
        assert_eq!(
            slack_reply(br#"{"ok":false,"error":"channel_not_found"}"#),
            Err("channel_not_found".into())
        );
        assert_eq!(
            slack_reply(br#"{"ok":false,"error":"a b\n=c"}"#),
            Err("abc".into())
        );
        assert_eq!(slack_reply(br#"{"ok":false}"#), Err("unknown".into()));
        assert_eq!(slack_reply(b"<html>"), Err("reply is not JSON".into()));
        assert_eq!(slack_reply(b"{}"), Err("reply has no \"ok\" field".into()));
    }
}
