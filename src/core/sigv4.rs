//! SigV4 for S3 requests, by `aws-sigv4`. Pure: the time is passed in.
//!
//! S3 specifics: the path is signed exactly as sent (single encoding, no
//! normalisation), `x-amz-content-sha256` carries the payload hash and is
//! signed, and a session token is signed as `x-amz-security-token`.

use std::fmt;
use std::time::SystemTime;

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody,
    SignableRequest, SigningError, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4::signing_params::BuildError;
use aws_sigv4::sign::v4::SigningParams;

/// One set of AWS credentials. `Debug` never prints the secret parts.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// When temporary credentials stop working; `None` for static keys.
    pub expires: Option<SystemTime>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires", &self.expires)
            .finish()
    }
}

/// Why a request could not be signed (never holds a secret).
#[derive(Debug)]
pub enum SignError {
    Params(BuildError),
    Sign(SigningError),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Params(e) => write!(f, "sigv4 parameters: {e}"),
            Self::Sign(e) => write!(f, "sigv4: {e}"),
        }
    }
}

impl std::error::Error for SignError {}

/// One request to sign.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Already percent-encoded, as it goes on the wire.
    pub url: &'a str,
    /// Headers to sign, `host` included; names in lower case.
    pub headers: &'a [(&'a str, &'a str)],
    /// Lower-case hex SHA-256 of the body.
    pub payload_sha256: &'a str,
}

/// Signs `req` for S3 in `region` at `now`; returns the headers to add:
/// `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (with a
/// session token) and `authorization`.
pub fn sign_s3(
    req: &Request<'_>,
    creds: &Credentials,
    region: &str,
    now: SystemTime,
) -> Result<Vec<(&'static str, String)>, SignError> {
    let aws_creds = aws_credential_types::Credentials::new(
        creds.access_key_id.as_str(),
        creds.secret_access_key.as_str(),
        creds.session_token.clone(),
        creds.expires,
        "memory-monitor",
    );
    let identity = aws_creds.into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.session_token_mode = SessionTokenMode::Include;
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .map_err(SignError::Params)?
        .into();
    let signable = SignableRequest::new(
        req.method,
        req.url,
        req.headers.iter().copied(),
        SignableBody::Precomputed(req.payload_sha256.to_owned()),
    )
    .map_err(SignError::Sign)?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(SignError::Sign)?
        .into_parts();
    let (headers, _query) = instructions.into_parts();
    Ok(headers
        .into_iter()
        .map(|h| (h.name(), h.value().to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// 2013-05-24T00:00:00Z, the date of the AWS S3 SigV4 examples.
    fn example_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    fn example_creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_owned),
            expires: None,
        }
    }

    fn header<'a>(h: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// "Example: PUT Object" of the S3 API reference
    /// (sig-v4-header-based-auth.html): the published signature.
    #[test]
    fn golden_put_object_vector() {
        let headers = [
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ];
        let req = Request {
            method: "PUT",
            url: "https://examplebucket.s3.amazonaws.com/test%24file.text",
            headers: &headers,
            payload_sha256: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        };
        let out = sign_s3(&req, &example_creds(None), "us-east-1", example_time()).unwrap();
        assert_eq!(
            header(&out, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
                 SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, \
                 Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
            )
        );
        assert_eq!(header(&out, "x-amz-date"), Some("20130524T000000Z"));
        assert_eq!(
            header(&out, "x-amz-content-sha256"),
            Some(req.payload_sha256)
        );
        assert_eq!(header(&out, "x-amz-security-token"), None);
    }

    /// "Example: GET Object" of the same page.
    #[test]
    fn golden_get_object_vector() {
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
        ];
        let req = Request {
            method: "GET",
            url: "https://examplebucket.s3.amazonaws.com/test.txt",
            headers: &headers,
            payload_sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        };
        let out = sign_s3(&req, &example_creds(None), "us-east-1", example_time()).unwrap();
        let auth = header(&out, "authorization").unwrap();
        assert!(
            auth.ends_with(
                "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            ),
            "{auth}"
        );
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        let headers = [("host", "examplebucket.s3.amazonaws.com")];
        let req = Request {
            method: "PUT",
            url: "https://examplebucket.s3.amazonaws.com/k",
            headers: &headers,
            payload_sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        };
        let out = sign_s3(
            &req,
            &example_creds(Some("TOKEN")),
            "us-east-1",
            example_time(),
        )
        .unwrap();
        assert_eq!(header(&out, "x-amz-security-token"), Some("TOKEN"));
        let auth = header(&out, "authorization").unwrap();
        assert!(
            auth.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"
            ),
            "{auth}"
        );
    }

    #[test]
    fn bad_url_is_an_error_not_a_panic() {
        let req = Request {
            method: "PUT",
            url: "http://a b/\u{0}",
            headers: &[],
            payload_sha256: "00",
        };
        let err = sign_s3(&req, &example_creds(None), "us-east-1", example_time()).unwrap_err();
        assert!(err.to_string().starts_with("sigv4"), "{err}");
    }
}
