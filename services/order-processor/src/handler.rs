//! The `RawOrdersFetched` consumer: per message one transaction that records the message id,
//! processes the named orders as one [`batch`](crate::batch), enqueues the lead events and writes
//! the operation log. Commit, then ack: a redelivered message finds its id in the ledger and
//! does nothing.

use std::sync::Arc;

use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use leadgen_db::oplog::{self, Entry, Operator};
use leadgen_db::{DbPool, ScopedFutureExt as _};
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_domain::{RawOrderStatus, TenantId};
use leadgen_events::{CloudEvent, RawOrdersFetchedV1};
use leadgen_messaging::{Handler, Incoming, Outcome};
use leadgen_outbox::Batch;

use crate::SERVICE;
use crate::batch::{self, Summary};
use crate::processor::Processor;
use crate::repo::raw_orders::{self, RawRow};
use crate::repo::shop_stats;

pub struct RawOrdersHandler {
    pub pool: DbPool,
    pub processor: Arc<Processor>,
}

#[async_trait::async_trait]
impl Handler for RawOrdersHandler {
    async fn wait_until_ready(&self) {
        leadgen_db::wait_until_reachable(&self.pool, leadgen_db::OUTAGE_WAIT).await;
    }

    async fn handle(&self, message: Incoming) -> Outcome {
        let event = match CloudEvent::<RawOrdersFetchedV1>::from_slice(&message.body) {
            Ok(event) => event,
            Err(e) => return Outcome::Reject(format!("not a RawOrdersFetched v1 event: {e}")),
        };
        match self.process(&event).await {
            Ok(Some(summary)) => {
                record(&summary);
                tracing::info!(
                    sync_task.id = event.data.sync_task_id.get(),
                    orders = summary.orders,
                    leads.new = summary.new_leads.len(),
                    leads.updated = summary.updated_leads.len(),
                    leads.merged = summary.merged_leads.len(),
                    orders.unreadable = summary.unreadable,
                    "Processed raw orders"
                );
                Outcome::Ack
            }
            Ok(None) => {
                tracing::info!(
                    sync_task.id = event.data.sync_task_id.get(),
                    "Duplicate RawOrdersFetched; already handled"
                );
                Outcome::Ack
            }
            Err(e) => Outcome::Retry(format!("{e:#}")),
        }
    }
}

impl RawOrdersHandler {
    /// `None` when the message was already handled.
    async fn process(
        &self,
        event: &CloudEvent<RawOrdersFetchedV1>,
    ) -> anyhow::Result<Option<Summary>> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let processor = Arc::clone(&self.processor);
        let message_id = event.id.to_string();
        let tenant = event.tenant();
        let ids = event.data.raw_order_ids.clone();
        let sync_task = event.data.sync_task_id.get();
        conn.transaction::<Option<Summary>, anyhow::Error, _>(|conn| {
            async move {
                if !leadgen_outbox::mark_processed(conn, SERVICE, &message_id).await? {
                    return Ok(None);
                }
                let mut rows = raw_orders::find_many(conn, tenant, &ids).await?;
                let distinct: std::collections::HashSet<&i64> = ids.iter().collect();
                let missing = distinct.len().saturating_sub(rows.len());
                if missing > 0 {
                    // Deleted since (a disconnected shop's history purged), or not the
                    // event's tenant's: a producer's mistake, never processed under it.
                    tracing::warn!(
                        tenant.id = tenant.get(),
                        sync_task.id = sync_task,
                        orders.missing = missing,
                        "Raw orders named by the event are not the tenant's stored orders; skipped"
                    );
                    metrics::counter!("leadgen_orders_fetched_unknown_total")
                        .increment(missing as u64);
                }
                // Rows processed since they were announced (the pending sweep, when this
                // message came late) are not processed again: their buyers' leads would be
                // rebuilt, and their shop marked changed for a rescore, for nothing.
                let named = rows.len();
                rows.retain(|r| r.process_status == RawOrderStatus::Pending.as_str());
                if rows.len() < named {
                    tracing::info!(
                        orders.skipped = named - rows.len(),
                        "Raw orders already processed; not processed again"
                    );
                }
                run_batch(conn, &processor, tenant, &rows).await.map(Some)
            }
            .scope_boxed()
        })
        .await
    }
}

/// One batch on `conn`'s transaction: process, enqueue the events, log new leads, mark the
/// changed shops for a rescore.
#[tracing::instrument(name = "orders.process_batch", skip_all, fields(tenant_id = tenant.get(), orders = rows.len()))]
pub async fn run_batch(
    conn: &mut AsyncPgConnection,
    processor: &Processor,
    tenant: TenantId,
    rows: &[RawRow],
) -> anyhow::Result<Summary> {
    let mut events = Batch::default();
    let ctx = processor.context();
    let started = std::time::Instant::now();
    let summary = batch::process(conn, &ctx, tenant, rows, &mut events).await?;
    metrics::histogram!("leadgen_lead_batch_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    events.enqueue(conn, SERVICE).await?;
    let trace_id = leadgen_telemetry::current_trace_id();
    let entry = |action, target_ids| Entry {
        tenant_id: tenant,
        service: SERVICE,
        operator: &Operator::System,
        action,
        target_type: AuditTarget::Lead,
        target_ids,
        result: Ok(()),
    };
    // One entry per shop, naming it beside its new leads as a sync names its shop: the audit
    // API shows it as `platformId` and finds the entry by the shop's id.
    for (shop, leads) in &summary.new_leads_by_shop {
        let targets = oplog::targets_beside_shop(leads, shop);
        oplog::record(conn, entry(AuditAction::LeadIdentify, targets), &trace_id).await?;
    }
    if !summary.merged_leads.is_empty() {
        // Which lead each merged one now answers as: `{"into": {"<merged>": <lead>}}`.
        let into: serde_json::Map<String, serde_json::Value> = summary
            .merged_into
            .iter()
            .map(|(merged, lead)| (merged.to_string(), (*lead).into()))
            .collect();
        let detail = serde_json::json!({ "into": into });
        let targets = summary
            .merged_leads
            .iter()
            .map(ToString::to_string)
            .collect();
        let merged = entry(AuditAction::LeadMerge, targets);
        oplog::record_detailed(conn, merged, &detail, &trace_id).await?;
    }
    // Last in the batch: every batch of a shop updates the shop's one row, and holds its lock
    // until its transaction commits.
    shop_stats::mark_dirty(conn, tenant, &summary.dirty_shops).await?;
    Ok(summary)
}

/// Counts what a batch did (`docs/metrics.md`), once its transaction committed: a batch
/// rolled back and retried counts once. (A retention purge's rebuild counts inside its step's
/// transaction: a failed step counts again, beside `leadgen_retention_purge_failures_total`.)
pub fn record(summary: &Summary) {
    let counts = [
        ("leadgen_leads_created_total", summary.new_leads.len()),
        ("leadgen_leads_updated_total", summary.updated_leads.len()),
        ("leadgen_leads_merged_total", summary.merged_leads.len()),
    ];
    for (name, n) in counts {
        metrics::counter!(name).increment(n as u64);
    }
    metrics::counter!("leadgen_orders_processed_total", "outcome" => "processed")
        .increment(summary.orders as u64);
    metrics::counter!("leadgen_orders_processed_total", "outcome" => "malformed")
        .increment(summary.unreadable as u64);
}
