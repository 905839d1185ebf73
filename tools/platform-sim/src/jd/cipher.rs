//! Look-alike ciphertexts: deterministic bytes shaped like the platforms' encrypted contact data
//! (nobody can decrypt them; the simulator keeps the plaintext where it needs it). PDD reuses
//! [`base64`] and [`digest_bytes`].

use crate::shop::stable_hash;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard Base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = usize::try_from((n >> (18 - 6 * i)) & 63).unwrap_or(0);
                out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `len` pseudo-random bytes derived from `seed` and `parts`.
pub fn digest_bytes(seed: u64, parts: &[&str], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut counter = 0u64;
    while out.len() < len {
        let c = counter.to_string();
        let mut all: Vec<&str> = parts.to_vec();
        all.push(&c);
        out.extend_from_slice(&stable_hash(seed, &all).to_le_bytes());
        counter += 1;
    }
    out.truncate(len);
    out
}

/// A JD TDE ciphertext of `plaintext` under the shop's key `key_id`: Base64 of cipher type
/// (`0x02`), the 16-byte key id, a 16-byte IV and an AES-CBC-sized body.
pub fn jd_tde(seed: u64, key_id: &[u8], plaintext: &str) -> String {
    let blocks = plaintext.len() / 16 + 1;
    let mut bytes = vec![0x02u8];
    bytes.extend_from_slice(key_id);
    bytes.extend(digest_bytes(seed, &["jd-tde-iv", plaintext], 16));
    bytes.extend(digest_bytes(seed, &["jd-tde-body", plaintext], blocks * 16));
    base64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn tde_ciphertexts_are_stable_base64() {
        let key = digest_bytes(1, &["key"], 16);
        let a = jd_tde(1, &key, "13800000001");
        assert_eq!(a, jd_tde(1, &key, "13800000001"));
        assert_ne!(a, jd_tde(1, &key, "13800000002"));
        assert!(a.starts_with('A'), "cipher type 2 in the first byte");
        assert_eq!(a.len() % 4, 0);
    }
}
