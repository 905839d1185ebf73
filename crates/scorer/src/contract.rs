//! The scorer's HTTP contract: `POST {url}` with a [`PredictRequest`], answered by a
//! [`PredictResponse`]. Both are JSON in camelCase.
//!
//! `proto-events/scorer/predict-intention-{request,response}.json` are generated from these
//! types ([`all_schemas`]); a test fails when the committed files and the types disagree, and
//! `cargo test -p leadgen-scorer -- --ignored write_scorer_schemas` rewrites them. Fields are
//! only ever added, as optional; unknown fields in an answer are ignored.

use chrono::{DateTime, Utc};
use leadgen_domain::buyer::BuyerAggregate;
use leadgen_domain::scoring::{Intention, Ranks, Reason};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ScorerError;

/// The highest intention a scorer may answer.
pub const MAX_INTENTION: i64 = 100;
/// The most reasons a scorer may answer.
pub const MAX_REASONS: usize = 10;

/// The request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PredictRequest {
    pub model_input: ModelInput,
}

/// What the scorer predicts from: one buyer (lead) of a tenant, as of an instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelInput {
    pub lead_id: i64,
    pub tenant_id: i64,
    /// The instant the prediction is for (RFC 3339, UTC).
    pub as_of: DateTime<Utc>,
    /// The buyer's aggregate over all of their orders.
    pub aggregate: BuyerAggregate,
    /// The buyer's percentile ranks in the shop, 0–1.
    pub ranks: Ranks,
}

/// The answer body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PredictResponse {
    /// Purchase intention, an integer 0–100.
    #[schemars(range(min = 0, max = "MAX_INTENTION"))]
    pub intention: i64,
    /// Why, at most ten.
    #[schemars(length(max = "MAX_REASONS"))]
    pub reasons: Vec<ResponseReason>,
    /// The external model's version, stored beside every score it produces.
    #[schemars(length(min = 1))]
    pub model_version: String,
}

/// One reason: a machine code and a short sentence for sales staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResponseReason {
    /// A machine code, e.g. `EXT_REPEAT`; stored and shown beside the built-in model's codes.
    #[schemars(length(min = 1))]
    pub code: String,
    /// A short Chinese sentence for sales staff.
    pub text: String,
}

impl PredictResponse {
    /// Parses and checks an answer body; anything off-contract is [`ScorerError::Garbage`].
    pub fn parse(body: &[u8]) -> Result<Intention, ScorerError> {
        let response: PredictResponse = serde_json::from_slice(body)
            .map_err(|e| ScorerError::Garbage(format!("not a predict response: {e}")))?;
        response.into_intention()
    }

    /// Checks the answer against the contract and turns it into the domain's [`Intention`].
    pub fn into_intention(self) -> Result<Intention, ScorerError> {
        let value = u8::try_from(self.intention)
            .ok()
            .filter(|v| i64::from(*v) <= MAX_INTENTION)
            .ok_or_else(|| {
                ScorerError::Garbage(format!(
                    "intention {} outside 0..={MAX_INTENTION}",
                    self.intention
                ))
            })?;
        let model_version = self.model_version.trim();
        if model_version.is_empty() {
            return Err(ScorerError::Garbage("modelVersion is empty".to_owned()));
        }
        if self.reasons.len() > MAX_REASONS {
            return Err(ScorerError::Garbage(format!(
                "{} reasons, at most {MAX_REASONS}",
                self.reasons.len()
            )));
        }
        if let Some(i) = self.reasons.iter().position(|r| r.code.trim().is_empty()) {
            return Err(ScorerError::Garbage(format!(
                "reason {i} has an empty code"
            )));
        }
        Ok(Intention {
            value,
            reasons: self
                .reasons
                .into_iter()
                .map(|r| Reason::new(r.code.trim(), r.text))
                .collect(),
            model_version: model_version.to_owned(),
        })
    }
}

/// Where the contract's schemas are committed, under `proto-events/`.
pub const SCHEMA_DIR: &str = "scorer";

/// A type's JSON Schema (draft 7), as committed.
fn schema_of<T: JsonSchema>() -> serde_json::Value {
    let schema = schemars::r#gen::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    serde_json::to_value(schema).unwrap_or(serde_json::Value::Null)
}

/// Every schema file name (under `proto-events/scorer/`) and its schema.
pub fn all_schemas() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "predict-intention-request.json",
            schema_of::<PredictRequest>(),
        ),
        (
            "predict-intention-response.json",
            schema_of::<PredictResponse>(),
        ),
    ]
}
