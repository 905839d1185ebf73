//! Sealing of secrets (app secrets, access and refresh tokens) and personal data (contact
//! details) at rest, with AES-256-GCM from ring.
//!
//! A sealed value is the text `v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`. The key id lets
//! keys rotate: new values are sealed with the current key, old ones open with any configured
//! key. Every value is bound to a context (the additional authenticated data, e.g.
//! `t_ecom_platform_auth.access_token:17`), so a ciphertext copied into another row or column
//! does not open.
//!
//! [`BlindIndexer`] computes keyed blind indexes (HMAC-SHA256) so personal data can be found and
//! grouped without being stored.

mod blind;

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};

pub use blind::{BlindIndexer, lock_key};

/// Why a key could not be loaded or a value could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("the key must be 32 bytes of Base64")]
    BadKey,
    #[error(
        "previous key {0} (counted from 1, in the order given) must be `id:base64`, an id of \
         0–255 and a key of 32 bytes"
    )]
    BadPreviousKey(usize),
    #[error("{0} is not set")]
    MissingKey(&'static str),
    #[error("sealed value is malformed")]
    Malformed,
    #[error("no key with id {0} is configured")]
    UnknownKey(u8),
    #[error("sealed value does not open with its key and context")]
    Tampered,
    #[error("the system random generator failed")]
    Random,
    #[error(
        "key id {0} is configured twice (the current key and a previous one, or two previous ones)"
    )]
    DuplicateKeyId(u8),
    #[error(
        "key ids {0} and {1} are the same key: a rotation to a new id must bring new key bytes \
         (the old key would stay in use under the new id)"
    )]
    SameKeyTwice(u8, u8),
    #[error(
        "a blind-index key is also a data key: each must be its own (a blind index made with the \
         data key would tie the two together)"
    )]
    SharedKey,
}

/// The retired keys, each `id:base64`, as (id, key) with `load` making the key of its Base64:
/// an id given twice, or the current key's id again, is refused (the last would silently win,
/// and new values could be sealed or indexed with a retired key). A key that is not
/// `id:base64`, or that `load` refuses, is named by its place in the list.
pub(crate) fn previous_keys<K>(
    current: u8,
    previous: &[SecretString],
    load: impl Fn(&str) -> Result<K, CryptoError>,
) -> Result<Vec<(u8, K)>, CryptoError> {
    let mut seen = vec![current];
    previous
        .iter()
        .enumerate()
        .map(|(at, old)| {
            let bad = CryptoError::BadPreviousKey(at + 1);
            let (id, b64) = old.expose_secret().split_once(':').ok_or(bad.clone())?;
            let id: u8 = id.trim().parse().map_err(|_| bad.clone())?;
            if seen.contains(&id) {
                return Err(CryptoError::DuplicateKeyId(id));
            }
            seen.push(id);
            Ok((id, load(b64).map_err(|_| bad)?))
        })
        .collect()
}

/// Refuses one key given under two ids (the current key's, `current`, and the previous keys,
/// `id:base64`): a rotation that pasted the old key's bytes under a new id would leave the key
/// it meant to retire in use, while every value reads as moved to the new id. Keys that do not
/// decode are left to the loading, which refuses them.
pub(crate) fn distinct_keys(
    (current_id, current): (u8, &SecretString),
    previous: &[SecretString],
) -> Result<(), CryptoError> {
    let mut seen: Vec<(u8, Vec<u8>)> = Vec::new();
    let decoded = std::iter::once((current_id, current.expose_secret())).chain(
        previous.iter().filter_map(|p| {
            let (id, b64) = p.expose_secret().split_once(':')?;
            Some((id.trim().parse().ok()?, b64))
        }),
    );
    for (id, b64) in decoded {
        let Ok(bytes) = STANDARD.decode(b64.trim()) else {
            continue;
        };
        if let Some((other, _)) = seen.iter().find(|(_, b)| *b == bytes) {
            return Err(CryptoError::SameKeyTwice(*other, id));
        }
        seen.push((id, bytes));
    }
    Ok(())
}

/// Whether two key sets share a key (the same bytes), each given as its current key (Base64)
/// and its previous keys (`id:base64`). Keys that do not decode share nothing here: building
/// the sealer or indexer refuses them.
pub fn share_a_key(
    (a, a_previous): (&SecretString, &[SecretString]),
    (b, b_previous): (&SecretString, &[SecretString]),
) -> bool {
    let bytes = |current: &SecretString, previous: &[SecretString]| -> Vec<Vec<u8>> {
        std::iter::once(current.expose_secret())
            .chain(
                previous
                    .iter()
                    .filter_map(|p| p.expose_secret().split_once(':').map(|(_, b64)| b64)),
            )
            .filter_map(|b64| STANDARD.decode(b64.trim()).ok())
            .collect()
    };
    let b = bytes(b, b_previous);
    bytes(a, a_previous).iter().any(|key| b.contains(key))
}

/// Seals and opens values with the configured keys.
pub struct Sealer {
    current: u8,
    keys: HashMap<u8, LessSafeKey>,
    rng: SystemRandom,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

fn key_from_base64(b64: &str) -> Result<LessSafeKey, CryptoError> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| CryptoError::BadKey)?;
    let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| CryptoError::BadKey)?;
    Ok(LessSafeKey::new(unbound))
}

