//! The shop rescore: ranks every live lead of a shop against all of the shop's buyers (exact
//! percentiles), rescores them as of today, and stores the shop's compact distribution for the
//! provisional ranks of the batches that follow.
//!
//! A shop is rescored once its leads changed and then settled (no change for `settle`, or at the
//! latest every `max_wait` while changes keep coming), and every day (recency, "due" and dormancy
//! move with time). Because the final scores depend only on the final set of buyers, processing
//! the same orders in any order, batch split or number of replicas gives the same leads, tags and
//! scores once the shop has settled.
//!
//! When an external scorer is configured, leads whose buyer changed since it last scored them are
//! sent to it between the read and the write, outside any transaction; a lead it cannot score
//! (absent, slow, failing, circuit open) is scored by the built-in model and asked again at the
//! next rescore. `scored_by` records which one did.
//!
//! Reads happen in one short transaction, writes in another that locks the changed leads in id
//! order and skips any a batch changed in between (that batch marked the shop dirty again).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::Jsonb;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use leadgen_db::{DbPool, ScopedFutureExt as _, sealed};
use leadgen_domain::ContactField;
use leadgen_domain::buyer::BuyerAggregate;
use leadgen_domain::scoring::{
    Assessment, Intention, Ranks, ShopDistribution, assess, predict_intention,
};
use leadgen_domain::validity::{ContactValidity, filter_contact_info, no_contact};
use leadgen_events::{CloudEvent, LeadChange, LeadUpdatedV1, ScoredBy};
use leadgen_outbox::Batch;
use leadgen_scorer::{ModelInput, PredictRequest};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::SERVICE;
use crate::lead_record::{snapshot, tags_of};
use crate::processor::Processor;
use crate::repo::leads::{self, LeadRow};
use crate::repo::shop_stats::{self, Claimed};

/// External calls per rescore at most; the rest wait for the next one.
const MAX_EXTERNAL_PER_RESCORE: usize = 2_000;
/// Calls started at once (the client bounds the requests really in flight).
const EXTERNAL_IN_FLIGHT: usize = 16;

/// One live lead's inputs in a rescore.
struct Plan<'a> {
    row: &'a LeadRow,
    aggregate: BuyerAggregate,
    ranks: Ranks,
    validity: ContactValidity,
    builtin: Intention,
}

/// A lead whose score, tags, reasons, scorer or contact verdict changed.
struct Changed {
    row: LeadRow,
    aggregate: BuyerAggregate,
    validity: ContactValidity,
    assessment: Assessment,
    scored_by: ScoredBy,
    pending: bool,
}

pub struct Rescore {
    pub pool: DbPool,
    pub processor: Arc<Processor>,
    pub interval: Duration,
    pub settle: Duration,
    pub max_wait: Duration,
    pub lease: Duration,
}

/// What one rescore did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rescored {
    pub platform_id: i64,
    pub leads: usize,
    pub changed: usize,
}

