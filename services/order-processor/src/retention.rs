//! The retention purge. A shop the merchant disconnected keeps its history for auth-api's
//! `[shops] history_retention_days` (its `purge_after`), one whose grant the platform ended
//! (EXPIRED, INVALID) for `[processing] lapsed_shop_retention_days` from when this purge first
//! sees it so, unless authorized again first; after that its history is deleted here:
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
//! order. The shop's record stays (its status, `purged_at`): its id keeps resolving.
//!
//! A step that fails is rolled back, counted (`leadgen_retention_purge_failures_total`) and its
//! shop set to wait ([`FIRST_BACKOFF`], doubled after each failure in a row up to
//! [`MAX_BACKOFF`]; `purge_failures` and `purge_retry_at`, kept on the shop's record so every
//! replica and restart sees them): the claim, which takes the shop due the longest first, passes
//! over it to the due shops behind it, which are purged meanwhile. Each pass samples the purges
//! due, failing and how late the oldest is (`leadgen_retention_purges_*`), which the alerts read.

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
use tracing::Instrument as _;

use crate::SERVICE;
use crate::batch::lock_indexes;
use crate::handler::run_batch;
use crate::processor::Processor;
use crate::repo::identities;
use crate::repo::purge::{self, DueShop};
use crate::repo::raw_orders;

/// How long a shop whose purge step failed waits before it is claimed again, doubled after each
/// further failure in a row up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(600);
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3_600);

/// How often the purge samples the purges due while it works.
const SAMPLE_EVERY: Duration = Duration::from_secs(60);

pub struct Retention {
    pub pool: DbPool,
    pub processor: Arc<Processor>,
    /// How often it looks for shops whose retention period ended.
    pub interval: Duration,
    /// Buyers per transaction.
    pub chunk: i64,
    /// How long a shop whose grant the platform ended keeps its history
    /// ([`purge::schedule_lapsed`]).
    pub lapsed_days: u32,
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

/// A purge step that failed on a claimed shop, which now waits (the context of the step's
/// error): the shops behind it may be purged at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "purging shop {shop} failed ({failures} in a row); tried again at {retry_at} at the earliest"
)]
pub struct Deferred {
    pub shop: i64,
    pub failures: i32,
    pub retry_at: chrono::DateTime<chrono::Utc>,
}

impl Retention {
    /// Purges until `shutdown`; errors are logged and retried on the next tick, except that a
    /// shop whose step failed waits while the due shops behind it are purged at once.
    pub async fn run(self, shutdown: CancellationToken) {
        // Created at 0, so the first failure after a start is an increase.
        metrics::counter!("leadgen_retention_purge_failures_total").increment(0);
        let mut sampled: Option<tokio::time::Instant> = None;
        loop {
            if sampled.is_none_or(|at| at.elapsed() >= SAMPLE_EVERY) {
                self.schedule_lapsed().await;
                self.sample().await;
                sampled = Some(tokio::time::Instant::now());
            }
            let next = match self.purge_step().await {
                Ok(Some(step)) => {
                    tracing::info!(?step, "Purged a disconnected shop's history");
                    true
                }
                Ok(None) => false,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "Retention purge failed; retrying");
                    e.downcast_ref::<Deferred>().is_some()
                }
            };
            if next {
                if shutdown.is_cancelled() {
                    return;
                }
                continue;
            }
            // What the pass left (a shop waiting after a failure, say), until the next one.
            self.sample().await;
            sampled = Some(tokio::time::Instant::now());
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Sets when the history of shops whose grant the platform ended is deleted, where not set
    /// yet ([`purge::schedule_lapsed`]); a failure is logged (the next pass tries again).
    pub async fn schedule_lapsed(&self) {
        let scheduled = match leadgen_db::conn(&self.pool).await {
            Ok(mut conn) => purge::schedule_lapsed(&mut conn, self.lapsed_days)
                .await
                .map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        match scheduled {
            Ok(0) => {}
            Ok(shops) => tracing::info!(
                shops,
                days = self.lapsed_days,
                "Shops whose grant the platform ended keep their history until their retention ends"
            ),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "Setting when lapsed shops' history is deleted failed")
            }
        }
    }

    /// Sets `leadgen_retention_purges_due`, `leadgen_retention_purges_failing` and
    /// `leadgen_retention_purge_overdue_seconds`; a failure is logged.
    pub async fn sample(&self) {
        let due = match leadgen_db::conn(&self.pool).await {
            Ok(mut conn) => purge::due(&mut conn).await.map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        match due {
            Ok(due) => {
                let overdue = due.oldest.map_or(0.0, |t| {
                    (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
                });
                metrics::gauge!("leadgen_retention_purges_due").set(due.shops as f64);
                metrics::gauge!("leadgen_retention_purges_failing").set(due.failing as f64);
                metrics::gauge!("leadgen_retention_purge_overdue_seconds").set(overdue);
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "Sampling the due purges failed");
            }
        }
    }

    /// One transaction of the purge of one due shop; `None` when no shop is due. When it fails
    /// on a shop, the shop waits before it is claimed again (the error's context is then
    /// [`Deferred`]). A trace of its own once a shop is claimed (the loop's span lives as long
    /// as the process; an idle tick is no trace).
    pub async fn purge_step(&self) -> anyhow::Result<Option<Step>> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let processor = Arc::clone(&self.processor);
        let chunk = self.chunk;
        let mut claimed: Option<DueShop> = None;
        let claimed_in = &mut claimed;
        let stepped = conn
            .transaction::<Option<Step>, anyhow::Error, _>(|conn| {
                async move {
                    let Some(shop) = purge::claim_due(conn).await? else {
                        return Ok(None);
                    };
                    *claimed_in = Some(shop);
                    let span = tracing::info_span!(
                        parent: None,
                        "shops.purge",
                        tenant_id = shop.tenant_id,
                        platform_id = shop.id
                    );
                    async {
                        let leads = purge::leads_with_orders(conn, shop.id, chunk).await?;
                        let step = if leads.is_empty() {
                            finish(conn, shop).await?
                        } else {
                            purge_buyers(conn, &processor, shop, &leads).await?
                        };
                        Ok(Some(step))
                    }
                    .instrument(span)
                    .await
                }
                .scope_boxed()
            })
            .await;
        match (stepped, claimed) {
            (Err(e), Some(shop)) => Err(defer(&mut conn, shop, e).await),
            (stepped, _) => stepped,
        }
    }
}

