//! Who buys when: a shop's purchase plan, shared by every platform's order generator.
//!
//! Real shops' buyers do not repeat uniformly at random: most buy once and never come back, a
//! few buy again and again, each at their own pace and with their own rhythm, until they stop.
//! Every generator asks [`plan`] which buyer places each order and when, and builds its own
//! buyers and JSON around that plan. The buyers' truth ([`BuyerTruth`]) is kept, so a model's
//! ranking can be compared with the best possible one (`platform-sim dataset`,
//! `docs/model-quality.md`).
//!
//! How a shop's orders are planned: the "buy till you die" setting of the BG/NBD model (Fader,
//! Hardie & Lee 2005, "Counting your customers the easy way", Marketing Science 24(2)), with
//! drop-out possible after the first purchase too (MBG/NBD, Batislam, Denizel & Filiztekin
//! 2007) and gamma renewal instead of Poisson inter-purchase times (as the MBG/CNBD-k model of
//! Platzer & Reutterer 2016, with a continuous shape per buyer). The rate and drop-out
//! parameters are the published BG/NBD fit of the CDNOW data set (r = 0.243, α = 4.414 weeks,
//! a = 0.793, b = 2.426), the reference fit of the literature on retail repeat buying.
//!
//! 1. **Rate.** Each buyer has a true purchase rate λ (purchase occasions per day, while
//!    active), drawn from Gamma(shape [`RATE_SHAPE`] = 0.243, rate [`RATE_ALPHA_DAYS`] = 30.9
//!    days), mean 1 purchase per 127 days: most buyers' rate is tiny, a few buy every week or two.
//! 2. **Rhythm.** Each buyer's gaps between purchases are Gamma(k, mean 1/λ), a gamma renewal
//!    process whose shape k is the buyer's own, log-uniform on [[`GAP_SHAPE_MIN`] = 0.7,
//!    [`GAP_SHAPE_MAX`] = 4]: k < 1 is bursty (gaps of very different lengths), k = 1 is
//!    Poisson, k = 4 is regular (gaps close to 1/λ, so a buyer becomes "due").
//! 3. **Drop-out.** Each buyer has a drop-out probability p drawn from Beta([`DROPOUT_A`] =
//!    0.793, [`DROPOUT_B`] = 2.426), mean 0.25. Right after every purchase, the first included,
//!    the buyer becomes inactive for good with probability p: a quarter of first purchases are
//!    the buyer's last, and a buyer's number of purchases is geometric with mean 1/p.
//! 4. **Births.** A buyer's first purchase is their birth. The shop opened [`SHOP_AGE_DAYS`] =
//!    1095 days (three years) before the anchor, or at the window's start if the window is
//!    longer, and new buyers have arrived at a steady rate since: each buyer's birth is uniform
//!    over the shop's life, and the buyer buys from then until they drop out. A buyer appears in
//!    the window if one of their purchases falls in it. The shop's age matters: with a < 1 the
//!    mean number of purchases, E[1/p], is infinite, so a shop never reaches a steady state; the
//!    older it is, the more loyal long-lived buyers it has gathered.
//! 5. **Exactly `count` orders.** Buyers are drawn one after another, each with a uniform birth
//!    time; buyers without a purchase in the window do not appear. Drawing stops when the orders
//!    reach `count`; the last buyer keeps only their earliest purchases that fit and is recorded
//!    as inactive after the last one.
//! 6. **Cart checkouts.** With probability [`CART_SHARE`] = 0.03 a purchase occasion is a cart
//!    checkout that yields a second order of the same buyer in the same second.
//! 7. **The shop's calendar.** Steps 1–5 run in *operational* days: the window is
//!    `history_days` average days long. The platform's own timing (sale peaks, live-stream
//!    sessions, orders placed minutes ago) draws one time per purchase occasion in the window;
//!    sorted, the i-th earliest occasion gets the i-th earliest time. The shop's orders over time
//!    are thus exactly as the platform's timing makes them, and every buyer's rate rises and
//!    falls with the same calendar: λ is the buyer's rate on an average day of the window.
//!
//! The truth of a buyer is λ, k, p and `active_until`: the time of the purchase after which the
//! buyer dropped out, or `None` if still active at the window's end. A buyer's true rate at a
//! time t is λ while active (t before `active_until`), 0 after.
//!
//! Everything is drawn from the generator's seeded RNG (Gamma by Marsaglia–Tsang, Beta as a
//! ratio of Gammas, normals by Box–Muller), so the same seed gives the same plan.

use std::f64::consts::TAU;

