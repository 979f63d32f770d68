//! The AWS credential chain, in the SDK's order: environment → shared
//! config/credentials files → web identity (IRSA, STS) → container
//! credentials (ECS, EKS Pod Identity) → EC2 IMDSv2.
//!
//! The environment is read once, when the chain is built (it is injected so
//! tests can run side by side); files and endpoints are read lazily on the
//! first call and whenever temporary credentials come near expiry. Errors
//! never contain a secret: keys and tokens stay in `Credentials`, whose
//! `Debug` redacts them.

mod container;
mod http;
mod imds;
mod profile;
mod settings;
mod sts;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Credentials;

pub use crate::core::iso8601::parse_iso8601;
pub use container::{parse_container_json, Container};
pub use imds::Imds;
pub use profile::{parse_profile, Profile, ProfileError};
pub use sts::{parse_sts_xml, WebIdentity};

/// Temporary credentials are refreshed this long before they expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// One link of the chain, named in errors and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Env,
    Profile,
    WebIdentity,
    Container,
    Imds,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Env => "env",
            Source::Profile => "profile",
            Source::WebIdentity => "web identity",
            Source::Container => "container",
            Source::Imds => "ec2 imds",
        })
    }
}

/// Why credentials could not be had. `Display` is "context: cause" and never
/// shows a key, secret or token.
#[derive(Debug)]
pub enum CredError {
    /// A source is configured wrongly or incompletely; `what` names the
    /// variable or profile key.
    Config { source: Source, what: String },
    /// A file named by the configuration could not be read.
    File {
        source: Source,
        path: PathBuf,
        err: io::Error,
    },
    /// The shared config or credentials file has a line we cannot read.
    Profile { path: PathBuf, err: ProfileError },
    /// The endpoint could not be reached, or its reply not read.
    Http {
        source: Source,
        url: String,
        err: ureq::Error,
    },
    /// The endpoint answered with an error (`status` is `None` when the error
    /// was found inside a 200 reply).
    Service {
        source: Source,
        status: Option<u16>,
        code: String,
        message: String,
    },
    /// The endpoint's reply does not follow the protocol.
    Reply { source: Source, what: String },
    /// No source in the chain is configured; `tried` says why each was skipped.
    NotFound { tried: String },
}

impl fmt::Display for CredError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredError::Config { source, what } => write!(f, "{source} credentials: {what}"),
            CredError::File { source, path, err } => {
                write!(f, "{source} credentials: read {}: {err}", path.display())
            }
            CredError::Profile { path, err } => {
                write!(f, "aws profile file {}: {err}", path.display())
            }
            CredError::Http { source, url, err } => write!(f, "{source} credentials: {url}: {err}"),
            CredError::Service {
                source,
                status,
                code,
                message,
            } => {
                write!(f, "{source} credentials: ")?;
                if let Some(status) = status {
                    write!(f, "status {status} ")?;
                }
                let code = if code.is_empty() {
                    "error"
                } else {
                    code.as_str()
                };
                write!(f, "{code}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            CredError::Reply { source, what } => {
                write!(f, "{source} credentials: bad reply: {what}")
            }
            CredError::NotFound { tried } => write!(f, "no aws credentials found: {tried}"),
        }
    }
}

impl std::error::Error for CredError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CredError::File { err, .. } => Some(err),
            CredError::Http { err, .. } => Some(err),
            _ => None,
        }
    }
}

/// Anything that hands out credentials for the current time.
pub trait Provide: Send {
    fn credentials(&mut self, now: SystemTime) -> Result<Credentials, CredError>;

    /// The service refused the credentials (e.g. `ExpiredToken`): forget
    /// whatever is cached so the next call fetches anew.
    fn invalidate(&mut self) {}

    /// A refresh that failed while cached credentials were still valid (the
    /// call itself succeeded), for the caller to report.
    fn take_refresh_error(&mut self) -> Option<CredError> {
        None
    }
}

/// Static keys (env or profile): returned as they are.
struct Static(Credentials);

impl Provide for Static {
    fn credentials(&mut self, _now: SystemTime) -> Result<Credentials, CredError> {
        Ok(self.0.clone())
    }
}

/// Asks one link whether it is configured, without any I/O but file reads.
type ProbeFn = fn(&settings::Settings) -> Result<Probe, CredError>;

/// What one link of the chain says when asked whether it is configured.
enum Probe {
    Use(Source, Box<dyn Provide>),
    Skip(String),
}

/// The credential chain: resolves lazily, remembers the source that worked,
/// caches temporary credentials and refreshes them before they expire.
pub struct Chain {
    settings: settings::Settings,
    active: Option<(Source, Box<dyn Provide>)>,
    cached: Option<Credentials>,
    refresh_error: Option<CredError>,
}

