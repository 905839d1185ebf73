//! The retention purge. A shop the merchant disconnected keeps its history for auth-api's
//! `[shops] history_retention_days` (its `purge_after`); after that its history is deleted here:
//!
//! - its orders (raw and processed) and sync records;
//! - the buyer-leads that had orders only there, with their identities and status history,
//!   announced with `LeadRemoved` (reveal audits and the operation log stay: they hold no
//!   contact value);
//! - a buyer who also bought in the tenant's other shops keeps their lead, rebuilt from those
//!   orders through the same [`batch`](crate::batch) as any change (so `LeadUpdated` tells
//!   subscribers), and loses the identities only the deleted orders carried.
//!
//! One transaction per chunk of buyers, under the same identity locks as a batch, so a purge
//! interrupted at any point resumes where it stopped and never leaves a lead naming a deleted
//! order. The shop's record stays (REVOKED, `purged_at`): its id keeps resolving.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use leadgen_db::oplog::{self, Entry, Operator};
use leadgen_db::{DbPool, ScopedFutureExt as _};
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_domain::{LeadId, PlatformId, TenantId};
use leadgen_events::{CloudEvent, LeadRemovalReason, LeadRemovedV1};
use leadgen_outbox::Batch;
use tokio_util::sync::CancellationToken;

use crate::SERVICE;
use crate::batch::lock_indexes;
use crate::handler::run_batch;
use crate::processor::Processor;
use crate::repo::identities;
use crate::repo::purge::{self, DueShop};
use crate::repo::raw_orders;

pub struct Retention {
    pub pool: DbPool,
    pub processor: Arc<Processor>,
    /// How often it looks for shops whose retention period ended.
    pub interval: Duration,
    /// Buyers per transaction.
    pub chunk: i64,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A chunk of the shop's buyers: leads removed (with the aliases merged into them), leads
    /// rebuilt from their other shops' orders, orders deleted.
    Chunk {
        shop: i64,
        removed: Vec<i64>,
        rebuilt: Vec<i64>,
        orders: usize,
    },
    /// The rest of the shop's history deleted; its purge is done.
    Finished {
        shop: i64,
        raw_orders: usize,
        sync_tasks: usize,
    },
}

impl Retention {
    /// Purges until `shutdown`; errors are logged and retried on the next tick.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.purge_step().await {
                Ok(Some(step)) => {
                    tracing::info!(?step, "Purged a disconnected shop's history");
                    if shutdown.is_cancelled() {
                        return;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "Retention purge failed; retrying");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// One transaction of the purge of one due shop; `None` when no shop is due.
    pub async fn purge_step(&self) -> anyhow::Result<Option<Step>> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let processor = Arc::clone(&self.processor);
        let chunk = self.chunk;
        conn.transaction::<Option<Step>, anyhow::Error, _>(|conn| {
            async move {
                let Some(shop) = purge::claim_due(conn).await? else {
                    return Ok(None);
                };
                let leads = purge::leads_with_orders(conn, shop.id, chunk).await?;
                let step = if leads.is_empty() {
                    finish(conn, shop).await?
                } else {
                    purge_buyers(conn, &processor, shop, &leads).await?
                };
                Ok(Some(step))
            }
            .scope_boxed()
        })
        .await
    }
}

/// Deletes the shop's orders of `leads`, rebuilds the leads that keep orders elsewhere and
/// removes the others.
async fn purge_buyers(
    conn: &mut AsyncPgConnection,
    processor: &Processor,
    shop: DueShop,
    leads: &[i64],
) -> anyhow::Result<Step> {
    let keys = purge::identity_keys(conn, leads).await?;
    lock_indexes(conn, keys.iter()).await?;
    let (processed, raw): (Vec<i64>, Vec<i64>) = purge::unlink_orders(conn, shop.id, leads)
        .await?
        .into_iter()
        .unzip();
    identities::drop_stale(conn, leads).await?;

    let remaining = purge::remaining_raw_orders(conn, leads).await?;
    let tenant = TenantId::new(shop.tenant_id);
    let rows = raw_orders::find_many(conn, tenant, &remaining).await?;
    let rebuilt = run_batch(conn, processor, tenant, &rows).await?;

    let orphans = purge::orphans(conn, leads).await?;
    let mut events = Batch::default();
    let mut removed = Vec::new();
    for orphan in &orphans {
        events.push(&CloudEvent::new(
            SERVICE,
            tenant,
            LeadRemovedV1 {
                lead_id: LeadId::new(orphan.id),
                reason: LeadRemovalReason::ShopHistoryPurged,
                platform_id: PlatformId::new(shop.id),
                merged_lead_ids: orphan.merged.iter().copied().map(LeadId::new).collect(),
            },
        ))?;
        removed.push(orphan.id);
        removed.extend(&orphan.merged);
    }
    if !removed.is_empty() {
        purge::delete_leads(conn, tenant, &removed).await?;
    }
    purge::repoint_aliases(conn, &processed).await?;
    purge::delete_orders(conn, &processed, &raw).await?;
    events.enqueue(conn, SERVICE).await?;
    log(
        conn,
        shop,
        AuditAction::LeadRemove,
        AuditTarget::Lead,
        &removed,
    )
    .await?;
    metrics::counter!("leadgen_leads_removed_total").increment(removed.len() as u64);
    Ok(Step::Chunk {
        shop: shop.id,
        removed,
        rebuilt: rebuilt.updated_leads,
        orders: processed.len(),
    })
}

/// Deletes what no lead held (unreadable or pending orders, sync records) and ends the purge.
async fn finish(conn: &mut AsyncPgConnection, shop: DueShop) -> anyhow::Result<Step> {
    let rest = purge::finish(conn, shop.id).await?;
    log(
        conn,
        shop,
        AuditAction::PlatformHistoryPurge,
        AuditTarget::PlatformAuth,
        &[shop.id],
    )
    .await?;
    Ok(Step::Finished {
        shop: shop.id,
        raw_orders: rest.raw_orders,
        sync_tasks: rest.sync_tasks,
    })
}

async fn log(
    conn: &mut AsyncPgConnection,
    shop: DueShop,
    action: AuditAction,
    target_type: AuditTarget,
    ids: &[i64],
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let entry = Entry {
        tenant_id: TenantId::new(shop.tenant_id),
        service: SERVICE,
        operator: &Operator::System,
        action,
        target_type,
        target_ids: ids.iter().map(ToString::to_string).collect(),
        result: Ok(()),
    };
    oplog::record(conn, entry, &leadgen_telemetry::current_trace_id()).await?;
    Ok(())
}
