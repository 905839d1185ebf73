//! The write of a rescore's chunk: the changed leads locked in id order, those a batch wrote
//! since they were read left for the next rescore, and `LeadUpdated` for what changed.

use std::collections::HashMap;

use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use leadgen_db::ScopedFutureExt as _;
use leadgen_domain::validity::Validity;
use leadgen_domain::{RawOrderStatus, TenantId};
use leadgen_events::{CloudEvent, LeadUpdatedV1};
use leadgen_outbox::Batch;
use serde_json::json;

use super::{Changed, skip};
use crate::SERVICE;
use crate::lead_record::{Announced, announced_changes, snapshot, tags_of};
use crate::repo::leads;
use crate::repo::raw_orders;
use crate::repo::shop_stats;

/// Writes one chunk's changed leads in one transaction: locks them in id order, skips any written
/// since they were read (and marks their shop dirty again, which a salesperson's status change
/// does not), and emits `LeadUpdated` for those whose score (or its intention part), tags or
/// contact verdict changed.
pub(super) async fn write_chunk(
    conn: &mut AsyncPgConnection,
    changed: Vec<Changed>,
) -> anyhow::Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let skipped = conn
        .transaction::<Vec<i64>, anyhow::Error, _>(|conn| {
            async move {
                let ids: Vec<i64> = changed.iter().map(|c| c.row.id).collect();
                let current: HashMap<i64, i32> = leads::lock_versions(conn, &ids)
                    .await?
                    .into_iter()
                    .collect();
                let mut updates = Vec::new();
                let mut events = Batch::default();
                let mut to_rebuild = Vec::new();
                let mut moved_on = Vec::new();
                for c in changed {
                    // Written since it was read (a batch, a salesperson's status change): the shop
                    // is rescored again, so the lead is not left as it was.
                    if current.get(&c.row.id) != Some(&c.row.version) {
                        moved_on.push((TenantId::new(c.row.tenant_id), c.row.platform_id));
                        continue;
                    }
                    let lapsed = contact_lapsed(&c).then_some(c.row.raw_order_id);
                    let id = c.row.id;
                    let (update, event) = match apply(c) {
                        Ok(applied) => applied,
                        // A stored column its event needs (kind, platform, status) that does not
                        // read: the lead stays as it is, the chunk goes on.
                        Err(e) => {
                            skip(id, &e);
                            continue;
                        }
                    };
                    to_rebuild.extend(lapsed);
                    updates.push(update);
                    if let Some(event) = event {
                        events.push(&event)?;
                    }
                }
                leads::update_scores(conn, updates).await?;
                events.enqueue(conn, SERVICE).await?;
                // The pending sweep rebuilds these buyers from all of their orders. A row another
                // transaction holds is handed back after the commit, without lead locks.
                let skipped = raw_orders::hand_back_unless_held(conn, &to_rebuild).await?;
                moved_on.sort_unstable();
                moved_on.dedup();
                for (tenant, shop) in moved_on {
                    shop_stats::mark_dirty(conn, tenant, &[shop]).await?;
                }
                Ok(skipped)
            }
            .scope_boxed()
        })
        .await?;
    // Waiting for those rows now takes no lead lock the other way round; a batch that held one
    // may have rebuilt the buyer already, and then the sweep rebuilds it again, alike. Retried:
    // the chunk is committed, and the lead now reads as expired, so no later rescore would
    // hand these buyers back for a rebuild.
    hand_back_after_commit(conn, &skipped).await
}

/// Sets `ids` back to `PENDING`, retried a few times with backoff (a database blip).
async fn hand_back_after_commit(conn: &mut AsyncPgConnection, ids: &[i64]) -> anyhow::Result<()> {
    use backon::{ExponentialBuilder, RetryableWithContext as _};
    if ids.is_empty() {
        return Ok(());
    }
    let backoff = ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(200))
        .with_max_delay(std::time::Duration::from_secs(2))
        .with_max_times(4)
        .with_jitter();
    async fn attempt<'c>(
        conn: &'c mut AsyncPgConnection,
        ids: &[i64],
    ) -> (&'c mut AsyncPgConnection, diesel::QueryResult<usize>) {
        let handed = raw_orders::set_status(conn, ids, RawOrderStatus::Pending).await;
        (conn, handed)
    }
    let (_, handed) = (|conn| attempt(conn, ids))
    .retry(backoff)
    .sleep(tokio::time::sleep)
    .context(conn)
    .notify(|e, wait| {
        tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "Handing lapsed buyers back for a rebuild failed; retrying");
    })
    .await;
    handed?;
    Ok(())
}

/// Whether the lead's contact lapsed since it was chosen (a privacy number expired) while the
/// buyer has other orders: a rescore judges only the chosen contact, so the buyer is rebuilt
/// from all of their orders, where another order's number may still be reachable.
fn contact_lapsed(c: &Changed) -> bool {
    c.validity.validity == Validity::Expired
        && c.row.contact_validity != Validity::Expired.as_str()
        && c.row.order_count > 1
}

/// Whether `after` is `before` in every column a rescore writes but when the external scorer was
/// asked (`external_as_of`, which nobody sees).
fn same_but_when_asked(before: &leads::LeadRow, after: &leads::LeadRow) -> bool {
    before.score == after.score
        && before.intention == after.intention
        && before.intention_tags == after.intention_tags
        && before.score_reasons == after.score_reasons
        && before.model_version == after.model_version
        && before.scored_by == after.scored_by
        && before.external_pending == after.external_pending
        && before.contact_validity == after.contact_validity
        && before.contact_validity_reason == after.contact_validity_reason
}

/// A changed lead's new columns (as the bulk update reads them) and its `LeadUpdated`, if its
/// score (or its intention part), tags or contact verdict changed.
fn apply(c: Changed) -> anyhow::Result<(serde_json::Value, Option<CloudEvent<LeadUpdatedV1>>)> {
    let Changed {
        mut row,
        aggregate: a,
        validity,
        assessment,
        scored_by,
        pending,
        external_as_of,
    } = c;
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
    // Only what a user or subscriber sees moves the version (If-Match sees every change and only
    // changes): a standing answer asked again, the same, is written without it.
    let bump = i32::from(!same_but_when_asked(&before, &row));
    row.external_as_of = external_as_of;
    row.version += bump;
    let update = json!({
        "id": row.id,
        "score": row.score,
        "intention": row.intention,
        "tags": row.intention_tags,
        "reasons": row.score_reasons,
        "modelVersion": row.model_version,
        "scoredBy": row.scored_by,
        "externalPending": row.external_pending,
        "externalAsOf": row.external_as_of,
        "bump": bump,
        "validity": row.contact_validity,
        "validityReason": row.contact_validity_reason,
    });
    let before_tags = tags_of(&before.intention_tags);
    let changes = announced_changes(
        Announced::of_row(&before, &before_tags),
        Announced::of_row(&row, &assessment.tags),
    );
    if changes.is_empty() {
        return Ok((update, None));
    }
    let lead = snapshot(&row, &a, &validity, &assessment, scored_by)?;
    let event = CloudEvent::new(
        SERVICE,
        TenantId::new(row.tenant_id),
        LeadUpdatedV1 {
            lead,
            changes,
            merged_lead_ids: Vec::new(),
            orders_changed: false,
        },
    );
    Ok((update, Some(event)))
}
