use super::*;

const CREDENTIALS: &str = "\u{feff}# written by `aws configure`
[default]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

[ci] ; a comment
aws_access_key_id=AKIACI
aws_secret_access_key=ci#secret;x  # inline comment
aws_session_token = tok
";

const CONFIG: &str = "[default]
region = us-east-1
s3 =
  max_concurrent_requests = 20
  addressing_style = path

[profile irsa]
role_arn = arn:aws:iam::123456789012:role/test
web_identity_token_file = /var/run/secrets/eks.amazonaws.com/serviceaccount/token
role_session_name = mm

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start

[irsa]
role_arn = arn:aws:iam::1:role/not-a-profile-in-a-config-file

[profile chained]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default
";

#[test]
fn credentials_file_static_keys() {
    let p = parse_profile(CREDENTIALS, "default", false)
        .unwrap()
        .unwrap();
    assert_eq!(p.aws_access_key_id.as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(
        p.aws_secret_access_key.as_deref(),
        Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    );
    let ci = parse_profile(CREDENTIALS, "ci", false).unwrap().unwrap();
    assert_eq!(ci.aws_secret_access_key.as_deref(), Some("ci#secret;x"));
    assert_eq!(ci.aws_session_token.as_deref(), Some("tok"));
    assert_eq!(parse_profile(CREDENTIALS, "nope", false).unwrap(), None);
}

#[test]
fn config_file_profiles() {
    let p = parse_profile(CONFIG, "irsa", true).unwrap().unwrap();
    assert_eq!(
        p.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/test")
    );
    assert_eq!(p.role_session_name.as_deref(), Some("mm"));
    let d = parse_profile(CONFIG, "default", true).unwrap().unwrap();
    assert_eq!(d, Profile::default());
    let c = parse_profile(CONFIG, "chained", true).unwrap().unwrap();
    assert_eq!(c.unsupported.as_deref(), Some("source_profile"));
    // `[irsa]` in a credentials file is the profile; in a config file it is not.
    let bare = parse_profile(CONFIG, "irsa", false).unwrap().unwrap();
    assert_eq!(
        bare.role_arn.as_deref(),
        Some("arn:aws:iam::1:role/not-a-profile-in-a-config-file")
    );
}

#[test]
fn repeated_sections_merge_and_later_keys_win() {
    let text =
        "[a]\nrole_arn = one\n[b]\nrole_arn = b\n[a]\nrole_arn = two\nrole_session_name = s\n";
    let p = parse_profile(text, "a", false).unwrap().unwrap();
    assert_eq!(p.role_arn.as_deref(), Some("two"));
    assert_eq!(p.role_session_name.as_deref(), Some("s"));
    let merged = Profile::merge(parse_profile(CONFIG, "irsa", true).unwrap().unwrap(), p);
    assert_eq!(merged.role_arn.as_deref(), Some("two"));
    assert!(merged.web_identity_token_file.is_some());
}

#[test]
fn malformed_lines_are_errors_with_line_numbers() {
    let cases = [
        (
            "[default\naws_access_key_id = x\n",
            1,
            "section header without ']'",
        ),
        (
            "[default]\naws_access_key_id\n",
            2,
            "expected 'key = value'",
        ),
        ("\n[default]\n = x\n", 3, "empty key before '='"),
        ("[]\n", 1, "empty section name"),
        ("[default] x\n", 1, "text after ']' in a section header"),
    ];
    for (text, line, what) in cases {
        assert_eq!(
            parse_profile(text, "default", false),
            Err(ProfileError { line, what }),
            "{text:?}"
        );
    }
    // Junk in another profile is not ours to judge.
    assert_eq!(
        parse_profile("[other]\njunk\n[default]\n", "default", false),
        Ok(Some(Profile::default()))
    );
}

#[test]
fn continuation_lines_join_the_previous_value() {
    let text = "[default]\naws_access_key_id = AKIA\n  aws_secret_access_key = s\n";
    let p = parse_profile(text, "default", false).unwrap().unwrap();
    assert_eq!(
        p.aws_access_key_id.as_deref(),
        Some("AKIA\naws_secret_access_key = s")
    );
    assert_eq!(p.aws_secret_access_key, None);
}

#[test]
fn every_truncated_prefix_is_handled() {
    for text in [CREDENTIALS, CONFIG] {
        for (end, _) in text.char_indices() {
            for name in ["default", "ci", "irsa", "chained"] {
                let _ = parse_profile(&text[..end], name, true);
                let _ = parse_profile(&text[..end], name, false);
            }
        }
    }
}

#[test]
fn debug_redacts_secrets() {
    let p = parse_profile(CREDENTIALS, "ci", false).unwrap().unwrap();
    let shown = format!("{p:?}");
    assert!(shown.contains("AKIACI"));
    assert!(
        !shown.contains("ci#secret") && !shown.contains("tok\""),
        "{shown}"
    );
}
