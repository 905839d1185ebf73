//! The built-in lead model (`predictIntention`, design 4.5) and the lead score: explainable,
//! documented in `docs/scoring.md`.
//!
//! - [`ShopDistribution`]: a shop's buyers' recency, frequency and monetary values; a buyer's
//!   [`Ranks`] are mid-rank percentiles against it.
//! - [`predict_intention`]: intention 0–100 from the ranks, the "due to buy again" signal,
//!   after-sales and unpaid orders, with reason codes. An external scorer may replace it.
//! - [`assess`]: the lead's score (intention plus reachability), tags and reasons.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::buyer::BuyerAggregate;
use crate::lead::IntentionTag;
use crate::validity::ContactValidity;

/// The built-in model's version, stored beside every score it produces.
pub const MODEL_VERSION: &str = "builtin-rfm-6";

/// Feature weights of the intention (they sum to 100).
pub const W_FREQUENCY: f64 = 45.0;
pub const W_RECENCY: f64 = 25.0;
pub const W_MONETARY: f64 = 15.0;
pub const W_DUE: f64 = 15.0;
/// Points off for refunds and after-sales, times the share of the buyer's paid orders that went
/// to after-sales (all of them: the full penalty). A share, not a count: a count would punish
/// frequent buyers for buying often (`docs/model-quality.md`).
pub const AFTER_SALE_PENALTY: f64 = 15.0;
/// Points for an order still waiting for payment (a follow-up opportunity).
pub const UNPAID_BONUS: f64 = 5.0;
/// Points off for a buyer whose every order closed before payment.
pub const NEVER_PAID_PENALTY: f64 = 10.0;
/// The lead score: this share from intention, the rest from reachability.
pub const INTENTION_SHARE: f64 = 0.8;
/// `高意向` from this intention up, `中意向` from [`MEDIUM_INTENTION`] up, else `低意向`.
pub const HIGH_INTENTION: u8 = 60;
pub const MEDIUM_INTENTION: u8 = 30;
/// `高价值`: paid total in the shop's top 10 %.
pub const HIGH_VALUE_RANK: f64 = 0.9;
/// `即将复购`: days since the last payment between these multiples of the buyer's mean gap.
pub const DUE_FROM: f64 = 0.8;
pub const DUE_TO: f64 = 1.5;
/// `沉睡`: no activity for this many days, or for [`DORMANT_GAPS`] mean gaps if longer.
pub const DORMANT_DAYS: i64 = 90;
pub const DORMANT_GAPS: f64 = 3.0;
/// Repeat purchases are counted over this many days (`REPEAT_N`).
pub const REPEAT_WINDOW_DAYS: i64 = 90;

/// One feature's values over a shop's buyers, sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    sorted: Vec<f64>,
}

impl Distribution {
    pub fn new(mut values: Vec<f64>) -> Self {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        Distribution { sorted: values }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Mid-rank percentile of `x`: (values below + half the values equal) / n; 0.5 when empty.
    pub fn percentile(&self, x: f64) -> f64 {
        if self.sorted.is_empty() {
            return 0.5;
        }
        let below = self.sorted.partition_point(|v| *v < x);
        let up_to = self.sorted.partition_point(|v| *v <= x);
        (below as f64 + 0.5 * (up_to - below) as f64) / self.sorted.len() as f64
    }

    /// `n + 1` evenly spaced quantiles (nearest rank), a compact stand-in for the distribution.
    pub fn quantiles(&self, n: usize) -> Vec<f64> {
        if self.sorted.is_empty() || n == 0 {
            return Vec::new();
        }
        let last = self.sorted.len() - 1;
        (0..=n)
            .filter_map(|i| self.sorted.get((i * last + n / 2) / n).copied())
            .collect()
    }
}

/// The shop's buyers' recency (last activity, Unix seconds), frequency (paid orders) and
/// monetary value (paid total, fen).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShopDistribution {
    pub recency: Distribution,
    pub frequency: Distribution,
    pub monetary: Distribution,
}

/// What a buyer is ranked on in their shop: last activity (last payment, else last order),
/// paid orders and paid total. A few numbers, so a shop's distribution can be built without
/// holding its buyers' aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankFeatures {
    pub last_activity: DateTime<Utc>,
    pub paid_order_count: u32,
    pub paid_total_fen: i64,
}

impl RankFeatures {
    pub fn of(a: &BuyerAggregate) -> Self {
        RankFeatures {
            last_activity: a.last_activity(),
            paid_order_count: a.paid_order_count,
            paid_total_fen: a.paid_total.fen(),
        }
    }

    /// Recency (Unix seconds), frequency and monetary value, as the distributions hold them.
    fn values(self) -> (f64, f64, f64) {
        (
            self.last_activity.timestamp() as f64,
            f64::from(self.paid_order_count),
            self.paid_total_fen as f64,
        )
    }
}

