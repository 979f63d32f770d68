//! The one place the credential sources touch the network: a private ureq
//! agent per source with its own timeouts, every reply body capped.

use std::time::Duration;

use ureq::Agent;

/// No credentials reply, STS document or IMDS answer comes near this; a
/// larger body is hostile or broken and must not grow our memory.
pub(super) const BODY_CAP_BYTES: u64 = 64 * 1024;

/// Timeouts and proxy policy for one kind of endpoint.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub connect: Duration,
    pub total: Duration,
    /// Link-local metadata endpoints must never go through an HTTP proxy.
    pub use_env_proxy: bool,
}

/// A reply already read: status and at most [`BODY_CAP_BYTES`] of body.
pub(super) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub(super) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub(super) fn agent(limits: Limits) -> Agent {
    let builder = Agent::config_builder()
        .timeout_global(Some(limits.total))
        .timeout_connect(Some(limits.connect))
        .http_status_as_error(false)
        // A redirect could carry the authorization header somewhere else.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent("memory-monitor-credentials");
    let builder = if limits.use_env_proxy {
        builder
    } else {
        builder.proxy(None)
    };
    builder.build().into()
}

/// Reads the body of `response` up to the cap; a longer body is an error.
pub(super) fn finish(mut response: http::Response<ureq::Body>) -> Result<Reply, ureq::Error> {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(BODY_CAP_BYTES)
        .read_to_vec()?;
    Ok(Reply { status, body })
}

pub(super) use crate::core::text::one_line;
