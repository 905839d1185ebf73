//! Generated receivers in plaintext (the platforms encrypt or mask them on the way out), and the
//! order-time distribution with its sale peaks. PDD reuses both.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::taobao::buyers::pick_str;
use crate::taobao::data::{GIVEN_NAMES, REGIONS, Region, SURNAMES};

const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157",
    "158", "159", "166", "176", "177", "180", "182", "185", "186", "187", "188", "189", "191",
    "198", "199",
];

/// Virtual-operator prefixes privacy numbers are drawn from.
const VIRTUAL_PREFIXES: &[&str] = &["170", "171", "165", "167"];

const ROADS: &[&str] = &[
    "文一西路",
    "中山北路",
    "人民路",
    "解放大道",
    "建设路",
    "学院路",
    "长江路",
    "和平街",
    "滨江大道",
    "科技园路",
    "幸福里",
    "望京西路",
    "天府大道",
    "金沙江路",
    "五一路",
];

const COMPOUNDS: &[&str] = &[
    "阳光花园",
    "锦绣家园",
    "翠苑小区",
    "万科城",
    "金色家园",
    "绿城桂花园",
    "保利花园",
    "碧桂园",
    "龙湖天街公寓",
    "世纪新城",
];

/// One receiver, in plaintext.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    /// An 11-digit mobile.
    pub mobile: String,
    /// A privacy number (main number, 4-digit extension) the platform hands out instead of
    /// `mobile` after decryption, when the buyer chose number protection.
    pub privacy: Option<(String, String)>,
    pub region: usize,
    pub town: &'static str,
    /// Street, compound, building and room (no province/city/district).
    pub street: String,
}

impl Person {
    pub fn region(&self) -> Option<&'static Region> {
        REGIONS.get(self.region)
    }

    /// `浙江省杭州市西湖区三墩镇文一西路588号…` (region + town + street).
    pub fn full_address(&self) -> String {
        let r = self.region();
        format!(
            "{}{}{}{}{}",
            r.map(|r| r.state).unwrap_or_default(),
            r.map(|r| r.city).unwrap_or_default(),
            r.map(|r| r.district).unwrap_or_default(),
            self.town,
            self.street
        )
    }

    /// `张*`.
    pub fn masked_name(&self) -> String {
        let mut chars = self.name.chars();
        let first = chars.next().map(String::from).unwrap_or_default();
        format!("{first}{}", "*".repeat(chars.count().max(1)))
    }
}

/// `13812345678` → `138****5678`.
pub fn mask_mobile(mobile: &str) -> String {
    match (
        mobile.get(..3),
        mobile.get(mobile.len().saturating_sub(4)..),
    ) {
        (Some(head), Some(tail)) if mobile.len() == 11 => format!("{head}****{tail}"),
        _ => "*".repeat(mobile.chars().count().max(1)),
    }
}

fn digits(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0u8..10)))
        .collect()
}

pub fn new_person(rng: &mut ChaCha8Rng) -> Person {
    let name = format!("{}{}", pick_str(rng, SURNAMES), pick_str(rng, GIVEN_NAMES));
    let mobile = format!("{}{}", pick_str(rng, MOBILE_PREFIXES), digits(rng, 8));
    let privacy = rng.gen_bool(0.18).then(|| {
        (
            format!("{}{}", pick_str(rng, VIRTUAL_PREFIXES), digits(rng, 8)),
            digits(rng, 4),
        )
    });
    let region = rng.gen_range(0..REGIONS.len());
    let town = REGIONS
        .get(region)
        .map(|r| pick_str(rng, r.towns))
        .unwrap_or_default();
    let street = if rng.gen_bool(0.7) {
        format!(
            "{}{}号{}{}幢{}室",
            pick_str(rng, ROADS),
            rng.gen_range(1..999),
            pick_str(rng, COMPOUNDS),
            rng.gen_range(1..30),
            rng.gen_range(101..2805)
        )
    } else {
        format!(
            "{}{}号{}单元{}",
            pick_str(rng, ROADS),
            rng.gen_range(1..999),
            rng.gen_range(1..6),
            rng.gen_range(101..1805)
        )
    };
    Person {
        name,
        mobile,
        privacy,
        region,
        town,
        street,
    }
}

/// When orders are placed: spread over `history_days` before `anchor`, with two sale peaks
/// (a six-hour evening rush two days before the anchor and a smaller one fifteen days before)
/// so that some listing windows need several pages. A peak holds as many orders as
/// [`PEAK_DAYS`] ordinary days: over the served 80 days the peaks hold 30 % and 10 % of the
/// orders, over a longer history a smaller share.
pub fn order_time(rng: &mut ChaCha8Rng, anchor: DateTime<Utc>, history_days: i64) -> DateTime<Utc> {
    let [big, small] = PEAK_DAYS;
    let total = history_days as f64 + big + small;
    let roll: f64 = rng.r#gen();
    let (start, span) = if roll < big / total {
        (anchor - Duration::hours(50), Duration::hours(6))
    } else if roll < (big + small) / total {
        (anchor - Duration::hours(362), Duration::hours(8))
    } else {
        (
            anchor - Duration::days(history_days),
            Duration::days(history_days),
        )
    };
    let t = start + Duration::seconds(rng.gen_range(0..span.num_seconds().max(1)));
    t.min(anchor)
}

/// The two sale peaks' orders, in ordinary days' orders (30 % and 10 % of 80 days' orders).
pub const PEAK_DAYS: [f64; 2] = [40.0, 40.0 / 3.0];

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn people_look_real_and_times_peak() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let anchor = Utc::now();
        for _ in 0..200 {
            let p = new_person(&mut rng);
            assert_eq!(p.mobile.len(), 11);
            assert!(p.mobile.starts_with('1'));
            assert!(p.masked_name().ends_with('*'));
            assert!(p.full_address().contains(&p.street));
            if let Some((main, ext)) = &p.privacy {
                assert_eq!((main.len(), ext.len()), (11, 4));
            }
        }
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        let times: Vec<_> = (0..1000)
            .map(|_| order_time(&mut rng, anchor, 80))
            .collect();
        let peak = times
            .iter()
            .filter(|t| anchor - **t <= Duration::hours(50) && anchor - **t >= Duration::hours(44))
            .count();
        assert!(peak > 250, "{peak}");
        assert!(
            times
                .iter()
                .all(|t| *t <= anchor && anchor - *t <= Duration::days(80))
        );
    }
}