use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Shape of the Gamma distribution of buyers' purchase rates (BG/NBD's `r`, CDNOW fit).
pub const RATE_SHAPE: f64 = 0.243;
/// Rate parameter of that Gamma distribution, in days (BG/NBD's `α`: 4.414 weeks).
pub const RATE_ALPHA_DAYS: f64 = 4.414 * 7.0;
/// Beta distribution of the buyers' drop-out probabilities (BG/NBD's `a`, `b`, CDNOW fit).
pub const DROPOUT_A: f64 = 0.793;
pub const DROPOUT_B: f64 = 2.426;
/// Range of the buyers' gap shapes (log-uniform): bursty to regular.
pub const GAP_SHAPE_MIN: f64 = 0.7;
pub const GAP_SHAPE_MAX: f64 = 4.0;
/// How long before the anchor the shop opened (its first buyers were born), in days.
pub const SHOP_AGE_DAYS: i64 = 3 * 365;
/// Share of purchase occasions that are cart checkouts (two orders in the same second).
pub const CART_SHARE: f64 = 0.03;

/// What the simulator knows about a buyer and a model can only estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuyerTruth {
    /// Purchase occasions per (average) day while the buyer is active.
    pub rate_per_day: f64,
    /// Shape of the buyer's Gamma-distributed gaps: below 1 bursty, above 1 regular.
    pub gap_shape: f64,
    /// Chance to drop out for good right after each purchase.
    pub dropout_probability: f64,
    /// The time of the purchase after which the buyer dropped out; `None`: still active at the
    /// window's end.
    pub active_until: Option<DateTime<Utc>>,
}

/// One planned order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedOrder {
    /// Index into [`Plan::buyers`].
    pub buyer: usize,
    /// Creation time, as the platform's timing placed it.
    pub at: DateTime<Utc>,
    /// The second order of a cart checkout (same buyer, same second as the one before it).
    pub cart: bool,
}

/// A shop's purchase plan: its buyers and their orders, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub buyers: Vec<BuyerTruth>,
    pub orders: Vec<PlannedOrder>,
}

/// A buyer's purchase occasion, in operational days from the window's start.
struct Occasion {
    day: f64,
    buyer: usize,
    cart: bool,
    /// The buyer drops out right after it.
    last: bool,
}

/// Plans exactly `count` orders over a window of `history_days` days; `timing` draws one creation
/// time from the platform's own distribution (within the window).
pub fn plan(
    rng: &mut ChaCha8Rng,
    count: usize,
    history_days: i64,
    mut timing: impl FnMut(&mut ChaCha8Rng) -> DateTime<Utc>,
) -> Plan {
    let window = history_days as f64;
    let age = SHOP_AGE_DAYS.max(history_days) as f64;
    let mut buyers = Vec::new();
    let mut occasions: Vec<Occasion> = Vec::new();
    let mut orders = 0usize;
    while orders < count {
        let truth = draw_buyer(rng);
        let index = buyers.len();
        let scale = 1.0 / (truth.gap_shape * truth.rate_per_day);
        let mut day = window - age * rng.r#gen::<f64>();
        let mut any = false;
        while day < window {
            if day >= 0.0 {
                if orders >= count {
                    // Cut short by `count`: inactive after the last purchase kept.
                    if let Some(o) = occasions.last_mut().filter(|o| o.buyer == index) {
                        o.last = true;
                    }
                    break;
                }
                let cart = orders + 2 <= count && rng.gen_bool(CART_SHARE);
                occasions.push(Occasion {
                    day,
                    buyer: index,
                    cart,
                    last: false,
                });
                orders += if cart { 2 } else { 1 };
                any = true;
            }
            if rng.gen_bool(truth.dropout_probability) {
                if let Some(o) = occasions
                    .last_mut()
                    .filter(|o| o.buyer == index && day >= 0.0)
                {
                    o.last = true;
                }
                break;
            }
            day += gamma(rng, truth.gap_shape, scale);
        }
        if any {
            buyers.push(truth);
        }
    }
    let mut times: Vec<DateTime<Utc>> = occasions.iter().map(|_| timing(rng)).collect();
    times.sort();
    occasions.sort_by(|a, b| a.day.total_cmp(&b.day).then(a.buyer.cmp(&b.buyer)));
    let mut planned = Vec::with_capacity(count);
    for (occasion, at) in occasions.iter().zip(times) {
        if occasion.last
            && let Some(truth) = buyers.get_mut(occasion.buyer)
        {
            truth.active_until = Some(at);
        }
        planned.push(PlannedOrder {
            buyer: occasion.buyer,
            at,
            cart: false,
        });
        if occasion.cart {
            planned.push(PlannedOrder {
                buyer: occasion.buyer,
                at,
                cart: true,
            });
        }
    }
    Plan {
        buyers,
        orders: planned,
    }
}

