//! Deterministic identities: the shop (seller) behind an app key, stable hashes and seeded RNGs.
//!
//! Everything the simulator generates is derived from `--seed` and a few strings (platform, app
//! key, purpose) through [`stable_hash`], which is fixed here (FNV-1a + SplitMix64) so the same
//! seed gives the same shops and orders on every machine and every Rust version.

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

/// The seller account an app key's authorization logs into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub platform: PlatformType,
    pub app_key: String,
    /// The platform's numeric seller id (Taobao `taobao_user_id`).
    pub user_id: u64,
    /// The seller nick / shop name, in Chinese.
    pub nick: String,
    /// The seller's open uid for this app (Taobao `taobao_open_uid`).
    pub open_uid: String,
}

impl Shop {
    /// The shop for `app_key` on `platform`: the same seed and app key always give the same shop.
    pub fn derive(seed: u64, platform: PlatformType, app_key: &str) -> Shop {
        let mut rng = seeded_rng(seed, &[platform.as_str(), "shop", app_key]);
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
            app_key: app_key.to_owned(),
            user_id,
            nick,
            open_uid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shops_are_stable_per_seed_and_app_key() {
        let a = Shop::derive(42, PlatformType::Taobao, "app-a");
        assert_eq!(a, Shop::derive(42, PlatformType::Taobao, "app-a"));
        assert_ne!(
            a.user_id,
            Shop::derive(42, PlatformType::Taobao, "app-b").user_id
        );
        assert_ne!(
            a.user_id,
            Shop::derive(43, PlatformType::Taobao, "app-a").user_id
        );
        assert_eq!(a.open_uid.len(), 24);
        assert_eq!(stable_hash(1, &["x"]), stable_hash(1, &["x"]));
        assert_ne!(stable_hash(1, &["ab", "c"]), stable_hash(1, &["a", "bc"]));
    }
}
