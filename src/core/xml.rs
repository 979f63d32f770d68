//! The one XML extractor: enough for the flat documents S3 and STS send
//! (`<Error><Code>…</Code><Message>…</Message></Error>`, an STS
//! `<Credentials>` block), not a general parser. Never panics, whatever the
//! bytes (fuzzed through both callers).

use crate::core::text::one_line;

/// Longest code or message kept from an error body, in characters.
pub const FIELD_MAX: usize = 512;

/// `Code` and `Message` of an S3 or STS error document, made safe for a
/// one-line log (controls turned to spaces, bounded). `None` without a
/// complete, non-empty `<Code>` element.
pub fn error_code_message(body: &[u8]) -> Option<(String, String)> {
    let doc = String::from_utf8_lossy(body);
    let text = |name| {
        element(&doc, name)
            .map(|raw| one_line(&unescape_lenient(raw), FIELD_MAX))
            .unwrap_or_default()
    };
    let code = text("Code");
    if code.is_empty() {
        return None;
    }
    Some((code, text("Message")))
}

/// The text between `<name ...>` and the next `</name>`; `""` for `<name/>`.
/// Not a general XML parser: enough for the flat documents STS sends.
pub fn element<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let close = format!("</{name}>");
    let mut from = 0;
    while let Some(lt) = doc.get(from..)?.find('<') {
        let tag_start = from.checked_add(lt)?.checked_add(1)?;
        let rest = doc.get(tag_start..)?;
        from = tag_start;
        let Some(after_name) = rest.strip_prefix(name) else {
            continue;
        };
        let open_len = match after_name.chars().next() {
            Some('>') => 1,
            Some(c) if c == '/' || c.is_ascii_whitespace() => {
                after_name.find('>')?.checked_add(1)?
            }
            _ => continue, // a longer name with the same prefix
        };
        let open = after_name.get(..open_len)?;
        if open.ends_with("/>") {
            return Some("");
        }
        let inner_start = tag_start.checked_add(name.len())?.checked_add(open_len)?;
        let inner = doc.get(inner_start..)?;
        return inner.find(&close).and_then(|end| inner.get(..end));
    }
    None
}

/// Replaces the five XML entities and numeric character references; CDATA
/// is taken as is. `None` on a malformed entity.
pub fn unescape(raw: &str) -> Option<String> {
    if let Some(cdata) = raw.trim().strip_prefix("<![CDATA[") {
        return cdata.strip_suffix("]]>").map(str::to_owned);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp)?);
        let after = rest.get(amp.checked_add(1)?..)?;
        let semi = after.find(';').filter(|&i| i <= 10)?;
        let entity = after.get(..semi)?;
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => entity.strip_prefix('#')?.parse::<u32>().ok()?,
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = after.get(semi.checked_add(1)?..)?;
    }
    out.push_str(rest);
    Some(out)
}

/// [`unescape`], keeping a malformed entity as it is written.
pub fn unescape_lenient(raw: &str) -> String {
    if let Some(text) = unescape(raw) {
        return text;
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        let (before, from_amp) = rest.split_at(amp);
        out.push_str(before);
        let end = from_amp.find(';').map_or(from_amp.len(), |i| i + 1);
        let (entity, after) = from_amp.split_at(end);
        match unescape(entity) {
            Some(c) => out.push_str(&c),
            None => out.push_str(entity),
        }
        rest = after;
    }
    out.push_str(rest);
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
            error_code_message(DENIED.as_bytes()),
            Some(("AccessDenied".into(), "Access Denied".into()))
        );
        let (code, msg) = error_code_message(SIGNATURE.as_bytes()).unwrap();
        assert_eq!(code, "SignatureDoesNotMatch");
        assert!(
            msg.starts_with("The request signature we calculated"),
            "{msg}"
        );
        assert_eq!(
            error_code_message(REDIRECT.as_bytes()).unwrap().0,
            "PermanentRedirect"
        );
    }

    #[test]
    fn entities_controls_and_missing_message() {
        let body = b"<Error><Code>X&amp;Y</Code><Message>a &lt;b&gt;\n&quot;c&apos; &unknown;</Message></Error>";
        assert_eq!(
            error_code_message(body),
            Some(("X&Y".into(), "a <b> \"c' &unknown;".into()))
        );
        assert_eq!(
            error_code_message(b"<Error><Code>SlowDown</Code></Error>"),
            Some(("SlowDown".into(), String::new()))
        );
        assert_eq!(error_code_message(b""), None);
        assert_eq!(error_code_message(b"<html>502 Bad Gateway</html>"), None);
        let long = format!("<Code>C</Code><Message>{}</Message>", "\u{e9}".repeat(1000));
        let (_, m) = error_code_message(long.as_bytes()).unwrap();
        assert_eq!(
            m.chars().count(),
            FIELD_MAX + 1,
            "bounded, with an ellipsis"
        );
        assert!(m.starts_with('\u{e9}') && m.ends_with('…'));
    }

    #[test]
    fn every_truncated_prefix_is_handled() {
        for body in [DENIED, SIGNATURE, REDIRECT] {
            let bytes = body.as_bytes();
            let code_end = body.find("</Code>").unwrap() + "</Code>".len();
            for n in 0..=bytes.len() {
                let got = error_code_message(&bytes[..n]);
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
                if let Some((c, m)) = error_code_message(&b) {
                    assert!(c.chars().count() <= FIELD_MAX + 1);
                    assert!(m.chars().count() <= FIELD_MAX + 1);
                }
            }
        }
    }
}