impl Rescore {
    /// Rescores due shops until `shutdown`; errors are logged and retried later.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.rescore_once().await {
                Ok(Some(done)) => {
                    tracing::info!(
                        platform.id = done.platform_id,
                        leads = done.leads,
                        leads.changed = done.changed,
                        "Rescored shop"
                    );
                    if shutdown.is_cancelled() {
                        return;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "Rescore failed; retrying"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Rescores one due shop, if any.
    pub async fn rescore_once(&self) -> anyhow::Result<Option<Rescored>> {
        let as_of = self.processor.as_of();
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let Some(claim) =
            shop_stats::claim(&mut conn, as_of, self.settle, self.max_wait, self.lease).await?
        else {
            return Ok(None);
        };
        match self.rescore_shop(&mut conn, &claim, as_of).await {
            Ok(done) => Ok(Some(done)),
            Err(e) => {
                shop_stats::release(&mut conn, claim.platform_id).await?;
                Err(e)
            }
        }
    }

    async fn rescore_shop(
        &self,
        conn: &mut AsyncPgConnection,
        claim: &Claimed,
        as_of: DateTime<Utc>,
    ) -> anyhow::Result<Rescored> {
        let rows = leads::of_shop(conn, claim.platform_id).await?;
        let mut aggregates = Vec::with_capacity(rows.len());
        for row in &rows {
            aggregates.push(serde_json::from_value::<BuyerAggregate>(
                row.aggregate.clone(),
            )?);
        }
        let distribution = ShopDistribution::of(aggregates.iter());
        let now = Utc::now();
        let mut plans = Vec::with_capacity(rows.len());
        for (row, a) in rows.iter().zip(aggregates) {
            // An external score stands until the buyer changes (external_pending).
            if row.scored_by == ScoredBy::External.as_str() && !row.external_pending {
                continue;
            }
            let validity = self.validity_of(row, now)?;
            let ranks = distribution.ranks(&a);
            plans.push(Plan {
                row,
                builtin: predict_intention(&a, ranks, as_of),
                aggregate: a,
                ranks,
                validity,
            });
        }
        let external = self.ask_external(claim.tenant_id, &plans, as_of).await;
        let mut changed: Vec<Changed> = Vec::new();
        for plan in plans {
            let (intention, scored_by, pending) = match external.get(&plan.row.id) {
                Some(i) => (i, ScoredBy::External, false),
                None => (&plan.builtin, ScoredBy::Builtin, plan.row.external_pending),
            };
            let assessment = assess(
                &plan.aggregate,
                plan.ranks,
                intention,
                &plan.validity,
                as_of,
            );
            let row = plan.row;
            let labels: Vec<String> = assessment
                .tags
                .iter()
                .map(|t| t.label().to_owned())
                .collect();
            let reasons = serde_json::to_value(&assessment.reasons)?;
            let same = row.score == i16::from(assessment.score)
                && row.intention == i16::from(assessment.intention)
                && row.intention_tags == labels
                && row.score_reasons == reasons
                && row.model_version == assessment.model_version
                && row.scored_by == scored_by.as_str()
                && row.external_pending == pending
                && row.contact_validity == plan.validity.validity.as_str();
            if !same {
                changed.push(Changed {
                    row: row.clone(),
                    aggregate: plan.aggregate,
                    validity: plan.validity,
                    assessment,
                    scored_by,
                    pending,
                });
            }
        }
        let outcome = Rescored {
            platform_id: claim.platform_id,
            leads: rows.len(),
            changed: changed.len(),
        };
        let claim = claim.clone();
        let compact = serde_json::to_value(distribution.compact())?;
        conn.transaction::<(), anyhow::Error, _>(|conn| {
            async move {
                let ids: Vec<i64> = changed.iter().map(|c| c.row.id).collect();
                let current: HashMap<i64, i32> = leads::lock_versions(conn, &ids)
                    .await?
                    .into_iter()
                    .collect();
                let mut updates = Vec::new();
                let mut events = Batch::default();
                for c in changed {
                    let Changed {
                        mut row,
                        aggregate: a,
                        validity,
                        assessment,
                        scored_by,
                        pending,
                    } = c;
                    if current.get(&row.id) != Some(&row.version) {
                        continue;
                    }
                    let before = row.clone();
                    row.score = i16::from(assessment.score);
                    row.intention = i16::from(assessment.intention);
                    row.intention_tags = assessment
                        .tags
                        .iter()
                        .map(|t| t.label().to_owned())
                        .collect();
                    row.score_reasons = serde_json::to_value(&assessment.reasons)?;
                    row.model_version = assessment.model_version.clone();
                    row.scored_by = scored_by.as_str().to_owned();
                    row.external_pending = pending;
                    row.contact_validity = validity.validity.as_str().to_owned();
                    row.contact_validity_reason = serde_json::to_value(&validity)?;
                    row.version += 1;
                    updates.push(json!({
                        "id": row.id,
                        "score": row.score,
                        "intention": row.intention,
                        "tags": row.intention_tags,
                        "reasons": row.score_reasons,
                        "modelVersion": row.model_version,
                        "scoredBy": row.scored_by,
                        "externalPending": row.external_pending,
                        "validity": row.contact_validity,
                        "validityReason": row.contact_validity_reason,
                    }));
                    let mut changes = Vec::new();
                    if before.score != row.score {
                        changes.push(LeadChange::Score);
                    }
                    if tags_of(&before.intention_tags) != assessment.tags {
                        changes.push(LeadChange::Tags);
                    }
                    if before.contact_validity != row.contact_validity {
                        changes.push(LeadChange::ContactValidity);
                    }
                    if !changes.is_empty() {
                        let lead = snapshot(&row, &a, &validity, &assessment, scored_by)?;
                        events.push(&CloudEvent::new(
                            SERVICE,
                            row.tenant_id,
                            Some(format!("lead/{}", row.id)),
                            LeadUpdatedV1 {
                                lead,
                                changes,
                                merged_lead_ids: Vec::new(),
                            },
                        ))?;
                    }
                }
                if !updates.is_empty() {
                    diesel::sql_query(
                        "UPDATE t_order_lead l SET \
                           score = (v->>'score')::int2, \
                           intention = (v->>'intention')::int2, \
                           intention_tags = ARRAY(SELECT jsonb_array_elements_text(v->'tags')), \
                           score_reasons = v->'reasons', \
                           model_version = v->>'modelVersion', \
                           scored_by = v->>'scoredBy', \
                           external_pending = (v->>'externalPending')::boolean, \
                           contact_validity = v->>'validity', \
                           contact_validity_reason = v->'validityReason', \
                           version = l.version + 1, update_time = now() \
                         FROM jsonb_array_elements($1) AS v WHERE l.id = (v->>'id')::int8",
                    )
                    .bind::<Jsonb, _>(serde_json::Value::Array(updates))
                    .execute(conn)
                    .await?;
                }
                events.enqueue(conn, SERVICE).await?;
                shop_stats::finish(conn, claim.platform_id, claim.dirty_seq, as_of, compact)
                    .await?;
                Ok(())
            }
            .scope_boxed()
        })
        .await?;
        Ok(outcome)
    }

    /// Asks the external scorer (outside any transaction) for the leads whose buyer changed since
    /// it last scored them; a lead it fails for keeps the built-in intention and stays pending.
    async fn ask_external(
        &self,
        tenant_id: i64,
        plans: &[Plan<'_>],
        as_of: DateTime<Utc>,
    ) -> HashMap<i64, Intention> {
        use futures::StreamExt as _;
        let Some(scorer) = &self.processor.scorer else {
            return HashMap::new();
        };
        let requests: Vec<(i64, PredictRequest)> = plans
            .iter()
            .filter(|p| p.row.external_pending)
            .take(MAX_EXTERNAL_PER_RESCORE)
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
        let mut failed = 0usize;
        let mut last_error = None;
        for (id, answer) in answers {
            match answer {
                Ok(intention) => {
                    out.insert(id, intention);
                }
                Err(e) => {
                    failed += 1;
                    last_error = Some(e.to_string());
                }
            }
        }
        if failed > 0 {
            metrics::counter!("leadgen_scorer_fallbacks_total").increment(failed as u64);
            tracing::warn!(
                leads.failed = failed,
                leads.scored = out.len(),
                error = last_error.unwrap_or_default(),
                "External scorer failed; the built-in model scored those leads"
            );
        }
        out
    }

    /// The lead's contact judged again now (privacy numbers expire).
    fn validity_of(&self, row: &LeadRow, now: DateTime<Utc>) -> anyhow::Result<ContactValidity> {
        let json = self
            .processor
            .sealer
            .open(&sealed::lead_contact(row.id), &row.contact_info)?;
        let contact: Option<ContactField> = serde_json::from_str(&json)?;
        Ok(contact.map_or_else(no_contact, |c| filter_contact_info(&c, now)))
    }
}
