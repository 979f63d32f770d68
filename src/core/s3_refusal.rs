//! What the uploader does after S3 (or the way to it) said no: the rules
//! that tell a dump S3 will never take from a bucket that is unusable right
//! now and from a hiccup. Pure; `io::s3::uploader` carries them out.

/// The uploader's next step after one failed PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This dump may work later (5xx, 408, 429, a reset connection): back
    /// off this dump only; the others go on.
    Transient,
    /// Nothing will work for now, whatever the dump (no such bucket, access
    /// denied, unknown key, wrong region, S3 unreachable): one backoff for
    /// the whole uploader and a single alert.
    BucketWide,
    /// S3 could not be reached or did not answer in time: back off this
    /// dump (so the next pass starts with another) and pause the pass.
    Unreachable,
    /// The credentials themselves were refused (expired or revoked): fetch
    /// them anew, then as [`Refusal::BucketWide`].
    Credentials,
    /// The request's time is too far from S3's: correct the clock offset
    /// from S3's `Date` header and retry at once.
    ClockSkew,
    /// S3 will never take this dump as it is (a 4xx about the request):
    /// quarantine it and go on with the others.
    Permanent,
}

/// Codes that say the bucket or account cannot be used at all.
const BUCKET_WIDE: [&str; 10] = [
    "AccessDenied",
    "AllAccessDisabled",
    "AccountProblem",
    "NoSuchBucket",
    "InvalidBucketName",
    "InvalidBucketState",
    "NotSignedUp",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "InvalidRegion",
];

/// Codes that say the credentials are stale or wrong.
const CREDENTIALS: [&str; 7] = [
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "TokenRefreshRequired",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSecurity",
];

/// Codes that say "later" whatever their status.
const TRANSIENT: [&str; 6] = [
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "OperationAborted",
    "Throttling",
];

/// Classifies a non-2xx reply by its status and S3 error code (if any).
pub fn classify(status: u16, code: Option<&str>) -> Refusal {
    if let Some(code) = code {
        if code == "RequestTimeTooSkewed" {
            return Refusal::ClockSkew;
        }
        if CREDENTIALS.contains(&code) {
            return Refusal::Credentials;
        }
        if BUCKET_WIDE.contains(&code) {
            return Refusal::BucketWide;
        }
        if TRANSIENT.contains(&code) {
            return Refusal::Transient;
        }
    }
    match status {
        408 | 429 => Refusal::Transient,
        // A 301 / 307 without a code: the bucket lives elsewhere.
        300..=399 => Refusal::BucketWide,
        // Unauthorised / forbidden without a known code: nothing will pass.
        401 | 403 => Refusal::BucketWide,
        400..=499 => Refusal::Permanent,
        _ => Refusal::Transient,
    }
}

/// Signed milliseconds to add to the local clock to read S3's, from the
/// `Date` header of its reply (seconds since the epoch) and the local time
/// the reply arrived (milliseconds since the epoch).
pub fn skew_ms(server_unix_secs: u64, local_unix_ms: u64) -> i64 {
    let server = i128::from(server_unix_secs).saturating_mul(1000);
    let diff = server.saturating_sub(i128::from(local_unix_ms));
    i64::try_from(diff).unwrap_or(if diff < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_before_statuses() {
        assert_eq!(
            classify(403, Some("RequestTimeTooSkewed")),
            Refusal::ClockSkew
        );
        assert_eq!(classify(400, Some("ExpiredToken")), Refusal::Credentials);
        assert_eq!(
            classify(403, Some("InvalidAccessKeyId")),
            Refusal::Credentials
        );
        assert_eq!(classify(403, Some("AccessDenied")), Refusal::BucketWide);
        assert_eq!(classify(404, Some("NoSuchBucket")), Refusal::BucketWide);
        assert_eq!(
            classify(301, Some("PermanentRedirect")),
            Refusal::BucketWide
        );
        assert_eq!(classify(503, Some("SlowDown")), Refusal::Transient);
        assert_eq!(classify(400, Some("RequestTimeout")), Refusal::Transient);
    }

    #[test]
    fn a_request_s3_will_never_take_is_permanent() {
        for code in [
            "InvalidArgument",
            "EntityTooLarge",
            "KeyTooLongError",
            "MetadataTooLarge",
            "XAmzContentSHA256Mismatch",
            "BadDigest",
            "InvalidRequest",
        ] {
            assert_eq!(classify(400, Some(code)), Refusal::Permanent, "{code}");
        }
        assert_eq!(classify(400, None), Refusal::Permanent);
        assert_eq!(classify(411, None), Refusal::Permanent);
        assert_eq!(classify(413, None), Refusal::Permanent);
    }

    #[test]
    fn the_rest_is_retried() {
        assert_eq!(classify(408, None), Refusal::Transient);
        assert_eq!(classify(429, Some("TooManyRequests")), Refusal::Transient);
        assert_eq!(classify(500, None), Refusal::Transient);
        assert_eq!(classify(502, Some("Whatever")), Refusal::Transient);
        assert_eq!(classify(403, None), Refusal::BucketWide);
        assert_eq!(classify(0, None), Refusal::Transient);
    }

    #[test]
    fn skew_is_signed_and_saturates() {
        assert_eq!(skew_ms(1_000, 1_000_000), 0);
        assert_eq!(skew_ms(1_900, 1_000_500), 899_500);
        assert_eq!(skew_ms(100, 1_000_000), -900_000);
        assert_eq!(skew_ms(u64::MAX, 0), i64::MAX);
    }
}
