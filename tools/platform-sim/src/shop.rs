//! Deterministic identities: the shops an app is authorized for, stable hashes and seeded RNGs.
//!
//! Everything the simulator generates is derived from `--seed` and a few strings (platform, app
//! key, seller, purpose) through [`stable_hash`], which is fixed here (FNV-1a + SplitMix64) so
//! the same seed gives the same shops and orders on every machine and every Rust version.
//!
//! As on the real platforms, one app key is authorized by many sellers: which shop a consent
//! authorizes is decided by who logs in on the consent page (its `seller` field), not by the
//! app key. Each `(app key, seller)` is its own shop ([`ShopKey`]): its own seller id and name,
//! its own orders, its own codes and tokens. The default seller ([`DEFAULT_SELLER`], what a
//! consent that names none logs in as) has the shop the app key always had: its identity and
//! orders are seeded by the app key alone ([`ShopKey::seed_name`]).

use std::borrow::Cow;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use leadgen_domain::PlatformType;

/// FNV-1a over the seed and the parts (each followed by a 0xff separator), finished with
/// SplitMix64 so nearby inputs give unrelated outputs.
pub fn stable_hash(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for b in seed.to_le_bytes() {
        eat(b);
    }
    for part in parts {
        for b in part.bytes() {
            eat(b);
        }
        eat(0xff);
    }
    splitmix64(h)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A reproducible RNG for one purpose (`parts`) under `seed`.
pub fn seeded_rng(seed: u64, parts: &[&str]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stable_hash(seed, parts))
}

/// `len` characters drawn from `alphabet`.
pub fn random_string(rng: &mut impl Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| {
            let i = rng.gen_range(0..alphabet.len());
            char::from(alphabet.get(i).copied().unwrap_or(b'0'))
        })
        .collect()
}

pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
pub const LOWER_HEX: &[u8] = b"0123456789abcdef";

const SHOP_HEADS: &[&str] = &[
    "云裳", "木子", "星辰", "青禾", "知音", "暖阳", "南山", "小鹿", "拾光", "初见", "半夏", "山野",
];
const SHOP_TRADES: &[&str] = &[
    "家居", "服饰", "数码", "美妆", "母婴", "食品", "茶叶", "鞋包",
];
const SHOP_TAILS: &[&str] = &["旗舰店", "专营店", "小铺", "官方店", "优选店", "工厂店"];

/// The login name a consent logs in as when its form names no seller.
pub const DEFAULT_SELLER: &str = "sim-seller";

/// The longest seller login name accepted, in characters.
pub const MAX_SELLER_CHARS: usize = 64;

/// A seller login name as a consent form or an admin query sends it: trimmed; absent or empty
/// means [`DEFAULT_SELLER`]; `None` when it is longer than [`MAX_SELLER_CHARS`] or holds a
/// control character.
pub fn seller_name(raw: Option<&str>) -> Option<String> {
    let name = raw.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Some(DEFAULT_SELLER.to_owned());
    }
    let fits = name.chars().count() <= MAX_SELLER_CHARS;
    (fits && !name.chars().any(char::is_control)).then(|| name.to_owned())
}

/// Which shop: the app an authorization went through and the seller who logged in to consent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShopKey {
    pub app_key: String,
    pub seller: String,
}

impl ShopKey {
    pub fn new(app_key: &str, seller: &str) -> Self {
        ShopKey {
            app_key: app_key.to_owned(),
            seller: seller.to_owned(),
        }
    }

    /// The shop of [`DEFAULT_SELLER`] on `app_key`.
    pub fn default_seller(app_key: &str) -> Self {
        ShopKey::new(app_key, DEFAULT_SELLER)
    }

    /// What the shop's generated identity and data are seeded with where they used to take the
    /// app key alone: the app key for [`DEFAULT_SELLER`] (so its shop and orders stay what they
    /// always were), else the app key and the seller joined by NUL (no app key holds one: app
    /// keys come from the command line).
    pub fn seed_name(&self) -> Cow<'_, str> {
        seed_name(&self.app_key, &self.seller)
    }
}

/// [`ShopKey::seed_name`] of `app_key` and `seller`.
pub fn seed_name<'a>(app_key: &'a str, seller: &str) -> Cow<'a, str> {
    if seller == DEFAULT_SELLER {
        Cow::Borrowed(app_key)
    } else {
        Cow::Owned(format!("{app_key}\0{seller}"))
    }
}

