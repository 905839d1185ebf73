//! Generated buyers for the Douyin and Kuaishou shops: a stable open id, a name, a mobile and an
//! address that are never sent in clear, their ciphertexts (stable per buyer and shop, so repeat
//! buyers are recognisable) and masks, and now and then a privacy (virtual) number.
//!
//! Also when orders are created: spread over the 80 days before the anchor, with a few live-stream
//! sessions (直播) that pack many orders into one evening hour, as real Douyin and Kuaishou shops
//! see, which makes windows with many pages.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use leadgen_domain::time::beijing;

use crate::shop::{LOWER_HEX, random_string};
use crate::taobao::buyers::pick_str;
use crate::taobao::data::{GIVEN_NAMES, REGIONS, SURNAMES};

/// Base64 alphabet (ciphertexts and open ids are Base64 text).
pub const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Street addresses (the detail part after the town).
const STREETS: &[&str] = &[
    "文三路",
    "学院路",
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "新华路",
    "长江路",
    "南京路",
    "和平路",
];
const ESTATES: &[&str] = &[
    "阳光花园",
    "锦绣家园",
    "翠苑一区",
    "金色港湾",
    "东方名苑",
    "时代广场",
    "幸福里",
    "万科城",
];

/// A buyer's receiver fields in clear, as the platform's decrypt API opens them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    pub name: String,
    pub mobile: String,
    /// `(main number, extension)` handed out instead of the mobile ([`Buyer::protected_number`]).
    pub privacy: Option<(String, String)>,
    /// The address after the district: town and detail.
    pub address: String,
}

/// Which receiver field a ciphertext seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Address,
    Name,
    Phone,
}

/// What one ciphertext opens to: a field of one buyer (an index into the shop's buyers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    pub buyer: usize,
    pub field: Field,
}

/// One generated buyer.
#[derive(Debug, Clone)]
pub struct Buyer {
    /// Douyin `doudian_open_id` form: `1@#` + Base64.
    pub open_id: String,
    /// Kuaishou `buyerOpenId` form: 32 lower-case hex digits.
    pub hex_open_id: String,
    pub surname: &'static str,
    pub given: &'static str,
    /// The real mobile; never sent in clear.
    pub mobile: String,
    pub region: usize,
    pub town: &'static str,
    /// The address after the town; never sent in clear.
    pub detail: String,
    /// Random material the ciphertexts are built from (stable per buyer).
    pub cipher_seed: String,
}

pub fn new_buyer(rng: &mut ChaCha8Rng) -> Buyer {
    let region = rng.gen_range(0..REGIONS.len());
    let town = REGIONS
        .get(region)
        .map(|r| pick_str(rng, r.towns))
        .unwrap_or_default();
    let prefix = pick_str(
        rng,
        &[
            "138", "139", "135", "136", "158", "186", "187", "177", "199",
        ],
    );
    Buyer {
        open_id: format!("1@#{}==", random_string(rng, BASE64, 38)),
        hex_open_id: random_string(rng, LOWER_HEX, 32),
        surname: pick_str(rng, SURNAMES),
        given: pick_str(rng, GIVEN_NAMES),
        mobile: format!("{prefix}{:08}", rng.gen_range(0..100_000_000u32)),
        region,
        town,
        detail: format!(
            "{}{}号{}{}幢{}室",
            pick_str(rng, STREETS),
            rng.gen_range(1..400),
            pick_str(rng, ESTATES),
            rng.gen_range(1..30),
            rng.gen_range(101..2402)
        ),
        cipher_seed: random_string(rng, BASE64, 64),
    }
}

impl Buyer {
    pub fn name(&self) -> String {
        format!("{}{}", self.surname, self.given)
    }

    /// The privacy number (main number with `prefix`, extension) the platform's decrypt hands
    /// out instead of the mobile when this buyer chose number protection
    /// ([`crate::reveal::protected_number`]; derived, nothing drawn from the generator).
    pub fn protected_number(&self, prefix: &str) -> Option<(String, String)> {
        crate::reveal::protected_number(&["buyer", &self.cipher_seed], prefix)
    }

    /// The receiver fields in clear; privacy numbers start with `prefix`.
    pub fn receiver(&self, prefix: &str) -> Receiver {
        Receiver {
            name: self.name(),
            mobile: self.mobile.clone(),
            privacy: self.protected_number(prefix),
            address: format!("{}{}", self.town, self.detail),
        }
    }

    /// `张*`: the surname and one star per remaining character.
    pub fn masked_name(&self) -> String {
        format!("{}{}", self.surname, "*".repeat(self.given.chars().count()))
    }

    /// A ciphertext body of `len` Base64 characters for `field` (`tel…`, `name…`, `addr…`):
    /// derived from the plaintext, the buyer and the shop, so it is stable per buyer and shop.
    pub fn cipher(&self, field: &str, shop: &str, len: usize) -> String {
        let plain = if field.starts_with("tel") {
            self.mobile.clone()
        } else if field.starts_with("name") {
            self.name()
        } else {
            format!("{}{}", self.town, self.detail)
        };
        let seed = crate::shop::stable_hash(0, &[&self.cipher_seed, &plain, field, shop]);
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
        random_string(&mut rng, BASE64, len)
    }
}

