//! `leadctl model-quality`: how well the built-in model (`predictIntention`) ranks buyers by
//! who buys again, measured on a dataset file (format: `docs/model-quality.md`).
//!
//! Time is split at a cut-off. Every buyer with an order created at or before the cut-off is
//! scored with the built-in intention as of the cut-off, from those orders only (as they stood
//! then: an order paid after the cut-off counts as unpaid). The outcome is whether the buyer
//! places an order in (cut-off, cut-off + horizon] that was paid. Then:
//!
//! - **lift** of the top fraction (default the top decile): its share of buyers who buy again
//!   over the share among all scored buyers. Buyers tied on the score at the boundary are
//!   included fractionally (each of them counts with the share of the tied group that fits), so
//!   the result is the expectation over every order of the ties, never the luck of a tie-break.
//! - **ceiling lift**: the same for the best ranking. With the buyers' true purchase rates
//!   (`buyers[].trueRatePerDay`, e.g. from `platform-sim dataset`) the ceiling is the ranking by
//!   true rate at the cut-off, the one a model would make if it knew every buyer's rate and
//!   whether they still buy: `trueRatePerDay` if the buyer is active at the cut-off
//!   (`buyers[].activeUntil` absent, `null` or after it), else 0. Without true rates it is the
//!   ranking by the outcome itself (perfect hindsight), an upper bound reported as such.
//! - **ratio**: model lift over ceiling lift.
//! - **normalized Gini**: the model's Gini (twice the area between its cumulative-gains curve
//!   and the diagonal, ties averaged) over the Gini of the perfect ranking; 1 is perfect, 0 is
//!   random. Equal to 2·AUC − 1.

mod dataset;
mod gains;
mod report;

use std::collections::{BTreeMap, HashMap};

use anyhow::ensure;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use leadgen_domain::buyer::{BuyerAggregate, OrderFacts, aggregate};
use leadgen_domain::scoring::{Ranks, ShopDistribution, predict_intention};
use leadgen_domain::{Money, NeutralStatus};

#[cfg(test)]
use dataset::DatasetBuyer;
pub use dataset::{Dataset, DatasetOrder, load};
pub use gains::Gains;
pub use report::run;

/// How to split and what to measure.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Default: the dataset's anchor minus the horizon.
    pub cutoff: Option<DateTime<Utc>>,
    pub horizon_days: i64,
    /// The top fraction whose lift is measured (0.1: the top decile).
    pub top: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cutoff: None,
            horizon_days: 30,
            top: 0.1,
        }
    }
}

/// What the ceiling ranking is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Ceiling {
    /// Ranking by the buyers' true purchase rates.
    TrueRate,
    /// Ranking by the outcome itself (no true rates in the file).
    Outcome,
}

/// The measurements.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub cutoff: DateTime<Utc>,
    pub horizon_end: DateTime<Utc>,
    pub top: f64,
    pub buyers: usize,
    pub buyers_buying_again: usize,
    pub base_rate: f64,
    pub model_lift: f64,
    /// The top fraction's share of buyers who buy again, by the model.
    pub model_top_share: f64,
    pub ceiling: Ceiling,
    pub ceiling_lift: f64,
    /// The lift of perfect hindsight (the outcome itself): no ranking can do better.
    pub perfect_lift: f64,
    pub ratio: f64,
    pub model_gini: f64,
    pub normalized_gini: f64,
    /// The ceiling ranking's normalized Gini.
    pub ceiling_normalized_gini: f64,
    /// The tied group at the top fraction's boundary: score, size and the share included.
    pub boundary_score: f64,
    pub boundary_group: usize,
    pub boundary_included: f64,
    /// The model lift if the boundary ties broke all in favour of, or all against, the model.
    pub model_lift_ties_best: f64,
    pub model_lift_ties_worst: f64,
}

/// The order as it stood at the cut-off: paid later means unpaid then. Refunds and closures are
/// taken as the file records them (it carries no time for them).
fn as_of(order: &DatasetOrder, cutoff: DateTime<Utc>) -> OrderFacts {
    let paid_later = order.paid_at.is_some_and(|p| p > cutoff);
    OrderFacts {
        platform_id: 0,
        order_id: order.order_id.clone(),
        status: if paid_later {
            NeutralStatus::Unpaid
        } else {
            order.status
        },
        created_at: order.created_at,
        paid_at: if paid_later { None } else { order.paid_at },
        amount: Money(order.amount_fen),
        refunded: order.refunded && !paid_later,
        partial_refund: order.partial_refund_fen.map(Money),
        product: order.product.clone(),
    }
}

/// Whether the order counts as buying again: created in the outcome window and paid.
fn is_purchase(order: &DatasetOrder) -> bool {
    order.status.was_paid() || order.paid_at.is_some()
}

/// One scored buyer: the model's score, the true rate at the cut-off if known, and the outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub buyer_id: String,
    pub score: f64,
    pub true_rate: Option<f64>,
    pub buys_again: bool,
}