/// The seller account one consent logs into: the shop of a [`ShopKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub platform: PlatformType,
    pub app_key: String,
    /// The login name that consented ([`DEFAULT_SELLER`] unless the consent form named one).
    pub seller: String,
    /// The platform's numeric seller id (Taobao `taobao_user_id`).
    pub user_id: u64,
    /// The seller nick / shop name, in Chinese.
    pub nick: String,
    /// The seller's open uid for this app (Taobao `taobao_open_uid`).
    pub open_uid: String,
}

impl Shop {
    /// The shop of `key` on `platform`: the same seed, app key and seller always give the same
    /// shop.
    pub fn derive(seed: u64, platform: PlatformType, key: &ShopKey) -> Shop {
        let mut rng = seeded_rng(seed, &[platform.as_str(), "shop", &key.seed_name()]);
        let user_id = rng.gen_range(2_000_000_000u64..4_000_000_000);
        let pick = |rng: &mut ChaCha8Rng, list: &[&str]| {
            list.get(rng.gen_range(0..list.len()))
                .copied()
                .unwrap_or_default()
                .to_owned()
        };
        let nick = format!(
            "{}{}{}",
            pick(&mut rng, SHOP_HEADS),
            pick(&mut rng, SHOP_TRADES),
            pick(&mut rng, SHOP_TAILS)
        );
        let open_uid = format!("AAE{}", random_string(&mut rng, URL_SAFE, 21));
        Shop {
            platform,
            app_key: key.app_key.clone(),
            seller: key.seller.clone(),
            user_id,
            nick,
            open_uid,
        }
    }

    /// [`ShopKey::seed_name`] of this shop: what seeds its orders.
    pub fn seed_name(&self) -> Cow<'_, str> {
        seed_name(&self.app_key, &self.seller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop(seed: u64, app_key: &str, seller: &str) -> Shop {
        Shop::derive(seed, PlatformType::Taobao, &ShopKey::new(app_key, seller))
    }

    #[test]
    fn shops_are_stable_per_seed_app_key_and_seller() {
        let a = shop(42, "app-a", DEFAULT_SELLER);
        assert_eq!(a, shop(42, "app-a", DEFAULT_SELLER));
        assert_ne!(a.user_id, shop(42, "app-b", DEFAULT_SELLER).user_id);
        assert_ne!(a.user_id, shop(43, "app-a", DEFAULT_SELLER).user_id);
        let alice = shop(42, "app-a", "alice");
        assert_eq!(alice, shop(42, "app-a", "alice"));
        assert_ne!(a.user_id, alice.user_id);
        assert_ne!(alice.user_id, shop(42, "app-a", "bob").user_id);
        assert_eq!(
            (alice.app_key.as_str(), alice.seller.as_str()),
            ("app-a", "alice")
        );
        // The default seller's shop is seeded as before sellers existed: by the app key alone.
        let before = seeded_rng(42, &[PlatformType::Taobao.as_str(), "shop", "app-a"])
            .gen_range(2_000_000_000u64..4_000_000_000);
        assert_eq!(a.user_id, before);
        // Pinned: what the simulator answered before sellers could be chosen.
        let pinned = Shop::derive(
            7,
            PlatformType::Taobao,
            &ShopKey::default_seller("sim-taobao-app"),
        );
        assert_eq!(
            (pinned.user_id, pinned.open_uid.as_str()),
            (3_965_940_492, "AAEGHx37B7bIiwaqX7F8qVj6")
        );
        assert_eq!(a.open_uid.len(), 24);
        assert_eq!(stable_hash(1, &["x"]), stable_hash(1, &["x"]));
        assert_ne!(stable_hash(1, &["ab", "c"]), stable_hash(1, &["a", "bc"]));
    }

    #[test]
    fn seller_names_default_and_are_bounded() {
        assert_eq!(seller_name(None).as_deref(), Some(DEFAULT_SELLER));
        assert_eq!(seller_name(Some("  ")).as_deref(), Some(DEFAULT_SELLER));
        assert_eq!(seller_name(Some(" 小明的店 ")).as_deref(), Some("小明的店"));
        assert_eq!(
            seller_name(Some(&"店".repeat(64))).map(|s| s.chars().count()),
            Some(64)
        );
        assert_eq!(seller_name(Some(&"店".repeat(65))), None);
        assert_eq!(seller_name(Some("a\u{0}b")), None);
        assert_eq!(ShopKey::default_seller("k").seed_name(), "k");
        assert_eq!(ShopKey::new("k", "alice").seed_name(), "k\0alice");
    }
}
