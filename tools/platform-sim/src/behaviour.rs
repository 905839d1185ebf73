//! Who buys when: a shop's purchase plan, shared by every platform's order generator.
//!
//! Real shops' buyers do not repeat uniformly at random: most buy once, a few buy again and
//! again, each at their own pace and with their own rhythm. Every generator asks [`plan`] which
//! buyer places each order and when, and builds its own buyers and JSON around that plan. The
//! buyers' truth ([`BuyerTruth`]) is kept, so a model's ranking can be compared with the best
//! possible one (`platform-sim dataset`, `docs/model-quality.md`).
//!
//! How a shop's orders are planned (the classic NBD setting of buyer heterogeneity, with gamma
//! renewal instead of Poisson inter-purchase times, and no drop-out):
//!
//! 1. **Rate.** Each buyer has a true purchase rate λ (purchase occasions per day), drawn from a
//!    Gamma distribution with shape [`RATE_SHAPE`] = 0.6 and mean [`MEAN_RATE_PER_DAY`] = 1/150
//!    (scale 1/90): most buyers' rate is tiny (they buy once, or not at all in the window), a few
//!    buy every few weeks.
//! 2. **Rhythm.** Each buyer's gaps between purchases are Gamma(k, mean 1/λ), a gamma renewal
//!    process whose shape k is the buyer's own, log-uniform on [[`GAP_SHAPE_MIN`] = 0.7,
//!    [`GAP_SHAPE_MAX`] = 4]: k < 1 is bursty (gaps of very different lengths), k = 1 is
//!    Poisson, k = 4 is regular (gaps close to 1/λ, so a buyer becomes "due").
//! 3. **Stationary.** Buyers have been buying long before the window: the first purchase in the
//!    window comes after the renewal process's forward recurrence time, U·Gamma(k + 1, 1/(kλ))
//!    with U uniform on [0, 1) (exact for gamma gaps), then gap after gap until the window ends.
//! 4. **Exactly `count` orders.** Buyers are drawn one after another; buyers without a purchase
//!    in the window do not appear. Drawing stops when the orders reach `count`; the last buyer
//!    keeps only their earliest purchases that fit.
//! 5. **Cart checkouts.** With probability [`CART_SHARE`] = 0.03 a purchase occasion is a cart
//!    checkout that yields a second order of the same buyer in the same second.
//! 6. **The shop's calendar.** Steps 1–3 run in *operational* days: the window is
//!    `history_days` average days long. The platform's own timing (sale peaks, live-stream
//!    sessions, orders placed minutes ago) draws one time per purchase occasion; sorted, the
//!    i-th earliest occasion gets the i-th earliest time. The shop's orders over time are thus
//!    exactly as the platform's timing makes them, and every buyer's rate rises and falls with
//!    the same calendar: λ is the buyer's rate on an average day of the window.
//!
//! Everything is drawn from the generator's seeded RNG (Gamma by Marsaglia–Tsang, normals by
//! Box–Muller), so the same seed gives the same plan.

use std::f64::consts::TAU;

use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Shape of the Gamma distribution of buyers' purchase rates (NBD's `r`).
pub const RATE_SHAPE: f64 = 0.6;
/// Mean purchase rate over all buyers, per day.
pub const MEAN_RATE_PER_DAY: f64 = 1.0 / 150.0;
/// Range of the buyers' gap shapes (log-uniform): bursty to regular.
pub const GAP_SHAPE_MIN: f64 = 0.7;
pub const GAP_SHAPE_MAX: f64 = 4.0;
/// Share of purchase occasions that are cart checkouts (two orders in the same second).
pub const CART_SHARE: f64 = 0.03;

/// What the simulator knows about a buyer and a model can only estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuyerTruth {
    /// Purchase occasions per (average) day.
    pub rate_per_day: f64,
    /// Shape of the buyer's Gamma-distributed gaps: below 1 bursty, above 1 regular.
    pub gap_shape: f64,
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
    let mut buyers = Vec::new();
    let mut occasions: Vec<Occasion> = Vec::new();
    let mut orders = 0usize;
    while orders < count {
        let truth = draw_buyer(rng);
        let index = buyers.len();
        let scale = 1.0 / (truth.gap_shape * truth.rate_per_day);
        let mut day = rng.r#gen::<f64>() * gamma(rng, truth.gap_shape + 1.0, scale);
        let mut any = false;
        while day < window && orders < count {
            let cart = orders + 2 <= count && rng.gen_bool(CART_SHARE);
            occasions.push(Occasion {
                day,
                buyer: index,
                cart,
            });
            orders += if cart { 2 } else { 1 };
            any = true;
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
    let rate = gamma(rng, RATE_SHAPE, MEAN_RATE_PER_DAY / RATE_SHAPE).max(1e-9);
    let (lo, hi) = (GAP_SHAPE_MIN.ln(), GAP_SHAPE_MAX.ln());
    let gap_shape = (lo + (hi - lo) * rng.r#gen::<f64>()).exp();
    BuyerTruth {
        rate_per_day: rate,
        gap_shape,
    }
}

/// A standard normal deviate (Box–Muller).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.r#gen::<f64>();
    let u2 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
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
