//! The environment snapshot the chain works from, and the first link of the
//! chain (static keys from the environment).

use std::path::PathBuf;

use crate::core::s3_endpoint::dns_suffix;

use super::{check_secret, CredError, Credentials, Probe, Source, Static};

/// Everything the chain needs from the environment, read once.
pub(super) struct Settings {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub profile: String,
    /// `None` when neither the variable nor `$HOME` says where it is.
    pub credentials_file: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
    pub home: Option<String>,
    pub role_arn: Option<String>,
    pub web_identity_token_file: Option<String>,
    pub role_session_name: Option<String>,
    pub sts_endpoint: String,
    pub container_relative_uri: Option<String>,
    pub container_full_uri: Option<String>,
    pub container_token: Option<String>,
    pub container_token_file: Option<String>,
    pub imds_disabled: bool,
    pub imds_endpoint: String,
}

impl Settings {
    pub(super) fn from_env(env: &dyn Fn(&str) -> Option<String>, region: &str) -> Settings {
        // An empty variable counts as unset, as in the SDKs.
        let var = |key: &str| env(key).filter(|v| !v.trim().is_empty());
        let home = var("HOME");
        let file = |key: &str, default: &str| match var(key) {
            Some(path) => Some(expand_home(&path, home.as_deref())),
            None => home.as_ref().map(|h| PathBuf::from(h).join(default)),
        };
        let imds_endpoint = match (
            var("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
            var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"),
        ) {
            (Some(endpoint), _) => endpoint,
            (None, Some(mode)) if mode.eq_ignore_ascii_case("ipv6") => {
                "http://[fd00:ec2::254]".to_owned()
            }
            (None, _) => "http://169.254.169.254".to_owned(),
        };
        Settings {
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            profile: var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned()),
            credentials_file: file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
            config_file: file("AWS_CONFIG_FILE", ".aws/config"),
            role_arn: var("AWS_ROLE_ARN"),
            web_identity_token_file: var("AWS_WEB_IDENTITY_TOKEN_FILE"),
            role_session_name: var("AWS_ROLE_SESSION_NAME"),
            sts_endpoint: var("AWS_ENDPOINT_URL_STS")
                .or_else(|| var("AWS_ENDPOINT_URL"))
                .unwrap_or_else(|| sts_regional_endpoint(region)),
            container_relative_uri: var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            container_full_uri: var("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            container_token: var("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            container_token_file: var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
            imds_disabled: var("AWS_EC2_METADATA_DISABLED")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            imds_endpoint: imds_endpoint.trim_end_matches('/').to_owned(),
            home,
        }
    }

    /// `~/` in a path from a variable or profile means `$HOME`.
    pub(super) fn expand(&self, path: &str) -> PathBuf {
        expand_home(path, self.home.as_deref())
    }
}

fn expand_home(path: &str, home: Option<&str>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The regional STS endpoint (the SDKs' default since 2022); the global one
/// when no region is known.
pub(super) fn sts_regional_endpoint(region: &str) -> String {
    let region = region.trim();
    if region.is_empty() {
        return "https://sts.amazonaws.com/".to_owned();
    }
    format!("https://sts.{region}.{}/", dns_suffix(region))
}

/// First link: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ token).
pub(super) fn probe_env(s: &Settings) -> Result<Probe, CredError> {
    let (id, secret) = match (&s.access_key_id, &s.secret_access_key) {
        (None, None) => return Ok(Probe::Skip("env: AWS_ACCESS_KEY_ID not set".to_owned())),
        (Some(_), None) => {
            return Err(config(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
            ))
        }
        (None, Some(_)) => {
            return Err(config(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
            ))
        }
        (Some(id), Some(secret)) => (id, secret),
    };
    check_secret(Source::Env, "AWS_ACCESS_KEY_ID", id)?;
    check_secret(Source::Env, "AWS_SECRET_ACCESS_KEY", secret)?;
    if let Some(token) = &s.session_token {
        check_secret(Source::Env, "AWS_SESSION_TOKEN", token)?;
    }
    let creds = Credentials {
        access_key_id: id.clone(),
        secret_access_key: secret.clone(),
        session_token: s.session_token.clone(),
        expires: None,
    };
    Ok(Probe::Use(Source::Env, Box::new(Static(creds))))
}

fn config(what: &str) -> CredError {
    CredError::Config {
        source: Source::Env,
        what: what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let env = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        };
        Settings::from_env(&env, "eu-west-1")
    }

    #[test]
    fn defaults_follow_home_and_region() {
        let s = settings(&[("HOME", "/home/u")]);
        assert_eq!(s.profile, "default");
        assert_eq!(
            s.credentials_file,
            Some(PathBuf::from("/home/u/.aws/credentials"))
        );
        assert_eq!(s.config_file, Some(PathBuf::from("/home/u/.aws/config")));
        assert_eq!(s.sts_endpoint, "https://sts.eu-west-1.amazonaws.com/");
        assert_eq!(s.imds_endpoint, "http://169.254.169.254");
        assert!(!s.imds_disabled);
        assert_eq!(
            sts_regional_endpoint("cn-north-1"),
            "https://sts.cn-north-1.amazonaws.com.cn/"
        );
        assert_eq!(sts_regional_endpoint(""), "https://sts.amazonaws.com/");
    }

    #[test]
    fn overrides_and_tilde() {
        let s = settings(&[
            ("HOME", "/h"),
            ("AWS_SHARED_CREDENTIALS_FILE", "~/creds"),
            ("AWS_CONFIG_FILE", "/etc/aws"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_EC2_METADATA_DISABLED", "TRUE"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:2/"),
            ("AWS_PROFILE", ""),
        ]);
        assert_eq!(s.credentials_file, Some(PathBuf::from("/h/creds")));
        assert_eq!(s.config_file, Some(PathBuf::from("/etc/aws")));
        assert_eq!(s.sts_endpoint, "http://127.0.0.1:1");
        assert!(s.imds_disabled);
        assert_eq!(s.imds_endpoint, "http://127.0.0.1:2");
        assert_eq!(s.profile, "default");
        let s = settings(&[
            ("AWS_ENDPOINT_URL", "http://a"),
            ("AWS_ENDPOINT_URL_STS", "http://b"),
        ]);
        assert_eq!(s.sts_endpoint, "http://b");
        assert_eq!(s.credentials_file, None);
    }

    #[test]
    fn env_keys_half_set_is_an_error_naming_the_variable() {
        let s = settings(&[("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")]);
        let err = probe_env(&s).err().unwrap().to_string();
        assert_eq!(
            err,
            "env credentials: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
        );
        let s = settings(&[
            ("AWS_ACCESS_KEY_ID", "AKIA EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
        ]);
        let err = probe_env(&s).err().unwrap().to_string();
        assert!(
            err.contains("AWS_ACCESS_KEY_ID contains whitespace"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"));
    }
}
