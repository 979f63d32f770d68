//! The one hex encoder: lower case for digests (SHA-256), upper case in
//! percent-escapes (object keys, S3 metadata headers).

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lower-case hex, two digits per byte.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    push_hex(&mut s, bytes);
    s
}

/// Appends `bytes` as lower-case hex to `out`.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// Appends `%XX` (upper-case hex) for `byte`: percent-encoding, as SigV4's
/// URI-encode and S3 metadata headers want it.
pub fn push_percent(out: &mut String, byte: u8) {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(UPPER[usize::from(byte >> 4)]));
    out.push(char::from(UPPER[usize::from(byte & 0x0f)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_nibble() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff, 0x1f, 0x8b]), "000ff0ff1f8b");
        let mut s = String::from("x=");
        push_hex(&mut s, &[0xab]);
        assert_eq!(s, "x=ab");
        push_percent(&mut s, 0x2f);
        push_percent(&mut s, 0xe9);
        assert_eq!(s, "x=ab%2F%E9");
    }
}
