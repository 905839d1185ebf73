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

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context as _, ensure};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use leadgen_domain::buyer::{BuyerAggregate, OrderFacts, aggregate};
use leadgen_domain::scoring::{Ranks, ShopDistribution, predict_intention};
use leadgen_domain::{Money, NeutralStatus};

/// A dataset file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    #[serde(default)]
    pub source: String,
    /// The instant the data was taken: nothing after it is known.
    pub anchor: DateTime<Utc>,
    pub orders: Vec<DatasetOrder>,
    /// Optional: the buyers' true purchase rates (simulated data only).
    #[serde(default)]
    pub buyers: Option<Vec<DatasetBuyer>>,
}

/// One order's neutral facts.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetOrder {
    pub buyer_id: String,
    pub order_id: String,
    pub status: NeutralStatus,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub amount_fen: i64,
    #[serde(default)]
    pub refunded: bool,
    /// What the refunded lines paid when only some are refunded (absent: the whole order).
    #[serde(default)]
    pub partial_refund_fen: Option<i64>,
    #[serde(default)]
    pub product: String,
}

/// One buyer's true purchase rate, and when they stopped buying.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetBuyer {
    pub buyer_id: String,
    /// Purchase occasions per day while the buyer is active.
    pub true_rate_per_day: f64,
    /// When the buyer stopped buying for good; absent or `null`: never (as far as the file
    /// knows).
    #[serde(default)]
    pub active_until: Option<DateTime<Utc>>,
}

impl DatasetBuyer {
    /// The buyer's true rate at `at`: `true_rate_per_day` while active (`at` before
    /// `active_until`), 0 after.
    pub fn rate_at(&self, at: DateTime<Utc>) -> f64 {
        match self.active_until {
            Some(until) if until <= at => 0.0,
            _ => self.true_rate_per_day,
        }
    }
}

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

/// A ranking's cumulative-gains curve: buyers grouped by equal score, best score first, with
/// how many of each group buy again.
#[derive(Debug, Clone)]
pub struct Gains {
    /// (score, buyers, buyers who buy again), by score descending.
    groups: Vec<(f64, usize, usize)>,
    buyers: usize,
    positives: usize,
}

/// Where a top fraction ends in a ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// Buyers who buy again in the top fraction (fractional for the boundary group).
    pub captured: f64,
    pub boundary_score: f64,
    pub boundary_group: usize,
    pub boundary_positives: usize,
    /// The boundary group's share inside the top fraction.
    pub included: f64,
}

impl Gains {
    /// From (score, buys again) pairs; higher scores rank first, equal scores are one group.
    pub fn new(items: impl IntoIterator<Item = (f64, bool)>) -> Self {
        let mut items: Vec<(f64, bool)> = items.into_iter().collect();
        items.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut groups: Vec<(f64, usize, usize)> = Vec::new();
        for (score, positive) in &items {
            match groups.last_mut() {
                Some(last) if last.0.total_cmp(score).is_eq() => {
                    last.1 += 1;
                    last.2 += usize::from(*positive);
                }
                _ => groups.push((*score, 1, usize::from(*positive))),
            }
        }
        Gains {
            buyers: items.len(),
            positives: items.iter().filter(|i| i.1).count(),
            groups,
        }
    }

    /// The ranking that knows the outcome.
    pub fn perfect(outcomes: impl IntoIterator<Item = bool>) -> Self {
        Gains::new(outcomes.into_iter().map(|y| (f64::from(u8::from(y)), y)))
    }

    pub fn base_rate(&self) -> f64 {
        self.positives as f64 / self.buyers.max(1) as f64
    }

    /// The top `fraction` of buyers: whom it captures, and the tied group at its boundary.
    pub fn cut(&self, fraction: f64) -> Cut {
        let target = fraction * self.buyers as f64;
        let (mut taken, mut captured) = (0.0, 0.0);
        let mut cut = Cut {
            captured: 0.0,
            boundary_score: f64::NAN,
            boundary_group: 0,
            boundary_positives: 0,
            included: 0.0,
        };
        for (score, size, positives) in &self.groups {
            let size_f = *size as f64;
            let included = ((target - taken) / size_f).clamp(0.0, 1.0);
            captured += included * *positives as f64;
            if included < 1.0 || taken + size_f >= target {
                cut = Cut {
                    captured,
                    boundary_score: *score,
                    boundary_group: *size,
                    boundary_positives: *positives,
                    included,
                };
                break;
            }
            taken += size_f;
        }
        Cut { captured, ..cut }
    }

