//! Shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`):
//! a small hand-written INI reader for the one profile we need, and the
//! second link of the chain. Pure parsing, fuzzed; never panics.

use std::fmt;
use std::path::{Path, PathBuf};

use super::settings::Settings;
use super::sts::WebIdentity;
use super::{check_secret, read_capped, CredError, Credentials, Probe, Source, Static};

/// Real profile files are a few KiB; this bounds what a broken one costs.
const FILE_CAP_BYTES: u64 = 1024 * 1024;

/// The keys of one profile that the chain understands. `Debug` redacts.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    pub aws_session_token: Option<String>,
    pub role_arn: Option<String>,
    pub web_identity_token_file: Option<String>,
    pub role_session_name: Option<String>,
    /// Set when the profile asks for something this chain does not do
    /// (`source_profile`, `credential_source`, `credential_process`, SSO): the key.
    pub unsupported: Option<String>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Profile")
            .field("aws_access_key_id", &self.aws_access_key_id)
            .field(
                "aws_secret_access_key",
                &redacted(&self.aws_secret_access_key),
            )
            .field("aws_session_token", &redacted(&self.aws_session_token))
            .field("role_arn", &self.role_arn)
            .field("web_identity_token_file", &self.web_identity_token_file)
            .field("role_session_name", &self.role_session_name)
            .field("unsupported", &self.unsupported)
            .finish()
    }
}

impl Profile {
    /// Key by key, `over` wins (the credentials file over the config file).
    fn merge(under: Profile, over: Profile) -> Profile {
        Profile {
            aws_access_key_id: over.aws_access_key_id.or(under.aws_access_key_id),
            aws_secret_access_key: over.aws_secret_access_key.or(under.aws_secret_access_key),
            aws_session_token: over.aws_session_token.or(under.aws_session_token),
            role_arn: over.role_arn.or(under.role_arn),
            web_identity_token_file: over
                .web_identity_token_file
                .or(under.web_identity_token_file),
            role_session_name: over.role_session_name.or(under.role_session_name),
            unsupported: over.unsupported.or(under.unsupported),
        }
    }

    fn set(&mut self, key: &str, value: &str) {
        let slot = match key {
            "aws_access_key_id" => &mut self.aws_access_key_id,
            "aws_secret_access_key" => &mut self.aws_secret_access_key,
            "aws_session_token" => &mut self.aws_session_token,
            "role_arn" => &mut self.role_arn,
            "web_identity_token_file" => &mut self.web_identity_token_file,
            "role_session_name" => &mut self.role_session_name,
            "source_profile" | "credential_source" | "credential_process" | "sso_session"
            | "sso_start_url" => {
                self.unsupported = Some(key.to_owned());
                return;
            }
            _ => return,
        };
        *slot = Some(value.to_owned());
    }
}

/// A line of a profile file that cannot be read; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub line: usize,
    pub what: &'static str,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

/// Finds `profile` in the text of a config file (`[profile name]`, or
/// `[default]`) or a credentials file (`[name]`). Repeated sections merge,
/// later keys win. `Ok(None)` when the profile is not there. Malformed
/// section headers, and malformed lines inside the wanted profile, are
/// errors; the rest of the file is not our business.
pub fn parse_profile(
    text: &str,
    profile: &str,
    is_config_file: bool,
) -> Result<Option<Profile>, ProfileError> {
    let mut found: Option<Profile> = None;
    let mut in_wanted = false;
    let mut last_key: Option<String> = None;
    for (index, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let err = |what| ProfileError {
            line: index.saturating_add(1),
            what,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            in_wanted = section_name(line, is_config_file).map_err(err)? == Some(profile);
            if in_wanted && found.is_none() {
                found = Some(Profile::default());
            }
            last_key = None;
            continue;
        }
        // `found` is always set once a wanted section has started.
        if let (true, Some(current)) = (in_wanted, found.as_mut()) {
            last_key = Some(property(current, raw, last_key.as_deref()).map_err(err)?);
        }
    }
    Ok(found)
}

/// One property line of the wanted profile. An indented line right after a
/// property continues it (sub-properties like `s3 =` nest that way).
fn property(p: &mut Profile, raw: &str, last_key: Option<&str>) -> Result<String, &'static str> {
    let indented = raw.starts_with([' ', '\t']);
    if let (true, Some(key)) = (indented, last_key) {
        let mut value = current_value(p, key).unwrap_or_default();
        value.push('\n');
        value.push_str(strip_comment(raw.trim()));
        p.set(key, &value);
        return Ok(key.to_owned());
    }
    let (key, value) = raw.split_once('=').ok_or("expected 'key = value'")?;
    let key = key.trim().to_ascii_lowercase();
    if key.is_empty() {
        return Err("empty key before '='");
    }
    p.set(&key, strip_comment(value.trim()));
    Ok(key)
}