impl ShopDistribution {
    /// Over every buyer of the shop.
    pub fn of<'a>(buyers: impl IntoIterator<Item = &'a BuyerAggregate>) -> Self {
        Self::of_features(buyers.into_iter().map(RankFeatures::of))
    }

    /// Over every buyer of the shop, from their rank features alone.
    pub fn of_features(buyers: impl IntoIterator<Item = RankFeatures>) -> Self {
        let (mut r, mut f, mut m) = (Vec::new(), Vec::new(), Vec::new());
        for buyer in buyers {
            let (x, y, z) = buyer.values();
            r.push(x);
            f.push(y);
            m.push(z);
        }
        ShopDistribution {
            recency: Distribution::new(r),
            frequency: Distribution::new(f),
            monetary: Distribution::new(m),
        }
    }

    /// A compact copy (101 quantiles per feature), stored for provisional ranks between rescores.
    pub fn compact(&self) -> Self {
        ShopDistribution {
            recency: Distribution::new(self.recency.quantiles(100)),
            frequency: Distribution::new(self.frequency.quantiles(100)),
            monetary: Distribution::new(self.monetary.quantiles(100)),
        }
    }

    pub fn ranks(&self, a: &BuyerAggregate) -> Ranks {
        let (r, f, m) = RankFeatures::of(a).values();
        Ranks {
            recency: self.recency.percentile(r),
            frequency: self.frequency.percentile(f),
            monetary: self.monetary.percentile(m),
        }
    }
}

/// Percentile ranks in the shop, 0–1 (1 = most recent, most frequent, most spent).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ranks {
    pub recency: f64,
    pub frequency: f64,
    pub monetary: f64,
}

/// Why a lead scored as it did: a machine code and a short Chinese sentence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    pub code: String,
    pub text: String,
}

impl Reason {
    pub fn new(code: impl Into<String>, text: impl Into<String>) -> Self {
        Reason {
            code: code.into(),
            text: text.into(),
        }
    }
}

/// What `predictIntention` answers: intention 0–100, its reasons and the model that said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Intention {
    pub value: u8,
    pub reasons: Vec<Reason>,
    pub model_version: String,
}

fn days(d: Duration) -> f64 {
    d.num_seconds() as f64 / 86_400.0
}

/// Days since the last payment over the buyer's mean gap; `None` with fewer than two purchase
/// occasions.
pub fn due_ratio(a: &BuyerAggregate, as_of: DateTime<Utc>) -> Option<f64> {
    let gap = a.purchase_gap_days()?.max(1.0);
    let last = a.last_paid_time?;
    Some(days(as_of - last).max(0.0) / gap)
}

/// 0–1: how due the buyer is to buy again (1 inside [`DUE_FROM`, `DUE_TO`] mean gaps).
fn due_signal(ratio: Option<f64>) -> f64 {
    match ratio {
        None => 0.0,
        Some(r) if r < 0.5 => 0.4,
        Some(r) if r < DUE_FROM => 0.7,
        Some(r) if r <= DUE_TO => 1.0,
        Some(r) if r < 3.0 => (3.0 - r) / (3.0 - DUE_TO),
        Some(_) => 0.0,
    }
}

fn is_dormant(a: &BuyerAggregate, as_of: DateTime<Utc>) -> bool {
    let idle = days(as_of - a.last_activity());
    let limit = a.purchase_gap_days().map_or(DORMANT_DAYS as f64, |g| {
        (g * DORMANT_GAPS).max(DORMANT_DAYS as f64)
    });
    idle > limit
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, (fen % 100).abs())
}