    /// The top `fraction`'s share of buyers who buy again over the base rate.
    pub fn lift(&self, fraction: f64) -> f64 {
        self.lift_of(fraction, self.cut(fraction).captured)
    }

    fn lift_of(&self, fraction: f64, captured: f64) -> f64 {
        let base = self.base_rate();
        let top = fraction * self.buyers as f64;
        if base == 0.0 || top == 0.0 {
            return f64::NAN;
        }
        captured / top / base
    }

    /// Twice the area between the cumulative-gains curve and the diagonal (ties averaged: a tied
    /// group's buyers who buy again are spread evenly over it).
    pub fn gini(&self) -> f64 {
        if self.positives == 0 || self.buyers == 0 {
            return f64::NAN;
        }
        let (n, p) = (self.buyers as f64, self.positives as f64);
        let mut area = 0.0;
        let mut y = 0.0;
        for (_, size, positives) in &self.groups {
            let next = y + *positives as f64 / p;
            area += *size as f64 / n * (y + next) / 2.0;
            y = next;
        }
        2.0 * area - 1.0
    }
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

/// Reads a dataset file.
pub fn load(path: &Path) -> anyhow::Result<Dataset> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a dataset (docs/model-quality.md)",
            path.display()
        )
    })
}

/// Evaluates the built-in model on `dataset`.
pub fn evaluate(dataset: &Dataset, options: &Options) -> anyhow::Result<Report> {
    let (cutoff, end) = window(dataset, options)?;
    let rows = builtin_scores(dataset, cutoff, end);
    measure(&rows, cutoff, end, options.top)
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// The report as text, one measurement a line.
pub fn render(report: &Report, dataset: &Dataset, path: &Path) -> String {
    let top = pct(report.top);
    let ceiling = match report.ceiling {
        Ceiling::TrueRate => "ranking by true purchase rate at the cut-off, 0 once inactive",
        Ceiling::Outcome => "ranking by the outcome itself: no true rates in the file",
    };
    let lines = [
        (
            "dataset".to_owned(),
            format!("{} ({})", path.display(), dataset.source),
        ),
        (
            "cut-off".to_owned(),
            format!(
                "{} (outcome: a paid order created until {})",
                report.cutoff.to_rfc3339(),
                report.horizon_end.to_rfc3339()
            ),
        ),
        ("buyers scored".to_owned(), report.buyers.to_string()),
        (
            "buyers buying again".to_owned(),
            format!(
                "{} (base rate {})",
                report.buyers_buying_again,
                pct(report.base_rate)
            ),
        ),
        (
            format!("model lift, top {top}"),
            format!(
                "{:.2} (share {}; {} buyers tied at score {} on the boundary, {} of them \
                 included; any tie order gives {:.2}–{:.2})",
                report.model_lift,
                pct(report.model_top_share),
                report.boundary_group,
                report.boundary_score,
                pct(report.boundary_included),
                report.model_lift_ties_worst,
                report.model_lift_ties_best
            ),
        ),
        (
            format!("ceiling lift, top {top}"),
            format!(
                "{:.2} ({ceiling}); perfect hindsight {:.2}",
                report.ceiling_lift, report.perfect_lift
            ),
        ),
        (
            "ratio model/ceiling".to_owned(),
            format!("{:.3}", report.ratio),
        ),
        (
            "normalized Gini".to_owned(),
            format!(
                "model {:.3}, ceiling {:.3}",
                report.normalized_gini, report.ceiling_normalized_gini
            ),
        ),
    ];
    lines
        .iter()
        .map(|(label, value)| format!("{label:<26}{value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `leadctl model-quality`.
pub fn run(
    path: &Path,
    options: &Options,
    require_ratio: Option<f64>,
    require_lift: Option<f64>,
    json: bool,
) -> anyhow::Result<()> {
    let dataset = load(path)?;
    let report = evaluate(&dataset, options)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", render(&report, &dataset, path));
    }
    let mut failures = Vec::new();
    if let Some(r) = require_ratio.filter(|r| report.ratio.is_nan() || report.ratio < *r) {
        failures.push(format!(
            "ratio model/ceiling {:.3} is below the required {r}",
            report.ratio
        ));
    }
    if let Some(l) = require_lift.filter(|l| report.model_lift.is_nan() || report.model_lift < *l) {
        failures.push(format!(
            "model lift {:.2} is below the required {l}",
            report.model_lift
        ));
    }
    if !failures.is_empty() {
        // A missed bar is a result, not a failure of the command: no error trace.
        eprintln!("FAILED: {}", failures.join("; "));
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