/// Builds the chain from the environment (`env` is `|k| std::env::var(k).ok()`
/// in production) and the region used for the regional STS endpoint.
/// Nothing is read from disk or the network until the first call.
pub fn chain(env: &dyn Fn(&str) -> Option<String>, region: &str) -> Chain {
    Chain {
        settings: settings::Settings::from_env(env, region),
        active: None,
        cached: None,
        refresh_error: None,
    }
}

impl Chain {
    /// The source that produced the current credentials, once resolved.
    pub fn source(&self) -> Option<Source> {
        self.active.as_ref().map(|(source, _)| source).copied()
    }

    /// The last failed refresh while still-valid cached credentials were
    /// returned instead; taken so it is logged once.
    pub fn take_refresh_error(&mut self) -> Option<CredError> {
        self.refresh_error.take()
    }

    /// Forgets the cache and the chosen source (e.g. after S3 answered 403
    /// with `ExpiredToken`): the next call resolves the whole chain again.
    pub fn invalidate(&mut self) {
        self.active = None;
        self.cached = None;
    }

    fn resolve(&mut self, now: SystemTime) -> Result<Credentials, CredError> {
        let mut tried = Vec::new();
        let probes: [ProbeFn; 5] = [
            settings::probe_env,
            profile::probe,
            sts::probe,
            container::probe,
            imds::probe,
        ];
        for probe in probes {
            let (source, mut provider) = match probe(&self.settings)? {
                Probe::Use(source, provider) => (source, provider),
                Probe::Skip(why) => {
                    tried.push(why);
                    continue;
                }
            };
            match provider.credentials(now) {
                Ok(creds) => {
                    self.active = Some((source, provider));
                    return Ok(creds);
                }
                // IMDS is asked even when nothing hints at EC2: failing to
                // reach it means "no credentials anywhere", said as such.
                Err(
                    err @ CredError::Http {
                        source: Source::Imds,
                        ..
                    },
                ) => {
                    tried.push(err.to_string());
                }
                // A configured source that fails stops the chain, as in the
                // SDK: silently using a lower-priority identity is worse.
                Err(err) => return Err(err),
            }
        }
        Err(CredError::NotFound {
            tried: tried.join("; "),
        })
    }
}

impl Provide for Chain {
    fn invalidate(&mut self) {
        Chain::invalidate(self);
    }

    fn take_refresh_error(&mut self) -> Option<CredError> {
        Chain::take_refresh_error(self)
    }

    fn credentials(&mut self, now: SystemTime) -> Result<Credentials, CredError> {
        if let Some(cached) = self.cached.as_ref().filter(|c| !needs_refresh(c, now)) {
            return Ok(cached.clone());
        }
        let fetched = match self.active.as_mut() {
            Some((_, provider)) => provider.credentials(now),
            None => self.resolve(now),
        };
        match fetched {
            Ok(creds) => {
                self.cached = Some(creds.clone());
                self.refresh_error = None;
                Ok(creds)
            }
            Err(err) => match self.cached.as_ref().filter(|c| still_valid(c, now)) {
                Some(cached) => {
                    let cached = cached.clone();
                    self.refresh_error = Some(err);
                    Ok(cached)
                }
                None => {
                    // The source that worked stopped working: start over
                    // from the top of the chain on the next call.
                    self.invalidate();
                    Err(err)
                }
            },
        }
    }
}

fn needs_refresh(creds: &Credentials, now: SystemTime) -> bool {
    match creds.expires {
        None => false,
        Some(expires) => now.checked_add(REFRESH_MARGIN).is_none_or(|t| t >= expires),
    }
}

fn still_valid(creds: &Credentials, now: SystemTime) -> bool {
    creds.expires.is_none_or(|expires| now < expires)
}

/// Reads a small text file (token, profile) whole, refusing one above `cap`
/// bytes ([`crate::io::capped`]). `Ok(None)` when it does not exist.
fn read_capped(path: &Path, cap: u64) -> io::Result<Option<String>> {
    let bytes = match crate::io::capped::read_capped(path, cap) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// A token file re-read on every fetch (Kubernetes rotates it in place).
fn read_token(source: Source, path: &Path) -> Result<String, CredError> {
    let file_err = |err| CredError::File {
        source,
        path: path.to_path_buf(),
        err,
    };
    let text = read_capped(path, http::BODY_CAP_BYTES)
        .map_err(file_err)?
        .ok_or_else(|| file_err(io::ErrorKind::NotFound.into()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CredError::Config {
            source,
            what: format!("token file {} is empty", path.display()),
        });
    }
    if token.chars().any(char::is_control) {
        let what = format!("token file {} holds control characters", path.display());
        return Err(CredError::Config { source, what });
    }
    Ok(token.to_owned())
}

/// Keys and tokens go into headers and signatures: whitespace or control
/// characters in them mean a broken file or variable.
fn check_secret(source: Source, name: &str, value: &str) -> Result<(), CredError> {
    if value.is_empty() {
        return Err(CredError::Config {
            source,
            what: format!("{name} is empty"),
        });
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        let what = format!("{name} contains whitespace or control characters");
        return Err(CredError::Config { source, what });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
