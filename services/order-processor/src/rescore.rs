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
use leadgen_domain::scoring::{ShopDistribution, assess, predict_intention};
use leadgen_domain::validity::{ContactValidity, filter_contact_info, no_contact};
use leadgen_events::{CloudEvent, LeadChange, LeadUpdatedV1, ScoredBy};
use leadgen_outbox::Batch;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::SERVICE;
use crate::lead_record::{snapshot, tags_of};
use crate::processor::Processor;
use crate::repo::leads::{self, LeadRow};
use crate::repo::shop_stats::{self, Claimed};

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
        let mut changed: Vec<(
            LeadRow,
            BuyerAggregate,
            ContactValidity,
            leadgen_domain::scoring::Assessment,
        )> = Vec::new();
        for (row, a) in rows.iter().zip(aggregates) {
            let validity = self.validity_of(row, now)?;
            let ranks = distribution.ranks(&a);
            let intention = predict_intention(&a, ranks, as_of);
            let assessment = assess(&a, ranks, &intention, &validity, as_of);
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
                && row.scored_by == ScoredBy::Builtin.as_str()
                && row.contact_validity == validity.validity.as_str();
            if !same {
                changed.push((row.clone(), a, validity, assessment));
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
                let ids: Vec<i64> = changed.iter().map(|(r, ..)| r.id).collect();
                let current: HashMap<i64, i32> = leads::lock_versions(conn, &ids)
                    .await?
                    .into_iter()
                    .collect();
                let mut updates = Vec::new();
                let mut events = Batch::default();
                for (mut row, a, validity, assessment) in changed {
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
                    row.scored_by = ScoredBy::Builtin.as_str().to_owned();
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
                        let lead = snapshot(&row, &a, &validity, &assessment, ScoredBy::Builtin)?;
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