/// The buyers with history at the cut-off (by buyer id), each with the aggregate of their
/// orders as they stood then; scores are left at 0.
pub fn histories(
    dataset: &Dataset,
    cutoff: DateTime<Utc>,
    horizon_end: DateTime<Utc>,
) -> (Vec<Scored>, Vec<BuyerAggregate>) {
    let mut by_buyer: BTreeMap<&str, Vec<&DatasetOrder>> = BTreeMap::new();
    for order in &dataset.orders {
        by_buyer.entry(&order.buyer_id).or_default().push(order);
    }
    let truth: HashMap<&str, f64> = dataset
        .buyers
        .iter()
        .flatten()
        .map(|b| (b.buyer_id.as_str(), b.rate_at(cutoff)))
        .collect();
    let mut rows = Vec::new();
    let mut aggregates = Vec::new();
    for (buyer, orders) in &by_buyer {
        let history: Vec<OrderFacts> = orders
            .iter()
            .filter(|o| o.created_at <= cutoff)
            .map(|o| as_of(o, cutoff))
            .collect();
        let Some(agg) = aggregate(&history) else {
            continue;
        };
        let buys_again = orders
            .iter()
            .any(|o| o.created_at > cutoff && o.created_at <= horizon_end && is_purchase(o));
        aggregates.push(agg);
        rows.push(Scored {
            buyer_id: (*buyer).to_owned(),
            score: 0.0,
            true_rate: truth.get(buyer).copied(),
            buys_again,
        });
    }
    (rows, aggregates)
}

/// Scores `rows` with `score(aggregate, ranks in the shop of every scored buyer)`.
pub fn score_with(
    rows: &mut [Scored],
    aggregates: &[BuyerAggregate],
    score: impl Fn(&BuyerAggregate, Ranks) -> f64,
) {
    let shop = ShopDistribution::of(aggregates.iter());
    for (row, a) in rows.iter_mut().zip(aggregates) {
        row.score = score(a, shop.ranks(a));
    }
}

/// Every buyer with history at the cut-off, scored with the built-in intention as of then.
pub fn builtin_scores(
    dataset: &Dataset,
    cutoff: DateTime<Utc>,
    horizon_end: DateTime<Utc>,
) -> Vec<Scored> {
    let (mut rows, aggregates) = histories(dataset, cutoff, horizon_end);
    score_with(&mut rows, &aggregates, |a, ranks| {
        f64::from(predict_intention(a, ranks, cutoff).value)
    });
    rows
}

/// Measures `rows` (scores and outcomes) for the top `top` fraction.
pub fn measure(
    rows: &[Scored],
    cutoff: DateTime<Utc>,
    horizon_end: DateTime<Utc>,
    top: f64,
) -> anyhow::Result<Report> {
    ensure!(!rows.is_empty(), "no buyer has an order before the cut-off");
    let model = Gains::new(rows.iter().map(|r| (r.score, r.buys_again)));
    let perfect = Gains::perfect(rows.iter().map(|r| r.buys_again));
    ensure!(
        model.positives > 0 && model.positives < model.buyers,
        "{} of {} buyers buy again in the outcome window: nothing to rank",
        model.positives,
        model.buyers
    );
    let with_truth = rows.iter().filter(|r| r.true_rate.is_some()).count();
    let (ceiling_kind, ceiling) = if with_truth == 0 {
        (Ceiling::Outcome, perfect.clone())
    } else {
        ensure!(
            with_truth == rows.len(),
            "the file gives true rates for {with_truth} of the {} scored buyers: all or none",
            rows.len()
        );
        let by_rate = rows
            .iter()
            .map(|r| (r.true_rate.unwrap_or_default(), r.buys_again));
        (Ceiling::TrueRate, Gains::new(by_rate))
    };
    let cut = model.cut(top);
    let model_lift = model.lift(top);
    let ceiling_lift = ceiling.lift(top);
    let fixed = cut.captured - cut.included * cut.boundary_positives as f64;
    let room = cut.included * cut.boundary_group as f64;
    let best = fixed + room.min(cut.boundary_positives as f64);
    let negatives = (cut.boundary_group - cut.boundary_positives) as f64;
    let worst = fixed + (room - negatives).max(0.0);
    let perfect_gini = perfect.gini();
    Ok(Report {
        cutoff,
        horizon_end,
        top,
        buyers: model.buyers,
        buyers_buying_again: model.positives,
        base_rate: model.base_rate(),
        model_lift,
        model_top_share: cut.captured / (top * model.buyers as f64),
        ceiling: ceiling_kind,
        ceiling_lift,
        perfect_lift: perfect.lift(top),
        ratio: model_lift / ceiling_lift,
        model_gini: model.gini(),
        normalized_gini: model.gini() / perfect_gini,
        ceiling_normalized_gini: ceiling.gini() / perfect_gini,
        boundary_score: cut.boundary_score,
        boundary_group: cut.boundary_group,
        boundary_included: cut.included,
        model_lift_ties_best: model.lift_of(top, best),
        model_lift_ties_worst: model.lift_of(top, worst),
    })
}

/// The cut-off and the end of the outcome window for `dataset`.
pub fn window(
    dataset: &Dataset,
    options: &Options,
) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    ensure!(options.horizon_days > 0, "--horizon-days must be positive");
    ensure!(
        options.top > 0.0 && options.top <= 1.0,
        "--decile must be in (0, 1]"
    );
    let horizon = Duration::days(options.horizon_days);
    let cutoff = options.cutoff.unwrap_or(dataset.anchor - horizon);
    let end = cutoff + horizon;
    ensure!(
        end <= dataset.anchor,
        "the outcome window ends at {end}, after the dataset's anchor {}: outcomes would be cut \
         short (choose an earlier --cutoff or a shorter --horizon-days)",
        dataset.anchor
    );
    Ok((cutoff, end))
}

/// Evaluates the built-in model on `dataset`.
pub fn evaluate(dataset: &Dataset, options: &Options) -> anyhow::Result<Report> {
    let (cutoff, end) = window(dataset, options)?;
    let rows = builtin_scores(dataset, cutoff, end);
    measure(&rows, cutoff, end, options.top)
}

#[cfg(test)]
mod tests;