fn current_value(p: &Profile, key: &str) -> Option<String> {
    match key {
        "aws_access_key_id" => p.aws_access_key_id.clone(),
        "aws_secret_access_key" => p.aws_secret_access_key.clone(),
        "aws_session_token" => p.aws_session_token.clone(),
        "role_arn" => p.role_arn.clone(),
        "web_identity_token_file" => p.web_identity_token_file.clone(),
        "role_session_name" => p.role_session_name.clone(),
        _ => None,
    }
}

/// `value # comment` → `value`: a comment needs whitespace before it, so
/// `#` and `;` inside a value stay.
fn strip_comment(value: &str) -> &str {
    let cut = value
        .char_indices()
        .find(|&(i, c)| {
            (c == '#' || c == ';')
                && value
                    .get(..i)
                    .is_some_and(|before| before.ends_with([' ', '\t']))
        })
        .map_or(value.len(), |(i, _)| i);
    value.get(..cut).unwrap_or(value).trim_end()
}

/// `[default]`, `[profile x]` (config) or `[x]` (credentials) → the profile
/// name; `Ok(None)` for sections that are not profiles (`[sso-session x]`).
fn section_name(line: &str, is_config_file: bool) -> Result<Option<&str>, &'static str> {
    let inner = line.strip_prefix('[').ok_or("expected '['")?;
    let close = inner.find(']').ok_or("section header without ']'")?;
    let after = inner
        .get(close.saturating_add(1)..)
        .unwrap_or_default()
        .trim();
    if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
        return Err("text after ']' in a section header");
    }
    let name = inner.get(..close).unwrap_or_default().trim();
    if name.is_empty() {
        return Err("empty section name");
    }
    if !is_config_file || name == "default" {
        return Ok(Some(name));
    }
    match name.split_once([' ', '\t']) {
        Some(("profile", rest)) if !rest.trim().is_empty() => Ok(Some(rest.trim())),
        _ => Ok(None),
    }
}

/// Second link: the profile from the config file, overlaid by the same
/// profile from the credentials file.
pub(super) fn probe(s: &Settings) -> Result<Probe, CredError> {
    let from_config = read(s.config_file.as_deref(), &s.profile, true)?;
    let from_credentials = read(s.credentials_file.as_deref(), &s.profile, false)?;
    let p = match (from_config, from_credentials) {
        (None, None) => {
            let why = format!(
                "profile {}: not found in the shared config or credentials file",
                s.profile
            );
            return Ok(Probe::Skip(why));
        }
        (Some(c), None) => c,
        (None, Some(k)) => k,
        (Some(c), Some(k)) => Profile::merge(c, k),
    };
    let config = |what: String| CredError::Config {
        source: Source::Profile,
        what: format!("profile {}: {what}", s.profile),
    };
    if let Some(role_arn) = &p.role_arn {
        let Some(token_file) = &p.web_identity_token_file else {
            let what = match &p.unsupported {
                Some(key) => {
                    format!("role_arn with {key} is not supported (use web_identity_token_file)")
                }
                None => "role_arn without web_identity_token_file".to_owned(),
            };
            return Err(config(what));
        };
        let provider = WebIdentity::new(
            role_arn,
            s.expand(token_file),
            p.role_session_name.clone(),
            &s.sts_endpoint,
        );
        return Ok(Probe::Use(Source::Profile, Box::new(provider)));
    }
    if let Some(id) = &p.aws_access_key_id {
        let secret = p
            .aws_secret_access_key
            .as_ref()
            .ok_or_else(|| config("aws_access_key_id without aws_secret_access_key".to_owned()))?;
        let label = format!("profile {} aws_access_key_id", s.profile);
        check_secret(Source::Profile, &label, id)?;
        check_secret(
            Source::Profile,
            &format!("profile {} aws_secret_access_key", s.profile),
            secret,
        )?;
        if let Some(token) = &p.aws_session_token {
            check_secret(
                Source::Profile,
                &format!("profile {} aws_session_token", s.profile),
                token,
            )?;
        }
        let creds = Credentials {
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
            session_token: p.aws_session_token.clone(),
            expires: None,
        };
        return Ok(Probe::Use(Source::Profile, Box::new(Static(creds))));
    }
    if let Some(key) = &p.unsupported {
        return Err(config(format!(
            "{key} is not supported (use static keys or web_identity_token_file)"
        )));
    }
    Ok(Probe::Skip(format!(
        "profile {}: no credentials in it",
        s.profile
    )))
}

fn read(
    path: Option<&Path>,
    profile: &str,
    is_config_file: bool,
) -> Result<Option<Profile>, CredError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let file_err = |err| CredError::File {
        source: Source::Profile,
        path: PathBuf::from(path),
        err,
    };
    let Some(text) = read_capped(path, FILE_CAP_BYTES).map_err(file_err)? else {
        return Ok(None);
    };
    parse_profile(&text, profile, is_config_file).map_err(|err| CredError::Profile {
        path: path.to_path_buf(),
        err,
    })
}

#[cfg(test)]
mod tests;