/// A privacy number as the platforms hand them out: `184` + 8 digits, `-`, a 4-digit extension.
pub fn privacy_number(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    format!(
        "{prefix}{:08}-{:04}",
        rng.gen_range(0..100_000_000u32),
        rng.gen_range(1000..10_000)
    )
}

/// `18400913965-7576` → `184****3965-7576`; `13812345678` → `138****5678`.
pub fn mask_mobile(number: &str) -> String {
    let (main, ext) = number
        .split_once('-')
        .map_or((number, None), |(m, e)| (m, Some(e)));
    let head = main.get(..3).unwrap_or_default();
    let tail = main.get(main.len().saturating_sub(4)..).unwrap_or_default();
    match ext {
        Some(ext) => format!("{head}****{tail}-{ext}"),
        None => format!("{head}****{tail}"),
    }
}

/// Live-stream sessions: 20:00 Beijing on these many days before the anchor, one hour long.
const SESSION_DAYS: [i64; 3] = [2, 6, 15];
/// Share of a shop's orders placed in each session.
pub const SESSION_SHARE: f64 = 0.12;

/// Share of orders placed in the 25 minutes before the anchor.
pub const RECENT_SHARE: f64 = 0.03;

/// When an order is created: in a live session, in the last minutes, in the second of the
/// previous order (cart checkouts), or anywhere in the `history_days` before `anchor`. Whole
/// seconds. [`SESSION_SHARE`] and [`RECENT_SHARE`] are the shares over the served 80 days; a
/// session (and the last minutes) hold a fixed number of ordinary days' orders, so over a longer
/// history their share is smaller.
pub fn creation_time(
    rng: &mut ChaCha8Rng,
    anchor: DateTime<Utc>,
    history_days: i64,
    previous: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    if let Some(previous) = previous.filter(|_| rng.gen_bool(0.03)) {
        return previous;
    }
    let roll: f64 = rng.r#gen();
    let (session_share, recent_share) = shares(history_days);
    let sessions = session_share * SESSION_DAYS.len() as f64;
    if (sessions..sessions + recent_share).contains(&roll) {
        // Just placed: many are not paid yet.
        return anchor - Duration::seconds(rng.gen_range(1..1500));
    }
    let session = (roll < sessions)
        .then(|| {
            SESSION_DAYS
                .get(rng.gen_range(0..SESSION_DAYS.len()))
                .copied()
        })
        .flatten()
        .and_then(|days| session_start(anchor, days));
    match session {
        Some(start) => start + Duration::seconds(rng.gen_range(0..3600)),
        None => anchor - Duration::seconds(rng.gen_range(1..history_days * 86_400)),
    }
}

/// One session's and the last minutes' shares of the orders over `history_days`: each holds as
/// many orders as a fixed number of ordinary days, the number that gives [`SESSION_SHARE`] and
/// [`RECENT_SHARE`] over 80 days.
fn shares(history_days: i64) -> (f64, f64) {
    const REFERENCE_DAYS: f64 = 80.0;
    let ordinary = 1.0 - SESSION_SHARE * SESSION_DAYS.len() as f64 - RECENT_SHARE;
    let session_days = SESSION_SHARE / ordinary * REFERENCE_DAYS;
    let recent_days = RECENT_SHARE / ordinary * REFERENCE_DAYS;
    let total = history_days as f64 + session_days * SESSION_DAYS.len() as f64 + recent_days;
    (session_days / total, recent_days / total)
}

fn session_start(anchor: DateTime<Utc>, days_before: i64) -> Option<DateTime<Utc>> {
    let day = (anchor - Duration::days(days_before))
        .with_timezone(&beijing())
        .date_naive();
    let evening = day.and_time(NaiveTime::from_hms_opt(20, 0, 0)?);
    beijing()
        .from_local_datetime(&evening)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn buyers_and_masks_look_like_the_platforms() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let b = new_buyer(&mut rng);
        assert_eq!(b.mobile.len(), 11);
        assert!(b.open_id.starts_with("1@#"));
        assert_eq!(b.cipher("tel", "s", 20), b.cipher("tel", "s", 20));
        assert_ne!(b.cipher("tel", "s", 20), b.cipher("tel", "t", 20));
        assert_eq!(mask_mobile("18400913965-7576"), "184****3965-7576");
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        let n = privacy_number(&mut rng, "184");
        assert!(leadgen_domain::contact::split_virtual(&n).is_some(), "{n}");
        let anchor = Utc::now();
        for _ in 0..500 {
            let t = creation_time(&mut rng, anchor, 80, None);
            assert!(t < anchor && anchor - t <= Duration::days(80));
        }
    }
}
