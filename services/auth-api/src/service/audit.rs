//! The operation log, readable (design 7): who did what to which ids, when, with which result.

use chrono::{DateTime, Utc};
use leadgen_http::paging::{Counted, Paging};
use serde::Serialize;

use crate::error::AuthApiError;
use crate::repo::operation_logs::{self, LogFilter};
use crate::startup::AppState;
use leadgen_domain::TenantId;

/// One entry as the audit page shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub log_id: i64,
    /// The service that wrote it (`auth-api`, `sync-worker`, `order-processor`, `lead-api`).
    pub service: String,
    /// `null` for the system (scheduler, workers). (A lead's status history says 0 for the
    /// system instead: `statusHistory[].operatorId`.)
    #[schema(required = true)]
    pub operator_id: Option<i64>,
    /// The name the operator's token carried; `用户 7` (the user's id) for a token without one;
    /// `null` for the system, and beside an id for a user known by id only (a consent the user
    /// started, completed by the platform's redirect).
    #[schema(required = true)]
    pub operator_name: Option<String>,
    #[schema(value_type = crate::openapi::AuditActionSchema)]
    pub action: String,
    #[schema(value_type = crate::openapi::AuditTargetSchema)]
    pub target_type: String,
    /// The ids of `targetType`'s records the action concerned.
    pub target_ids: Vec<i64>,
    /// The shop a sync task's entry (`SYNC_TASK`) or the leads identified from its orders
    /// (`LEAD_IDENTIFY`) belong to; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub platform_id: Option<i64>,
    #[schema(value_type = crate::openapi::OperationResultSchema)]
    pub result: String,
    #[schema(required = true)]
    pub error_message: Option<String>,
    #[schema(required = true)]
    pub trace_id: Option<String>,
    pub time: DateTime<Utc>,
    /// What the action was asked to do, where that is more than its targets; absent otherwise.
    /// `CONTACT_REVEAL`: `purpose`, `reason` (the salesperson's words, if given), `platformId`
    /// and `orderId` (the order whose number was asked for). `LEAD_STATUS_CHANGE`: `from`, `to`
    /// (`PENDING`, `PROCESSED`, `INVALID`; `from` `null` when refused before the lead was read)
    /// and `note` (`null` without one). `SYNC_RUN` (a sync ended): `status` (`COMPLETED`,
    /// `FAILED`, `CANCELLED`), `successCount`, `failureCount`, `newCount`, `updatedCount`,
    /// `unchangedCount`, and `warning` and `servedFrom` when the sync record has them.
    /// A reveal's `reason` and a status change's `note` are removed with the buyer's data by a
    /// disconnected shop's retention purge, which adds `textPurged: true`.
    /// `LEAD_MERGE`: `into`, each merged lead's id (a key) and the lead it merged into.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub detail: Option<serde_json::Value>,
}

#[tracing::instrument(name = "auth.list_operation_logs", skip_all, fields(tenant_id = tenant.get()))]
pub async fn list(
    state: &AppState,
    tenant: TenantId,
    filter: LogFilter,
    paging: Paging,
) -> Result<(Vec<LogEntry>, Counted), AuthApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let (rows, total) = operation_logs::list(&mut conn, tenant, &filter, paging).await?;
    let entries = rows
        .into_iter()
        .map(|r| {
            let (target_ids, platform_id) = targets(r.id, &r.target_ids);
            LogEntry {
                log_id: r.id,
                service: r.service,
                operator_id: r.operator_id,
                operator_name: r.operator_name,
                action: r.action,
                target_type: r.target_type,
                target_ids,
                platform_id,
                result: r.result,
                error_message: r.error_message,
                trace_id: r.trace_id,
                time: r.occurred_at,
                detail: r.detail,
            }
        })
        .collect();
    Ok((entries, total))
}

/// An entry's stored target ids as the API shows them: numbers, and the shop named beside them
/// (`leadgen_db::oplog::SHOP_BESIDE`) apart. Every writer stores numeric ids; one that is not is
/// left out of the answer (it stays in the table) and reported.
fn targets(log_id: i64, stored: &[String]) -> (Vec<i64>, Option<i64>) {
    let mut ids = Vec::with_capacity(stored.len());
    let mut shop = None;
    for id in stored {
        let (beside, digits) = match id.strip_prefix(leadgen_db::oplog::SHOP_BESIDE) {
            Some(rest) => (true, rest),
            None => (false, id.as_str()),
        };
        match (digits.parse::<i64>(), beside) {
            (Ok(n), true) => shop = Some(n),
            (Ok(n), false) => ids.push(n),
            (Err(_), _) => {
                tracing::warn!(
                    log.id = log_id,
                    "An operation log entry names a target id that is not a number"
                );
            }
        }
    }
    (ids, shop)
}

#[cfg(test)]
mod tests {
    #[test]
    fn target_ids_are_numbers_and_a_sync_tasks_shop_stands_apart() {
        let stored = ["301".to_owned(), "platform:201".to_owned()];
        assert_eq!(super::targets(1, &stored), (vec![301], Some(201)));
        let odd = ["7".to_owned(), "x".to_owned()];
        assert_eq!(super::targets(1, &odd), (vec![7], None));
    }
}
