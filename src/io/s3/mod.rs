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
//! The pure parts live in `core`: object URLs (`core::s3_endpoint`), SigV4
//! (`core::sigv4`), S3's error XML (`core::xml`), what a refusal means
//! (`core::s3_refusal`). Here: `put` and `uploader` do the I/O, `backoff`
//! times the retries, `credentials` fetches keys.

pub mod backoff;
pub mod credentials;
pub mod endpoint;
pub mod put;
mod put_error;
pub mod sign {
    //! SigV4 lives in `core` ([`crate::core::sigv4`]).
    pub use crate::core::sigv4::*;
}
pub mod uploader;

pub use crate::core::sigv4::Credentials;
pub use crate::core::xml::error_code_message as parse_error_xml;
pub use credentials::Provide;
pub use put::{Client, ClientError, PutError, Timeouts, STOP_GRACE};
pub use uploader::{
    spawn, spawn_with, Counts, Delivery, Notice, Options, SpawnError, Stats, Uploader, Wake,
};