/// Counts a failed step of `shop` and sets the shop to wait; answers its error, with the wait as
/// its context.
async fn defer(conn: &mut AsyncPgConnection, shop: DueShop, e: anyhow::Error) -> anyhow::Error {
    metrics::counter!("leadgen_retention_purge_failures_total").increment(1);
    match purge::defer(conn, shop.id, FIRST_BACKOFF, MAX_BACKOFF).await {
        Ok(Some(waits)) => e.context(Deferred {
            shop: shop.id,
            failures: waits.failures,
            retry_at: waits.retry_at,
        }),
        Ok(None) => e.context(format!("purging shop {} (no longer due)", shop.id)),
        Err(deferring) => {
            tracing::warn!(platform.id = shop.id, error = %deferring, "Deferring a failed purge failed; it is claimed again on the next pass");
            e.context(format!("purging shop {}", shop.id))
        }
    }
}

/// Each re-pointed alias's contact: its survivor's, sealed again for the alias's own row (a
/// sealed value opens only in the row it was sealed for, and `leadctl data-key reseal` opens
/// every row's). A survivor's contact that does not open gives the alias an empty one: the
/// alias is never read for itself, and must not keep the deleted order's.
fn alias_contacts(
    processor: &Processor,
    repointed: &[purge::Repointed],
) -> anyhow::Result<Vec<(i64, String)>> {
    use leadgen_db::sealed::lead_contact;
    repointed
        .iter()
        .map(|r| {
            let plain = processor
                .sealer
                .open(&lead_contact(LeadId::new(r.survivor)), &r.survivor_contact)
                .unwrap_or_else(|_| {
                    tracing::warn!(
                        lead.id = r.survivor,
                        "A surviving lead's contact does not open; its alias gets none"
                    );
                    String::new()
                });
            let sealed = processor
                .sealer
                .seal(&lead_contact(LeadId::new(r.alias)), &plain)?;
            Ok((r.alias, sealed))
        })
        .collect()
}

/// Deletes the shop's orders of `leads`, rebuilds the leads that keep orders elsewhere and
/// removes the others.
async fn purge_buyers(
    conn: &mut AsyncPgConnection,
    processor: &Processor,
    shop: DueShop,
    leads: &[i64],
) -> anyhow::Result<Step> {
    let tenant = TenantId::new(shop.tenant_id);
    // Locks in a batch's order: the raw rows the buyers keep elsewhere (the rebuild's), then
    // their identities. The other way round, a batch holding one of those rows and waiting for
    // an identity this purge holds would deadlock with it.
    let elsewhere = purge::remaining_raw_orders(conn, leads).await?;
    let mut rows = raw_orders::find_many(conn, tenant, &elsewhere).await?;
    rows.retain(|r| r.platform_id != shop.id);
    let keys = purge::identity_keys(conn, leads).await?;
    lock_indexes(conn, keys.iter()).await?;
    let (processed, raw): (Vec<i64>, Vec<i64>) = purge::unlink_orders(conn, shop.id, leads)
        .await?
        .into_iter()
        .unzip();
    identities::drop_stale(conn, tenant, leads).await?;

    // An order a batch linked to these buyers before the identity locks were taken (that batch
    // has committed since): its row is taken now.
    let remaining = purge::remaining_raw_orders(conn, leads).await?;
    let locked: std::collections::HashSet<i64> = rows.iter().map(|r| r.id).collect();
    let later: Vec<i64> = remaining
        .iter()
        .copied()
        .filter(|id| !locked.contains(id))
        .collect();
    rows.extend(raw_orders::find_many(conn, tenant, &later).await?);
    let remaining: std::collections::HashSet<i64> = remaining.into_iter().collect();
    rows.retain(|r| remaining.contains(&r.id));
    rows.sort_by_key(|r| r.id);
    let rebuilt = run_batch(conn, processor, tenant, &rows).await?;
    crate::handler::record(&rebuilt);

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
                version: Some(orphan.version.saturating_add(1)),
            },
        ))?;
        removed.push(orphan.id);
        removed.extend(&orphan.merged);
    }
    if !removed.is_empty() {
        purge::delete_leads(conn, tenant, &removed).await?;
    }
    let repointed = purge::repoint_aliases(conn, &processed, leads).await?;
    let contacts = alias_contacts(processor, &repointed)?;
    purge::set_alias_contacts(conn, &contacts).await?;
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
