//! The external scorer's part of a rescore: the leads whose buyer changed since it last scored
//! them, asked outside any transaction, a bounded number per rescore and at a time.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use leadgen_domain::scoring::Intention;
use leadgen_scorer::{ModelInput, PredictRequest};

use super::{Plan, Rescore};

/// External calls per rescore at most; the rest wait for the next one.
pub(super) const MAX_EXTERNAL_PER_RESCORE: usize = 2_000;
/// Calls started at once (the client bounds the requests really in flight).
const EXTERNAL_IN_FLIGHT: usize = 16;

impl Rescore {
    /// Asks the external scorer (outside any transaction) for the leads whose buyer changed since
    /// it last scored them; a lead it fails for keeps the built-in intention and stays pending.
    pub(super) async fn ask_external(
        &self,
        tenant_id: i64,
        plans: &[Plan<'_>],
        as_of: DateTime<Utc>,
        budget: &mut usize,
    ) -> HashMap<i64, Intention> {
        use futures::StreamExt as _;
        let Some(scorer) = &self.processor.scorer else {
            return HashMap::new();
        };
        // Leads whose buyer changed first, then standing answers asked again: within the
        // budget, a changed buyer is not held back by a week-old answer's renewal.
        let mut asked: Vec<&Plan<'_>> = plans
            .iter()
            .filter(|p| p.row.external_pending || p.external_due)
            .collect();
        asked.sort_by_key(|p| !p.row.external_pending);
        let renewals: std::collections::HashSet<i64> = asked
            .iter()
            .filter(|p| !p.row.external_pending)
            .map(|p| p.row.id)
            .collect();
        let requests: Vec<(i64, PredictRequest)> = asked
            .into_iter()
            .take(*budget)
            .map(|p| {
                let model_input = ModelInput {
                    lead_id: p.row.id,
                    tenant_id,
                    as_of,
                    aggregate: p.aggregate.clone(),
                    ranks: p.ranks,
                };
                (p.row.id, PredictRequest { model_input })
            })
            .collect();
        *budget -= requests.len();
        let answers: Vec<(i64, Result<Intention, leadgen_scorer::ScorerError>)> =
            futures::stream::iter(requests)
                .map(|(id, request)| {
                    let scorer = Arc::clone(scorer);
                    async move { (id, scorer.predict(&request).await) }
                })
                .buffer_unordered(EXTERNAL_IN_FLIGHT)
                .collect()
                .await;
        let mut out = HashMap::new();
        // A changed buyer the scorer failed for is scored by the built-in model; a standing
        // answer it failed to renew stands until the next try.
        let (mut fell_back, mut kept) = (0usize, 0usize);
        let mut last_error = None;
        for (id, answer) in answers {
            match answer {
                Ok(intention) => {
                    out.insert(id, intention);
                }
                Err(e) => {
                    if renewals.contains(&id) {
                        kept += 1;
                    } else {
                        fell_back += 1;
                    }
                    last_error = Some(e.to_string());
                }
            }
        }
        if fell_back + kept > 0 {
            metrics::counter!("leadgen_scorer_fallbacks_total").increment(fell_back as u64);
            tracing::warn!(
                leads.fell_back = fell_back,
                leads.kept = kept,
                leads.scored = out.len(),
                error = last_error.unwrap_or_default(),
                "External scorer failed; the built-in model scored the changed buyers, standing answers stand"
            );
        }
        out
    }
}
