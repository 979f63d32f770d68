//! Delivery to S3: SigV4-signed PUT over ureq (rustls + ring), the AWS
//! credential chain, and the uploader thread that drains the spool.
//!
//! ```text
//!  spool --pending()--> uploader thread --Provide--> credentials
//!                          |  put::Client: endpoint (URL) + sign (SigV4)
//!                          |  + hash pass + streamed PUT over ureq
//!                          '--2xx--> spool.remove() + log + delivered list
//! ```
//!
//! `endpoint`, `sign` and `backoff` are pure (XML in `core::xml`); `put` and
//! `uploader` do the I/O.

pub mod backoff;
pub mod credentials;
pub mod endpoint;
pub mod put;
mod put_error;
pub mod sign;
pub mod uploader;

pub use crate::core::xml::error_code_message as parse_error_xml;
pub use credentials::Provide;
pub use put::{Client, ClientError, PutError, Timeouts, STOP_GRACE};
pub use uploader::{
    spawn, spawn_with, Counts, Delivery, Notice, Options, SpawnError, Stats, Uploader, Wake,
};

use std::fmt;
use std::time::SystemTime;

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
