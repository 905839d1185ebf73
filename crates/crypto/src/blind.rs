//! Keyed blind indexes: HMAC-SHA256 of a normalized value under a key of its own, so equal
//! values can be found and grouped without storing them. Never an unkeyed hash: the space of
//! phone numbers is small enough to enumerate.
//!
//! Indexes are **per tenant**: the HMAC covers the tenant id with the value, so one buyer seen by
//! two tenants has two unrelated indexes, and someone reading the tables cannot join one
//! merchant's customers to another's.
//!
//! An index is the text `t<key id>.<hex>`; the key id lets the key rotate. While keys rotate,
//! [`BlindIndexer::all`] gives a value's index under every configured key, so lookups find rows
//! written under the old key, and writers store [`BlindIndexer::current`] only. Indexes of the
//! first scheme, one for all tenants (`<key id>.<hex>`), are found the same way, as if written
//! under an older key, until `leadctl blind-index rotate` rewrites them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

use crate::CryptoError;

/// Computes blind indexes with the configured keys.
pub struct BlindIndexer {
    current: (u8, hmac::Key),
    previous: Vec<(u8, hmac::Key)>,
}

impl fmt::Debug for BlindIndexer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndexer")
            .field("current", &self.current.0)
            .finish_non_exhaustive()
    }
}

fn hmac_key(b64: &str) -> Result<hmac::Key, CryptoError> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| CryptoError::BadKey)?;
    if bytes.len() < 32 {
        return Err(CryptoError::BadKey);
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

impl BlindIndexer {
    /// The current key (`key_id`, Base64, at least 32 bytes) plus older keys written `id:base64`.
    pub fn new(
        key_id: u8,
        key: &SecretString,
        previous: &[SecretString],
    ) -> Result<Self, CryptoError> {
        let current = (key_id, hmac_key(key.expose_secret())?);
        crate::distinct_keys((key_id, key), previous)?;
        let previous = crate::previous_keys(key_id, previous, hmac_key)?;
        Ok(BlindIndexer { current, previous })
    }

    /// The id of the key new indexes are written with.
    pub fn current_key_id(&self) -> u8 {
        self.current.0
    }

    /// Whether `index` was written with the current key and scheme (else it can only be looked up
    /// until its key is retired or it is rewritten).
    pub fn is_current(&self, index: &str) -> bool {
        index.split_once('.').map(|(id, _)| id) == Some(format!("t{}", self.current.0).as_str())
    }

    fn index(id: u8, key: &hmac::Key, tenant: i64, material: &str) -> String {
        let tag = hmac::sign(key, format!("T{tenant}|{material}").as_bytes());
        format!("t{id}.{}", hex::encode(tag.as_ref()))
    }

    /// The first scheme's index, the same for every tenant.
    fn shared_index(id: u8, key: &hmac::Key, material: &str) -> String {
        let tag = hmac::sign(key, material.as_bytes());
        format!("{id}.{}", hex::encode(tag.as_ref()))
    }

    /// The index to store for `material` in `tenant`.
    pub fn current(&self, tenant: i64, material: &str) -> String {
        Self::index(self.current.0, &self.current.1, tenant, material)
    }

    /// The index of `material` in `tenant` under every configured key, the current one first,
    /// then the first scheme's under every key.
    pub fn all(&self, tenant: i64, material: &str) -> Vec<String> {
        let keys = || std::iter::once(&self.current).chain(self.previous.iter());
        keys()
            .map(|(id, key)| Self::index(*id, key, tenant, material))
            .chain(keys().map(|(id, key)| Self::shared_index(*id, key, material)))
            .collect()
    }
}

/// A 64-bit number derived from an index, for PostgreSQL advisory locks.
pub fn lock_key(index: &str) -> i64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, index.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest.as_ref()[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretString {
        SecretString::from(STANDARD.encode([byte; 32]))
    }

    #[test]
    fn equal_values_share_an_index_and_keys_separate_them() {
        let a = BlindIndexer::new(1, &key(1), &[]).unwrap();
        let b = BlindIndexer::new(1, &key(2), &[]).unwrap();
        let x = a.current(7, "PHONE:CN:+8613800000001");
        assert_eq!(x, a.current(7, "PHONE:CN:+8613800000001"));
        assert_ne!(x, a.current(7, "PHONE:CN:+8613800000002"));
        assert_ne!(x, b.current(7, "PHONE:CN:+8613800000001"));
        assert!(x.starts_with("t1.") && x.len() == 3 + 64);
        assert!(!x.contains("13800000001"));
    }

    #[test]
    fn tenants_never_share_an_index() {
        let a = BlindIndexer::new(1, &key(1), &[]).unwrap();
        let m = "PLATFORM_BUYER:TAOBAO:AAE1x";
        assert_ne!(a.current(7, m), a.current(8, m));
        // Nor does a tenant id run into the value.
        assert_ne!(a.current(1, "2|x"), a.current(12, "x"));
        let (seven, eight) = (a.all(7, m), a.all(8, m));
        assert!(seven.iter().take(1).all(|i| !eight.contains(i)));
    }

    #[test]
    fn rotation_finds_old_indexes_and_writes_new_ones() {
        let old = BlindIndexer::new(1, &key(1), &[]).unwrap();
        let stored = old.current(7, "m");
        let previous = [SecretString::from(format!(
            "1:{}",
            STANDARD.encode([1u8; 32])
        ))];
        let rotated = BlindIndexer::new(2, &key(2), &previous).unwrap();
        let all = rotated.all(7, "m");
        assert_eq!(all.len(), 4);
        assert!(all[0].starts_with("t2."));
        assert!(rotated.is_current(&all[0]) && !rotated.is_current(&stored));
        assert!(old.is_current(&stored) && !old.is_current("t12.ab"));
        assert_eq!(all[1], stored);
        assert_eq!(rotated.current_key_id(), 2);
    }

    #[test]
    fn the_first_schemes_shared_indexes_are_still_found() {
        let indexer = BlindIndexer::new(1, &key(1), &[]).unwrap();
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[1u8; 32]), b"m");
        let shared = format!("1.{}", hex::encode(tag.as_ref()));
        let all = indexer.all(7, "m");
        assert_eq!(all, vec![indexer.current(7, "m"), shared.clone()]);
        assert!(!indexer.is_current(&shared));
    }

    #[test]
    fn short_or_malformed_keys_are_refused() {
        let short = SecretString::from(STANDARD.encode([1u8; 16]));
        assert_eq!(
            BlindIndexer::new(1, &short, &[]).unwrap_err(),
            CryptoError::BadKey
        );
        let bad = [SecretString::from("no-colon".to_owned())];
        assert_eq!(
            BlindIndexer::new(1, &key(1), &bad).unwrap_err(),
            CryptoError::BadPreviousKey(1)
        );
        // A previous key too short is named by its place, not taken for the current one.
        let previous = [
            SecretString::from(format!("2:{}", key(2).expose_secret())),
            SecretString::from(format!("3:{}", short.expose_secret())),
        ];
        assert_eq!(
            BlindIndexer::new(1, &key(1), &previous).unwrap_err(),
            CryptoError::BadPreviousKey(2)
        );
        assert_ne!(lock_key("1.ab"), lock_key("1.ac"));
    }
}