/// The built-in `predictIntention`.
pub fn predict_intention(a: &BuyerAggregate, ranks: Ranks, as_of: DateTime<Utc>) -> Intention {
    let ratio = due_ratio(a, as_of);
    let mut value = W_FREQUENCY * ranks.frequency
        + W_RECENCY * ranks.recency
        + W_MONETARY * ranks.monetary
        + W_DUE * due_signal(ratio);
    let mut reasons = Vec::new();
    let idle_days = crate::time::beijing_days_between(a.last_activity(), as_of);
    // Purchase occasions: a checkout split into several orders is one purchase, not a repeat.
    let purchases = a.purchases();
    if purchases >= 2 {
        let since = as_of - Duration::days(REPEAT_WINDOW_DAYS);
        let recent = a.purchases_since(since);
        // Repeats in the window: its purchases that follow an earlier one, which is every one
        // of them when the buyer had bought before the window, and all but the first otherwise.
        let repeats = if recent == purchases {
            recent.saturating_sub(1)
        } else {
            recent
        };
        if repeats >= 1 {
            let n = repeats;
            reasons.push(Reason::new(
                format!("REPEAT_{n}"),
                format!("近{REPEAT_WINDOW_DAYS}天复购{n}次"),
            ));
        } else {
            reasons.push(Reason::new("REPEAT", format!("累计购买{purchases}次")));
        }
    } else if purchases == 1 {
        reasons.push(Reason::new("ONE_PURCHASE", "仅购买过1次"));
    }
    if ranks.frequency >= 0.9 && purchases >= 2 {
        reasons.push(Reason::new("FREQUENCY_TOP", "购买频次位于本店前10%"));
    }
    // Not beside DORMANT: in a shop whose recent buyers are all long idle, a high rank is no
    // sign of activity.
    let dormant = is_dormant(a, as_of);
    if ranks.recency >= 0.7 && !dormant {
        // Recency is the last payment's, or the last order's when nothing was paid.
        let what = if a.last_paid_time.is_some() {
            "有购买"
        } else {
            "下单"
        };
        let when = match idle_days {
            0 => "今天".to_owned(),
            1 => "昨天".to_owned(),
            d => format!("{d}天前"),
        };
        reasons.push(Reason::new("RECENT", format!("{when}{what}，近期活跃")));
    }
    if ranks.monetary >= HIGH_VALUE_RANK && a.paid_total.fen() > 0 {
        reasons.push(Reason::new(
            "HIGH_VALUE",
            format!(
                "累计实付¥{}（不含退款），位于本店前10%",
                yuan(a.paid_total.fen())
            ),
        ));
    }
    if let (Some(r), Some(gap)) = (ratio, a.purchase_gap_days())
        && (DUE_FROM..=DUE_TO).contains(&r)
    {
        // Purchases less than a day apart on average (several within hours) are not "every
        // day": the sentence says what they were.
        let cycle = if gap < 1.0 {
            "多次购买间隔不足1天".to_owned()
        } else {
            // Half up, like every other rounded figure (the formatter alone rounds 4.5 to 4).
            format!("平均每{:.0}天购买一次", gap.round())
        };
        reasons.push(Reason::new(
            "DUE",
            format!("{cycle}，距上次已{idle_days}天，即将复购"),
        ));
    }
    if dormant {
        reasons.push(Reason::new("DORMANT", format!("已{idle_days}天未购买")));
    }
    if a.after_sale_count > 0 {
        let share = f64::from(a.after_sale_count) / f64::from(a.paid_order_count.max(1));
        value -= AFTER_SALE_PENALTY * share.min(1.0);
        reasons.push(Reason::new(
            "REFUND",
            format!("有退款售后（{}笔）", a.after_sale_count),
        ));
    }
    if a.unpaid_count > 0 {
        value += UNPAID_BONUS;
        reasons.push(Reason::new(
            "UNPAID",
            format!("有{}笔订单待支付", a.unpaid_count),
        ));
    }
    if a.paid_order_count == 0 && a.unpaid_count == 0 {
        value -= NEVER_PAID_PENALTY;
        reasons.push(Reason::new("CLOSED_UNPAID", "下单后未支付，订单已关闭"));
    }
    Intention {
        value: clamp_score(value),
        reasons,
        model_version: MODEL_VERSION.to_owned(),
    }
}

fn clamp_score(v: f64) -> u8 {
    if v.is_nan() {
        return 0;
    }
    v.round().clamp(0.0, 100.0) as u8
}

/// A lead's assessment: score, intention level and tags, reasons, and the model behind them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    /// 0–100: [`INTENTION_SHARE`] of the intention plus reachability.
    pub score: u8,
    pub intention: u8,
    pub tags: Vec<IntentionTag>,
    pub reasons: Vec<Reason>,
    pub model_version: String,
}

/// A lead's score: its intention weighed with how reachable its contact is
/// (`docs/scoring.md`).
pub fn combined_score(intention: u8, validity: crate::validity::Validity) -> u8 {
    let reach = validity.reachability();
    clamp_score(INTENTION_SHARE * f64::from(intention) + (1.0 - INTENTION_SHARE) * 100.0 * reach)
}

/// Combines an intention (built-in or external) with the buyer's facts and reachability.
pub fn assess(
    a: &BuyerAggregate,
    ranks: Ranks,
    intention: &Intention,
    contact: &ContactValidity,
    as_of: DateTime<Utc>,
) -> Assessment {
    let score = combined_score(intention.value, contact.validity);
    let mut tags = vec![if intention.value >= HIGH_INTENTION {
        IntentionTag::High
    } else if intention.value >= MEDIUM_INTENTION {
        IntentionTag::Medium
    } else {
        IntentionTag::Low
    }];
    if a.paid_order_count >= 1 {
        tags.push(IntentionTag::Purchased);
    }
    if a.purchases() >= 2 {
        tags.push(IntentionTag::Repeat);
    }
    if a.unpaid_count > 0 {
        tags.push(IntentionTag::Unpaid);
    }
    if a.after_sale_count > 0 {
        tags.push(IntentionTag::AfterSale);
    }
    if ranks.monetary >= HIGH_VALUE_RANK && a.paid_total.fen() > 0 {
        tags.push(IntentionTag::HighValue);
    }
    if a.purchases() >= 2 && due_ratio(a, as_of).is_some_and(|r| (DUE_FROM..=DUE_TO).contains(&r)) {
        tags.push(IntentionTag::DueToRepurchase);
    }
    if is_dormant(a, as_of) {
        tags.push(IntentionTag::Dormant);
    }
    let mut reasons = intention.reasons.clone();
    reasons.push(Reason::new(contact.code.clone(), contact.reason.clone()));
    Assessment {
        score,
        intention: intention.value,
        tags,
        reasons,
        model_version: intention.model_version.clone(),
    }
}

#[cfg(test)]
mod tests;
