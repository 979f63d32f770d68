//! The `Code` and `Message` of an S3 (or STS-style) XML error body, by a
//! small hand-written extractor: no XML parser, never panics, bounded output.

/// Longest code or message kept from an error body, so a log line stays short.
const FIELD_MAX: usize = 512;

/// `Code` and `Message` of an S3 XML error body
/// (`<Error><Code>AccessDenied</Code><Message>Access Denied</Message>...`).
/// `None` without a complete `<Code>` element. Never panics; output bounded,
/// entities decoded, control characters turned to spaces.
pub fn parse_error_xml(body: &[u8]) -> Option<(String, String)> {
    let code = element(body, b"Code")?;
    let message = element(body, b"Message").unwrap_or_default();
    Some((code, message))
}

fn element(body: &[u8], name: &[u8]) -> Option<String> {
    let open = [b"<".as_slice(), name, b">"].concat();
    let close = [b"</".as_slice(), name, b">"].concat();
    let start = find(body, &open)?.checked_add(open.len())?;
    let rest = body.get(start..)?;
    let end = find(rest, &close)?;
    Some(clean(&decode_entities(rest.get(..end)?)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None; // `windows(0)` would panic
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn decode_entities(raw: &[u8]) -> Vec<u8> {
    const ENTITIES: [(&[u8], u8); 5] = [
        (b"&amp;", b'&'),
        (b"&lt;", b'<'),
        (b"&gt;", b'>'),
        (b"&quot;", b'"'),
        (b"&apos;", b'\''),
    ];
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(rest) = raw.get(i..) {
        let Some(&b) = rest.first() else { break };
        match ENTITIES.iter().find(|(e, _)| rest.starts_with(e)) {
            Some((e, c)) => {
                out.push(*c);
                i = i.saturating_add(e.len());
            }
            None => {
                out.push(b);
                i = i.saturating_add(1);
            }
        }
    }
    out
}

fn clean(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for c in text.trim().chars() {
        if out.len().saturating_add(c.len_utf8()) > FIELD_MAX {
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DENIED: &str =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
<Message>Access Denied</Message><RequestId>656c76696e6727732072657175657374</RequestId>\
<HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId></Error>";
    const SIGNATURE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>\
<Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message>\
<AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20130524T000000Z</StringToSign>\
<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    const REDIRECT: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code>\
<Message>The bucket you are attempting to access must be addressed using the specified endpoint. \
Please send all future requests to this endpoint.</Message><Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint>\
<Bucket>b</Bucket></Error>";

    #[test]
    fn real_s3_error_bodies() {
        assert_eq!(
            parse_error_xml(DENIED.as_bytes()),
            Some(("AccessDenied".into(), "Access Denied".into()))
        );
        let (code, msg) = parse_error_xml(SIGNATURE.as_bytes()).unwrap();
        assert_eq!(code, "SignatureDoesNotMatch");
        assert!(
            msg.starts_with("The request signature we calculated"),
            "{msg}"
        );
        assert_eq!(
            parse_error_xml(REDIRECT.as_bytes()).unwrap().0,
            "PermanentRedirect"
        );
    }

    #[test]
    fn entities_controls_and_missing_message() {
        let body = b"<Error><Code>X&amp;Y</Code><Message>a &lt;b&gt;\n&quot;c&apos; &unknown;</Message></Error>";
        assert_eq!(
            parse_error_xml(body),
            Some(("X&Y".into(), "a <b> \"c' &unknown;".into()))
        );
        assert_eq!(
            parse_error_xml(b"<Error><Code>SlowDown</Code></Error>"),
            Some(("SlowDown".into(), String::new()))
        );
        assert_eq!(parse_error_xml(b""), None);
        assert_eq!(parse_error_xml(b"<html>502 Bad Gateway</html>"), None);
        let long = format!("<Code>C</Code><Message>{}</Message>", "\u{e9}".repeat(1000));
        let (_, m) = parse_error_xml(long.as_bytes()).unwrap();
        assert!(m.len() <= FIELD_MAX && m.chars().all(|c| c == '\u{e9}'));
    }

    #[test]
    fn every_truncated_prefix_is_handled() {
        for body in [DENIED, SIGNATURE, REDIRECT] {
            let bytes = body.as_bytes();
            let code_end = body.find("</Code>").unwrap() + "</Code>".len();
            for n in 0..=bytes.len() {
                let got = parse_error_xml(&bytes[..n]);
                assert_eq!(got.is_some(), n >= code_end, "prefix {n} of {body}");
            }
        }
    }
    #[test]
    fn random_mutations_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for body in [DENIED, SIGNATURE, REDIRECT] {
            for _ in 0..2000 {
                let mut b = body.as_bytes().to_vec();
                for _ in 0..4 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let at = (x % b.len() as u64) as usize;
                    b[at] = (x >> 32) as u8;
                }
                if let Some((c, m)) = parse_error_xml(&b) {
                    assert!(c.len() <= FIELD_MAX && m.len() <= FIELD_MAX);
                }
            }
        }
    }
}