fn draw_buyer(rng: &mut ChaCha8Rng) -> BuyerTruth {
    let rate = gamma(rng, RATE_SHAPE, 1.0 / RATE_ALPHA_DAYS).max(1e-9);
    let (lo, hi) = (GAP_SHAPE_MIN.ln(), GAP_SHAPE_MAX.ln());
    let gap_shape = (lo + (hi - lo) * rng.r#gen::<f64>()).exp();
    let dropout = beta(rng, DROPOUT_A, DROPOUT_B).clamp(0.0, 1.0);
    BuyerTruth {
        rate_per_day: rate,
        gap_shape,
        dropout_probability: dropout,
        active_until: None,
    }
}

/// A standard normal deviate (Box–Muller).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.r#gen::<f64>();
    let u2 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// A Beta(`a`, `b`) deviate: X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
pub fn beta(rng: &mut ChaCha8Rng, a: f64, b: f64) -> f64 {
    let x = gamma(rng, a, 1.0);
    let y = gamma(rng, b, 1.0);
    if x + y > 0.0 { x / (x + y) } else { 0.5 }
}

/// A Gamma(`shape`, `scale`) deviate (Marsaglia–Tsang; shape < 1 boosted by U^(1/shape)).
pub fn gamma(rng: &mut ChaCha8Rng, shape: f64, scale: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.r#gen::<f64>();
        return gamma(rng, shape + 1.0, scale) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = standard_normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = rng.r#gen::<f64>();
        if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::Duration;
    use rand::SeedableRng;

    use super::*;

    fn uniform_plan(seed: u64, count: usize) -> (Plan, DateTime<Utc>) {
        let anchor = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let plan = plan(&mut rng, count, 80, |rng| {
            anchor - Duration::seconds(rng.gen_range(0..80 * 86_400))
        });
        (plan, anchor)
    }

    #[test]
    fn gamma_has_the_right_mean_and_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (shape, scale) in [(0.6, 2.0), (1.0, 1.0), (4.0, 0.25)] {
            let n = 40_000;
            let xs: Vec<f64> = (0..n).map(|_| gamma(&mut rng, shape, scale)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(
                (mean / (shape * scale) - 1.0).abs() < 0.03,
                "{shape}: {mean}"
            );
            assert!(
                (var / (shape * scale * scale) - 1.0).abs() < 0.08,
                "{shape}: {var}"
            );
            assert!(xs.iter().all(|x| *x > 0.0 && x.is_finite()));
        }
    }

    #[test]
    fn plans_are_exact_deterministic_and_look_like_real_buyers() {
        let (a, anchor) = uniform_plan(1, 3000);
        let (b, _) = uniform_plan(1, 3000);
        assert_eq!(a.orders, b.orders);
        assert_eq!(a.buyers, b.buyers);
        assert_ne!(a.orders, uniform_plan(2, 3000).0.orders);
        assert_eq!(a.orders.len(), 3000);
        assert!(
            a.orders.windows(2).all(|w| w[0].at <= w[1].at),
            "oldest first"
        );
        let mut per_buyer: HashMap<usize, usize> = HashMap::new();
        for (i, o) in a.orders.iter().enumerate() {
            assert!(o.at <= anchor && anchor - o.at <= Duration::days(80));
            *per_buyer.entry(o.buyer).or_default() += 1;
            if o.cart {
                let before = a.orders[i - 1];
                assert_eq!((before.buyer, before.at), (o.buyer, o.at), "cart checkout");
            }
        }
        assert_eq!(per_buyer.len(), a.buyers.len(), "every buyer bought");
        // A buyer who dropped out did so right after their last purchase.
        for (b, truth) in a.buyers.iter().enumerate() {
            let last = a.orders.iter().filter(|o| o.buyer == b).map(|o| o.at).max();
            if let Some(until) = truth.active_until {
                assert_eq!(last, Some(until), "buyer {b}");
            }
        }
        let dropped = a.buyers.iter().filter(|b| b.active_until.is_some()).count();
        assert!(
            dropped * 10 > a.buyers.len() && dropped * 2 < a.buyers.len(),
            "{dropped} of {} dropped out in 80 days",
            a.buyers.len()
        );
        let once = per_buyer.values().filter(|n| **n == 1).count();
        let often = per_buyer.values().filter(|n| **n >= 5).count();
        assert!(once * 2 > a.buyers.len(), "most buy once: {once}");
        assert!(often > 5, "a few buy often: {often}");
        assert!(a.orders.iter().any(|o| o.cart));
        // Frequent buyers are the ones with a high true rate.
        let mean_rate = |pick: &dyn Fn(usize) -> bool| {
            let rates: Vec<f64> = per_buyer
                .iter()
                .filter(|(_, n)| pick(**n))
                .map(|(b, _)| a.buyers[*b].rate_per_day)
                .collect();
            rates.iter().sum::<f64>() / rates.len() as f64
        };
        assert!(mean_rate(&|n| n >= 4) > 3.0 * mean_rate(&|n| n == 1));
        let shapes: Vec<f64> = a.buyers.iter().map(|b| b.gap_shape).collect();
        assert!(
            shapes
                .iter()
                .all(|k| (GAP_SHAPE_MIN..=GAP_SHAPE_MAX).contains(k))
        );
    }

    #[test]
    fn beta_has_the_right_mean_and_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (a, b) = (DROPOUT_A, DROPOUT_B);
        let n = 40_000;
        let xs: Vec<f64> = (0..n).map(|_| beta(&mut rng, a, b)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let (m, v) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
        assert!((mean / m - 1.0).abs() < 0.03, "{mean} vs {m}");
        assert!((var / v - 1.0).abs() < 0.08, "{var} vs {v}");
        assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
    }

    /// A year of a shop's orders, as `platform-sim dataset` exports by default: buyers repeat
    /// and drop out the way real shops' buyers do.
    #[test]
    fn a_year_of_orders_looks_like_a_real_shop() {
        let anchor = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p = plan(&mut rng, 5000, 365, |rng| {
            anchor - Duration::seconds(rng.gen_range(0..365 * 86_400))
        });
        assert_eq!(p.orders.len(), 5000);
        let mut times: HashMap<usize, Vec<DateTime<Utc>>> = HashMap::new();
        for o in p.orders.iter().filter(|o| !o.cart) {
            times.entry(o.buyer).or_default().push(o.at);
        }
        let n = p.buyers.len() as f64;
        // Most buyers buy once in a year (real shops: 60–80 %); a few buy every week or two.
        let once = times.values().filter(|t| t.len() == 1).count() as f64 / n;
        assert!((0.55..0.8).contains(&once), "one-time buyers {once}");
        assert!(times.values().any(|t| t.len() >= 20));
        // New buyers arrive all year long.
        for quarter in 0..4 {
            let (from, to) = (
                anchor - Duration::days(365 - 91 * quarter),
                anchor - Duration::days(365 - 91 * (quarter + 1)),
            );
            let born = times.values().filter(|t| t[0] >= from && t[0] < to).count();
            assert!(
                born as f64 > 0.12 * n,
                "quarter {quarter}: {born} first orders"
            );
        }
        // Of the buyers seen before a cut-off 30 days before the anchor, 5–20 % buy again in
        // those 30 days, as in real shops.
        let cut = anchor - Duration::days(30);
        let seen: Vec<(&usize, &Vec<DateTime<Utc>>)> =
            times.iter().filter(|(_, t)| t[0] <= cut).collect();
        let again = seen
            .iter()
            .filter(|(_, t)| t.iter().any(|x| *x > cut))
            .count();
        let base = again as f64 / seen.len() as f64;
        assert!((0.05..0.2).contains(&base), "30-day repurchase {base}");
        // Drop-out makes recency informative: buyers idle for half a year before the cut-off
        // are much less often still active than recent ones.
        let active_share = |idle: std::ops::Range<i64>| {
            let group: Vec<usize> = seen
                .iter()
                .filter(|(_, t)| {
                    let last = t
                        .iter()
                        .filter(|x| **x <= cut)
                        .max()
                        .copied()
                        .unwrap_or(cut);
                    idle.contains(&(cut - last).num_days())
                })
                .map(|(b, _)| **b)
                .collect();
            let active = group
                .iter()
                .filter(|b| p.buyers[**b].active_until.is_none_or(|u| u > cut))
                .count();
            active as f64 / group.len() as f64
        };
        let (recent, idle) = (active_share(0..30), active_share(180..400));
        assert!(recent > 0.7 && idle < recent - 0.15, "{recent} {idle}");
    }

    #[test]
    fn regular_buyers_have_steadier_gaps_than_bursty_ones() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let cv = |rng: &mut ChaCha8Rng, shape: f64| {
            let gaps: Vec<f64> = (0..20_000)
                .map(|_| gamma(rng, shape, 1.0 / shape))
                .collect();
            let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
            var.sqrt() / mean
        };
        let (bursty, regular) = (cv(&mut rng, GAP_SHAPE_MIN), cv(&mut rng, GAP_SHAPE_MAX));
        assert!(bursty > 1.1 && regular < 0.55, "{bursty} {regular}");
    }

    #[test]
    fn no_orders_plans_nothing() {
        let (plan, _) = uniform_plan(1, 0);
        assert!(plan.orders.is_empty() && plan.buyers.is_empty());
    }
}
