//! The `RawOrdersFetched` consumer: per message one transaction that records the message id,
//! processes every named order, enqueues a `LeadIdentified` per new lead and marks the raw rows
//! processed. Commit, then ack: a redelivered message finds its id in the ledger and does nothing.

use std::sync::Arc;

use diesel_async::AsyncConnection as _;
use leadgen_crypto::Sealer;
use leadgen_db::oplog::{self, Entry, Operator};
use leadgen_db::{DbPool, ScopedFutureExt as _};
use leadgen_events::{CloudEvent, RawOrdersFetchedV1};
use leadgen_messaging::{Handler, Incoming, Outcome};

use crate::SERVICE;
use crate::processing::{self, Processed};
use crate::repo::raw_orders;

pub struct RawOrdersHandler {
    pub pool: DbPool,
    pub sealer: Arc<Sealer>,
}

/// Counts of one message, for the log.
#[derive(Debug, Default)]
struct Summary {
    new_leads: usize,
    updated_leads: usize,
    not_leads: usize,
    unreadable: usize,
}

#[async_trait::async_trait]
impl Handler for RawOrdersHandler {
    async fn handle(&self, message: Incoming) -> Outcome {
        let event = match CloudEvent::<RawOrdersFetchedV1>::from_slice(&message.body) {
            Ok(event) => event,
            Err(e) => return Outcome::Reject(format!("not a RawOrdersFetched v1 event: {e}")),
        };
        match self.process(&event).await {
            Ok(Some(summary)) => {
                tracing::info!(
                    sync_task.id = event.data.sync_task_id,
                    leads.new = summary.new_leads,
                    leads.updated = summary.updated_leads,
                    orders.not_leads = summary.not_leads,
                    orders.unreadable = summary.unreadable,
                    "Processed raw orders"
                );
                Outcome::Ack
            }
            Ok(None) => {
                tracing::info!(
                    sync_task.id = event.data.sync_task_id,
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
        let sealer = Arc::clone(&self.sealer);
        let message_id = event.id.to_string();
        let tenant = event.tenantid;
        let data = event.data.clone();
        let trace_id = leadgen_telemetry::current_trace_id();
        conn.transaction::<Option<Summary>, anyhow::Error, _>(|conn| {
            async move {
                if !leadgen_outbox::mark_processed(conn, SERVICE, &message_id).await? {
                    return Ok(None);
                }
                let rows = raw_orders::find_many(conn, tenant, &data.raw_order_ids).await?;
                let mut summary = Summary::default();
                let (mut done, mut unreadable, mut lead_ids) = (Vec::new(), Vec::new(), Vec::new());
                for row in &rows {
                    let order = match processing::open_order(&sealer, row) {
                        Ok(order) => order,
                        Err(e) => {
                            tracing::warn!(raw_order.id = row.id, error = %format!("{e:#}"), "Raw order unreadable; marked MALFORMED");
                            unreadable.push(row.id);
                            continue;
                        }
                    };
                    match processing::process(conn, &sealer, row, &order).await? {
                        Processed::NewLead(lead) => {
                            lead_ids.push(lead.lead_id.to_string());
                            let event = CloudEvent::new(SERVICE, tenant, Some(format!("lead/{}", lead.lead_id)), lead);
                            leadgen_outbox::enqueue(conn, SERVICE, &event).await?;
                            summary.new_leads += 1;
                        }
                        Processed::UpdatedLead(_) => summary.updated_leads += 1,
                        Processed::NoLead => summary.not_leads += 1,
                    }
                    done.push(row.id);
                }
                raw_orders::set_status(conn, &done, "PROCESSED").await?;
                raw_orders::set_status(conn, &unreadable, "MALFORMED").await?;
                summary.unreadable = unreadable.len();
                if !lead_ids.is_empty() {
                    let entry = Entry {
                        tenant_id: tenant,
                        service: SERVICE,
                        operator: &Operator::System,
                        action: "LEAD_IDENTIFY",
                        target_type: "LEAD",
                        target_ids: lead_ids,
                        result: Ok(()),
                    };
                    oplog::record(conn, entry, &trace_id).await?;
                }
                Ok(Some(summary))
            }
            .scope_boxed()
        })
        .await
    }
}
