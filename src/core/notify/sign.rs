//! Standard Webhooks signing (standardwebhooks.com): the signature is
//! `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), the key the
//! base64 part of `WEBHOOK_SECRET` (`whsec_` prefix optional).

use std::fmt;

use ring::hmac;

use super::base64;

/// A webhook signing key. `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(hmac::Key);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    /// Keys are opaque; two secrets compare equal (config equality is about
    /// the rest of the settings).
    fn eq(&self, _: &Secret) -> bool {
        true
    }
}

impl Eq for Secret {}

/// Why `WEBHOOK_SECRET` is unusable. Never holds the secret itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretError {
    NotBase64,
    Empty,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::NotBase64 => f.write_str("want whsec_ followed by base64"),
            SecretError::Empty => f.write_str("the key after whsec_ is empty"),
        }
    }
}

impl std::error::Error for SecretError {}

impl Secret {
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let text = text.trim();
        let b64 = text.strip_prefix("whsec_").unwrap_or(text);
        let key = base64::decode(b64).ok_or(SecretError::NotBase64)?;
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret(hmac::Key::new(hmac::HMAC_SHA256, &key)))
    }

    /// The `webhook-signature` header value for one attempt.
    pub fn sign(&self, id: &str, timestamp_secs: u64, body: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp_secs.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body.as_bytes());
        format!("v1,{}", base64::encode(ctx.sign().as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks reference libraries' tests.
    #[test]
    fn reference_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let bare = Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            bare.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            sig
        );
    }

    #[test]
    fn bad_secrets() {
        assert_eq!(
            Secret::parse("whsec_not base64!").unwrap_err(),
            SecretError::NotBase64
        );
        assert_eq!(Secret::parse("whsec_").unwrap_err(), SecretError::Empty);
        assert_eq!(
            format!("{:?}", Secret::parse("Zm9v").unwrap()),
            "Secret(<redacted>)"
        );
    }
}
