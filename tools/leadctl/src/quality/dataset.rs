//! The dataset file `leadctl model-quality` reads (format: `docs/model-quality.md`).

use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use leadgen_domain::NeutralStatus;

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
