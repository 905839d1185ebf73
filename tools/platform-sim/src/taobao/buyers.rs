//! Generated buyers: masked as TOP trade lists show them, stable `buyer_open_uid` and `oaid`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::data::{GIVEN_NAMES, NICK_WORDS, REGIONS, SURNAMES};
use crate::shop::{ALNUM, URL_SAFE, random_string};

pub struct Buyer {
    pub open_uid: String,
    pub nick: String,
    pub name: String,
    pub mobile: String,
    pub phone: String,
    pub region: usize,
    pub town: &'static str,
    pub oaid: String,
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, list: &'a [T]) -> Option<&'a T> {
    list.get(rng.gen_range(0..list.len().max(1)))
}

pub fn pick_str(rng: &mut ChaCha8Rng, list: &[&'static str]) -> &'static str {
    pick(rng, list).copied().unwrap_or_default()
}

/// Masks all but the first and last character, as TOP shows buyer nicks (`t**1`).
fn mask_nick(nick: &str) -> String {
    let first = nick.chars().next().unwrap_or('*');
    let last = nick.chars().last().unwrap_or('*');
    format!("{first}**{last}")
}

pub fn new_buyer(rng: &mut ChaCha8Rng) -> Buyer {
    let nick = if rng.gen_bool(0.5) {
        format!("tb{}", rng.gen_range(100_000_000u64..9_999_999_999))
    } else {
        let words: String = (0..rng.gen_range(2..5))
            .map(|_| pick_str(rng, NICK_WORDS))
            .collect();
        format!("{words}{}", rng.gen_range(1..999))
    };
    let surname = pick_str(rng, SURNAMES);
    let given = pick_str(rng, GIVEN_NAMES);
    let phone = if rng.gen_bool(0.06) {
        format!("****{:04}", rng.gen_range(0..10_000))
    } else {
        String::new()
    };
    let region = rng.gen_range(0..REGIONS.len());
    let town = REGIONS
        .get(region)
        .map(|r| pick_str(rng, r.towns))
        .unwrap_or_default();
    Buyer {
        open_uid: format!("AAH{}", random_string(rng, URL_SAFE, 21)),
        nick: mask_nick(&nick),
        name: format!("{surname}{}", "*".repeat(given.chars().count())),
        mobile: format!("*******{:04}", rng.gen_range(0..10_000)),
        phone,
        region,
        town,
        oaid: random_string(rng, ALNUM, 64),
    }
}
