//! The object URL rules live in `core` ([`crate::core::s3_endpoint`]); the
//! settings are one [`Location`].

pub use crate::core::s3_endpoint::*;

use crate::config::S3Config;

impl Location for S3Config {
    fn bucket(&self) -> &str {
        &self.bucket
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }
    fn force_path_style(&self) -> bool {
        self.force_path_style
    }
}
