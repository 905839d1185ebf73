//! Generated buyers: masked as TOP trade lists show them, stable `buyer_open_uid` and `oaid`,
//! and the receiver behind the `oaid` as `taobao.top.oaid.decrypt` opens it: the real name and
//! mobile (ending in the masked mobile's last four digits) and, for buyers who chose number
//! protection, a privacy number. These are derived from the `oaid` alone, so adding them drew
//! nothing from the generator's random stream.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::data::{GIVEN_NAMES, NICK_WORDS, REGIONS, SURNAMES};
use crate::reveal::protected_number;
use crate::shop::{ALNUM, URL_SAFE, random_string, stable_hash};

pub struct Buyer {
    pub open_uid: String,
    pub nick: String,
    /// Masked, as trade lists show it (`张*`).
    pub name: String,
    /// Masked, as trade lists show it (`*******5678`).
    pub mobile: String,
    pub phone: String,
    pub region: usize,
    pub town: &'static str,
    pub oaid: String,
    /// The receiver behind the `oaid`, in clear.
    pub receiver: Receiver,
}

/// A receiver in clear, as the decrypt API opens an `oaid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    pub name: String,
    pub mobile: String,
    /// `(main number, extension)` when the buyer chose number protection.
    pub privacy: Option<(String, String)>,
    /// The address after the town.
    pub address_detail: String,
    pub region: usize,
    pub town: &'static str,
}

const MOBILE_PREFIXES: &[&str] = &["138", "139", "136", "158", "186", "187", "177", "199"];

/// The receiver behind `oaid`: the real name (the masked surname and a given name of the masked
/// length), a mobile ending in `last4`, an address and maybe a privacy number.
fn receiver_of(
    oaid: &str,
    masked_name: &str,
    last4: &str,
    region: usize,
    town: &'static str,
) -> Receiver {
    let h = stable_hash(0, &["taobao-receiver", oaid]);
    let surname: String = masked_name.chars().filter(|c| *c != '*').collect();
    let stars = masked_name.chars().filter(|c| *c == '*').count();
    let givens: Vec<&str> = GIVEN_NAMES
        .iter()
        .copied()
        .filter(|g| g.chars().count() == stars)
        .collect();
    let given = givens
        .get(usize::try_from(h % givens.len().max(1) as u64).unwrap_or(0))
        .copied()
        .unwrap_or("明");
    let prefix = MOBILE_PREFIXES
        .get(usize::try_from((h >> 8) % MOBILE_PREFIXES.len() as u64).unwrap_or(0))
        .copied()
        .unwrap_or("138");
    Receiver {
        name: format!("{surname}{given}"),
        mobile: format!("{prefix}{:04}{last4}", (h >> 16) % 10_000),
        privacy: protected_number(&["TAOBAO", oaid], "170"),
        address_detail: format!("{}{}号", town, (h >> 32) % 900 + 1),
        region,
        town,
    }
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
    // Drawn in the order the fields were always drawn.
    let open_uid = format!("AAH{}", random_string(rng, URL_SAFE, 21));
    let name = format!("{surname}{}", "*".repeat(given.chars().count()));
    let last4 = format!("{:04}", rng.gen_range(0..10_000));
    let oaid = random_string(rng, ALNUM, 64);
    let receiver = receiver_of(&oaid, &name, &last4, region, town);
    Buyer {
        open_uid,
        nick: mask_nick(&nick),
        name,
        mobile: format!("*******{last4}"),
        phone,
        region,
        town,
        oaid,
        receiver,
    }
}
