//! Lower-case hexadecimal, the one encoder (SHA-256 digests, SigV4, object
//! keys' percent-escapes use upper case and have their own table).

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
    }
}