impl Sealer {
    /// The current key (`key_id`, Base64 key) plus older keys written `id:base64`.
    pub fn new(
        key_id: u8,
        key: &SecretString,
        previous: &[SecretString],
    ) -> Result<Self, CryptoError> {
        let mut keys = HashMap::new();
        keys.insert(key_id, key_from_base64(key.expose_secret())?);
        keys.extend(previous_keys(key_id, previous, key_from_base64)?);
        distinct_keys((key_id, key), previous)?;
        Ok(Sealer {
            current: key_id,
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// Seals `plaintext` bound to `context`.
    pub fn seal(&self, context: &str, plaintext: &str) -> Result<String, CryptoError> {
        let key = self
            .keys
            .get(&self.current)
            .ok_or(CryptoError::UnknownKey(self.current))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut in_out = plaintext.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut in_out,
        )
        .map_err(|_| CryptoError::Random)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&in_out);
        Ok(format!("v1.{}.{}", self.current, STANDARD.encode(blob)))
    }

    /// Opens a value sealed by [`Sealer::seal`] with the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String, CryptoError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Malformed);
        };
        let id: u8 = id.parse().map_err(|_| CryptoError::Malformed)?;
        let key = self.keys.get(&id).ok_or(CryptoError::UnknownKey(id))?;
        let blob = STANDARD.decode(b64).map_err(|_| CryptoError::Malformed)?;
        if blob.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError::Malformed);
        }
        let (nonce, rest) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
        let mut in_out = rest.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretString {
        SecretString::from(STANDARD.encode([byte; 32]))
    }

    #[test]
    fn two_key_sets_share_a_key_when_any_two_keys_are_the_same_bytes() {
        let old =
            |id: u8, byte: u8| SecretString::from(format!("{id}:{}", STANDARD.encode([byte; 32])));
        assert!(!share_a_key(
            (&key(1), &[old(2, 2)]),
            (&key(3), &[old(4, 4)])
        ));
        assert!(share_a_key((&key(1), &[]), (&key(1), &[])));
        assert!(share_a_key((&key(1), &[]), (&key(3), &[old(4, 1)])));
        assert!(share_a_key((&key(5), &[old(2, 2)]), (&key(2), &[])));
        // The same bytes written with white space around them.
        let padded = SecretString::from(format!(" {} ", STANDARD.encode([1u8; 32])));
        assert!(share_a_key((&key(1), &[]), (&padded, &[])));
    }

    #[test]
    fn one_key_under_two_ids_is_refused() {
        let old =
            |id: u8, byte: u8| SecretString::from(format!("{id}:{}", STANDARD.encode([byte; 32])));
        // A rotation that pasted the old key under the new id.
        assert_eq!(
            Sealer::new(2, &key(1), &[old(1, 1)]).err(),
            Some(CryptoError::SameKeyTwice(2, 1))
        );
        assert_eq!(
            BlindIndexer::new(3, &key(9), &[old(1, 1), old(2, 1)]).err(),
            Some(CryptoError::SameKeyTwice(1, 2))
        );
        assert!(Sealer::new(2, &key(2), &[old(1, 1)]).is_ok());
        assert!(BlindIndexer::new(2, &key(2), &[old(1, 1)]).is_ok());
    }

    #[test]
    fn seals_and_opens_with_the_same_context_only() {
        let s = Sealer::new(1, &key(7), &[]).unwrap();
        let sealed = s.seal("auth.access_token:1", "6201e00fhjd21471").unwrap();
        assert!(sealed.starts_with("v1.1."));
        assert!(!sealed.contains("6201e00f"));
        assert_eq!(
            s.open("auth.access_token:1", &sealed).unwrap(),
            "6201e00fhjd21471"
        );
        assert_eq!(
            s.open("auth.access_token:2", &sealed),
            Err(CryptoError::Tampered)
        );
        assert_ne!(
            sealed,
            s.seal("auth.access_token:1", "6201e00fhjd21471").unwrap()
        );
    }

    #[test]
    fn old_keys_still_open_after_rotation() {
        let old = Sealer::new(1, &key(1), &[]).unwrap();
        let sealed = old.seal("c", "secret").unwrap();
        let previous = [SecretString::from(format!(
            "1:{}",
            STANDARD.encode([1u8; 32])
        ))];
        let rotated = Sealer::new(2, &key(2), &previous).unwrap();
        assert_eq!(rotated.open("c", &sealed).unwrap(), "secret");
        assert!(rotated.seal("c", "x").unwrap().starts_with("v1.2."));
        let only_new = Sealer::new(2, &key(2), &[]).unwrap();
        assert_eq!(only_new.open("c", &sealed), Err(CryptoError::UnknownKey(1)));
    }

    #[test]
    fn a_key_id_given_twice_is_refused() {
        let old = |id: u8| SecretString::from(format!("{id}:{}", STANDARD.encode([1u8; 32])));
        // The retired key under the current id would have replaced the current key.
        assert_eq!(
            Sealer::new(2, &key(2), &[old(2)]).err(),
            Some(CryptoError::DuplicateKeyId(2))
        );
        assert_eq!(
            Sealer::new(3, &key(3), &[old(1), old(1)]).err(),
            Some(CryptoError::DuplicateKeyId(1))
        );
        assert_eq!(
            crate::BlindIndexer::new(2, &key(2), &[old(2)]).err(),
            Some(CryptoError::DuplicateKeyId(2))
        );
        assert!(crate::BlindIndexer::new(2, &key(2), &[old(1)]).is_ok());
    }

    #[test]
    fn rejects_bad_keys_and_malformed_values() {
        assert_eq!(
            Sealer::new(1, &SecretString::from("short".to_owned()), &[]).unwrap_err(),
            CryptoError::BadKey
        );
        assert_eq!(
            Sealer::new(1, &key(3), &[SecretString::from("2:short".to_owned())]).unwrap_err(),
            CryptoError::BadPreviousKey(1)
        );
        let s = Sealer::new(1, &key(3), &[]).unwrap();
        assert_eq!(s.open("c", "plain"), Err(CryptoError::Malformed));
        assert_eq!(s.open("c", "v1.1.AAAA"), Err(CryptoError::Malformed));
    }
}
