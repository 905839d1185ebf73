//! PDD's receiver data since the 2021 data-security change: ciphertext fields next to `*_mask`
//! fields, and what `pdd.open.decrypt.batch` opens them to.
//!
//! Shapes (illustrative, as in the README): names and addresses `~<base64>~0~`, phones
//! `$<search index>$<base64>$0$$`. The search index is made as the public security SDKs of this
//! ciphertext family make it (`encryptPhoneIndex`: a keyed hash of the number's **last four
//! digits**), so a repeat buyer's phone ciphertext repeats, and buyers whose numbers end alike
//! share an index, as on the platform. Decrypted phones are the 11-digit mobile, or for buyers who
//! chose number protection a privacy number `$<main>$#<ext>#`.

use std::collections::HashMap;

use crate::jd::cipher::{base64, digest_bytes};
use crate::jd::people::{Person, mask_mobile};
use crate::shop::{ALNUM, Shop};

/// `data_type` values of `pdd.open.decrypt.batch`.
pub const RECEIVER_NAME: u8 = 5;
pub const RECEIVER_PHONE: u8 = 6;
pub const FULL_ADDRESS: u8 = 7;
pub const DETAIL_ADDRESS: u8 = 8;

/// One ciphertext's plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub data_type: u8,
    pub plaintext: String,
}

/// The ciphertext and mask fields of one order, and the secrets behind them.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub name: String,
    pub phone: String,
    pub detail_address: String,
    pub address: String,
    pub name_mask: String,
    pub phone_mask: String,
    pub address_mask: String,
}

/// Seals receivers for one shop, remembering every ciphertext's plaintext.
#[derive(Debug, Default)]
pub struct Vault {
    pub secrets: HashMap<String, Secret>,
}

fn body(seed: u64, shop: &Shop, kind: &str, plaintext: &str, len: usize) -> String {
    let mut bytes = vec![0x02u8, 0, 0, 0, 0x01];
    bytes.extend(digest_bytes(seed, &["pdd-mall", &shop.seed_name()], 9));
    bytes.extend(digest_bytes(seed, &["pdd-cipher", kind, plaintext], len));
    base64(&bytes)
}

/// The search index of `number`: a keyed hash of its last four digits.
fn search_index(seed: u64, number: &str) -> String {
    let last_four = number
        .get(number.len().saturating_sub(4)..)
        .unwrap_or(number);
    digest_bytes(seed, &["pdd-index", last_four], 12)
        .iter()
        .map(|b| {
            char::from(
                ALNUM
                    .get(usize::from(*b) % ALNUM.len())
                    .copied()
                    .unwrap_or(b'A'),
            )
        })
        .collect()
}

impl Vault {
    fn keep(&mut self, ciphertext: &str, data_type: u8, plaintext: String) {
        self.secrets.insert(
            ciphertext.to_owned(),
            Secret {
                data_type,
                plaintext,
            },
        );
    }

    /// The receiver as an order shows it; the plaintexts are kept for decryption.
    pub fn seal(&mut self, seed: u64, shop: &Shop, p: &Person) -> Sealed {
        let region = p.region();
        let region_text = format!(
            "{}{}{}",
            region.map(|r| r.state).unwrap_or_default(),
            region.map(|r| r.city).unwrap_or_default(),
            region.map(|r| r.district).unwrap_or_default()
        );
        let detail = format!("{}{}", p.town, p.street);
        let full = p.full_address();
        let (phone_plain, phone_mask) = match &p.privacy {
            Some((main, ext)) => (format!("${main}$#{ext}#"), mask_mobile(main)),
            None => (p.mobile.clone(), mask_mobile(&p.mobile)),
        };
        let index_source = p.privacy.as_ref().map_or(p.mobile.as_str(), |(m, _)| m);
        let sealed = Sealed {
            name: format!("~{}~0~", body(seed, shop, "name", &p.name, 16)),
            phone: format!(
                "${}${}$0$$",
                search_index(seed, index_source),
                body(seed, shop, "phone", &phone_plain, 16)
            ),
            detail_address: format!("~{}~0~", body(seed, shop, "detail", &detail, 32)),
            address: format!("~{}~0~", body(seed, shop, "address", &full, 40)),
            name_mask: p.masked_name(),
            phone_mask,
            address_mask: format!("{region_text}****"),
        };
        self.keep(&sealed.name, RECEIVER_NAME, p.name.clone());
        self.keep(&sealed.phone, RECEIVER_PHONE, phone_plain);
        self.keep(&sealed.detail_address, DETAIL_ADDRESS, detail);
        self.keep(&sealed.address, FULL_ADDRESS, full);
        sealed
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::jd::people::new_person;
    use crate::shop::ShopKey;
    use leadgen_domain::PlatformType;

    #[test]
    fn ciphertexts_have_the_platform_shapes_and_repeat_per_person() {
        let shop = Shop::derive(1, PlatformType::Pdd, &ShopKey::default_seller("app"));
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut vault = Vault::default();
        let p = new_person(&mut rng);
        let a = vault.seal(1, &shop, &p);
        let b = vault.seal(1, &shop, &p);
        assert_eq!(a.phone, b.phone);
        assert!(
            a.name.starts_with("~AgAAAA") && a.name.ends_with("~0~"),
            "{}",
            a.name
        );
        assert!(
            a.phone.starts_with('$') && a.phone.ends_with("$0$$"),
            "{}",
            a.phone
        );
        assert_eq!(a.phone.split('$').nth(1).unwrap().len(), 12);
        // Another number ending in the same four digits shares the index, not the ciphertext.
        let mut twin = p.clone();
        twin.privacy = None;
        twin.mobile = format!("150{}", &p.mobile[3..]);
        let mut other = twin.clone();
        other.mobile = format!("1500000{}", &p.mobile[7..]);
        let (t, o) = (vault.seal(1, &shop, &twin), vault.seal(1, &shop, &other));
        assert_eq!(t.phone.split('$').nth(1), o.phone.split('$').nth(1));
        assert_ne!(t.phone, o.phone);
        assert!(a.phone_mask.contains("****"));
        assert_eq!(vault.secrets[&a.name].plaintext, p.name);
        assert_eq!(vault.secrets[&a.phone].data_type, RECEIVER_PHONE);
        assert!(a.address_mask.ends_with("****"));
    }
}
