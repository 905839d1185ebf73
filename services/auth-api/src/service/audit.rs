//! The operation log, readable (design 7): who did what to which ids, when, with which result.

use chrono::{DateTime, Utc};
use leadgen_http::paging::Paging;
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
    /// Absent for the system (scheduler, workers).
    pub operator_id: Option<i64>,
    pub operator_name: Option<String>,
    #[schema(value_type = crate::openapi::AuditActionSchema)]
    pub action: String,
    #[schema(value_type = crate::openapi::AuditTargetSchema)]
    pub target_type: String,
    pub target_ids: Vec<String>,
    #[schema(value_type = crate::openapi::OperationResultSchema)]
    pub result: String,
    pub error_message: Option<String>,
    pub trace_id: Option<String>,
    pub time: DateTime<Utc>,
    /// What the action was asked to do, where that is more than its targets; absent otherwise.
    /// `CONTACT_REVEAL`: `purpose`, `reason` (the salesperson's words, if given), `platformId`
    /// and `orderId` (the order whose number was asked for). `LEAD_STATUS_CHANGE`: `from`, `to`
    /// (`PENDING`, `PROCESSED`, `INVALID`; `from` absent when refused before the lead was read)
    /// and `note`. `SYNC_RUN` (a sync ended): `status` (`COMPLETED`, `FAILED`, `CANCELLED`),
    /// `successCount`, `failureCount`, `newCount`, `updatedCount`, `unchangedCount`.
    /// `LEAD_MERGE`: `into`, each merged lead's id (a key) and the lead it merged into.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

#[tracing::instrument(name = "auth.list_operation_logs", skip_all, fields(tenant_id = tenant.get()))]
pub async fn list(
    state: &AppState,
    tenant: TenantId,
    filter: LogFilter,
    paging: Paging,
) -> Result<(Vec<LogEntry>, i64), AuthApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let (rows, total) = operation_logs::list(&mut conn, tenant, &filter, paging).await?;
    let entries = rows
        .into_iter()
        .map(|r| LogEntry {
            log_id: r.id,
            service: r.service,
            operator_id: r.operator_id,
            operator_name: r.operator_name,
            action: r.action,
            target_type: r.target_type,
            target_ids: r.target_ids,
            result: r.result,
            error_message: r.error_message,
            trace_id: r.trace_id,
            time: r.occurred_at,
            detail: r.detail,
        })
        .collect();
    Ok((entries, total))
}
