//! Why an S3 client could not be built, and why one PUT failed — with
//! what the uploader does next ([`PutError::refusal`]). Never holds a secret.

use std::fmt;
use std::io;
use std::time::SystemTime;

use super::endpoint::EndpointError;
use super::sign::SignError;
use crate::core::s3_refusal::{classify, Refusal};

/// Why the S3 client could not be built (a start-up error).
#[derive(Debug)]
pub enum ClientError {
    Endpoint(EndpointError),
    CaFile { path: String, cause: io::Error },
    CaPem { path: String, why: String },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Endpoint(e) => write!(f, "s3 endpoint: {e}"),
            Self::CaFile { path, cause } => write!(f, "SSL_CERT_FILE {path}: {cause}"),
            Self::CaPem { path, why } => write!(f, "SSL_CERT_FILE {path}: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Why one PUT failed. Never holds a secret.
#[derive(Debug)]
pub struct PutError {
    pub key: String,
    pub kind: PutErrorKind,
}

#[derive(Debug)]
pub enum PutErrorKind {
    Key(EndpointError),
    Open(io::Error),
    Hash(io::Error),
    Sign(SignError),
    Send(ureq::Error),
    /// Non-2xx reply; `code`/`message` from the S3 XML error body when
    /// present, `date` from its `Date` header (S3's clock).
    Status {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        date: Option<SystemTime>,
    },
}

impl fmt::Display for PutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3 put {}: ", self.key)?;
        match &self.kind {
            PutErrorKind::Key(e) => write!(f, "{e}"),
            PutErrorKind::Open(e) => write!(f, "open dump: {e}"),
            PutErrorKind::Hash(e) => write!(f, "read dump: {e}"),
            PutErrorKind::Sign(e) => write!(f, "{e}"),
            PutErrorKind::Send(e) => write!(f, "send: {e}"),
            PutErrorKind::Status {
                status,
                code,
                message,
                ..
            } => {
                write!(f, "status {status}")?;
                if let Some(c) = code {
                    write!(f, " {c}")?;
                }
                match message {
                    Some(m) if !m.is_empty() => write!(f, ": {m}"),
                    _ => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for PutError {}

impl PutError {
    /// The dump file is gone: retrying cannot help.
    pub fn is_missing_file(&self) -> bool {
        matches!(&self.kind, PutErrorKind::Open(e) if e.kind() == io::ErrorKind::NotFound)
    }

    /// What the uploader does next ([`crate::core::s3_refusal`]).
    pub fn refusal(&self) -> Refusal {
        match &self.kind {
            // S3 cannot store this key, whatever we do.
            PutErrorKind::Key(_) => Refusal::Permanent,
            // A local read failed: try this dump again later.
            PutErrorKind::Open(_) | PutErrorKind::Hash(_) => Refusal::Transient,
            // Credentials S3 would refuse anyway (say, a bad character).
            PutErrorKind::Sign(_) => Refusal::Credentials,
            PutErrorKind::Send(_) => Refusal::Unreachable,
            PutErrorKind::Status { status, code, .. } => classify(*status, code.as_deref()),
        }
    }

    /// S3's status, code and message, when it answered.
    pub fn s3_reply(&self) -> Option<(u16, &str, &str)> {
        match &self.kind {
            PutErrorKind::Status {
                status,
                code,
                message,
                ..
            } => Some((
                *status,
                code.as_deref().unwrap_or(""),
                message.as_deref().unwrap_or(""),
            )),
            _ => None,
        }
    }

    /// S3's clock, from the `Date` header of its error reply.
    pub fn s3_date(&self) -> Option<SystemTime> {
        match &self.kind {
            PutErrorKind::Status { date, .. } => *date,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_error_display() {
        let e = PutError {
            key: "dumps/x.pprof".into(),
            kind: PutErrorKind::Status {
                status: 403,
                code: Some("SignatureDoesNotMatch".into()),
                message: Some("The request signature we calculated does not match".into()),
                date: None,
            },
        };
        assert_eq!(e.to_string(), "s3 put dumps/x.pprof: status 403 SignatureDoesNotMatch: The request signature we calculated does not match");
        let e = PutError {
            key: "k".into(),
            kind: PutErrorKind::Status {
                status: 502,
                code: None,
                message: None,
                date: None,
            },
        };
        assert_eq!(e.to_string(), "s3 put k: status 502");
    }
}
