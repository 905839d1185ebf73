//! The operation log's entries for sync tasks (design 7): what sync-worker writes when it
//! schedules a task, and when a task ends or resumes.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_sync_task as task;
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_domain::{PlatformId, SyncTaskId, TenantId};

/// Writes a task's transition to the operation log (`SYNC_REQUEST` for a scheduled task,
/// `SYNC_RUN`, `SYNC_RESUME`). A `SYNC_RUN`
/// (the task ended) carries its outcome and counts as `detail` (design 7: 成功/失败数量), read
/// from the task as just finished, and is the requester's when a user asked for the sync (a
/// salesperson filtering the log by operator finds their sync's result), the system's
/// otherwise; a `SYNC_REQUEST` and a `SYNC_RESUME` are the system's.
pub async fn log(
    conn: &mut AsyncPgConnection,
    task: (TenantId, SyncTaskId, PlatformId),
    action: AuditAction,
    result: Result<(), String>,
    trace_id: &str,
) -> QueryResult<()> {
    let (tenant, task_id, platform_id) = task;
    let entry = |operator| leadgen_db::oplog::Entry {
        tenant_id: tenant,
        service: crate::SERVICE,
        operator,
        action,
        target_type: AuditTarget::SyncTask,
        target_ids: leadgen_db::oplog::sync_task_targets(task_id, platform_id),
        result: result.clone(),
    };
    let system = leadgen_db::oplog::Operator::System;
    if action != AuditAction::SyncRun {
        return leadgen_db::oplog::record(conn, entry(&system), trace_id).await;
    }
    let (status, success, failure, new, updated, unchanged, requested_by, requested_by_name): (
        String,
        i32,
        i32,
        i32,
        i32,
        i32,
        Option<i64>,
        Option<String>,
    ) = task::table
        .find(task_id.get())
        .select((
            task::status,
            task::success_count,
            task::failure_count,
            task::new_count,
            task::updated_count,
            task::unchanged_count,
            task::requested_by,
            task::requested_by_name,
        ))
        .first(conn)
        .await?;
    let detail = serde_json::json!({
        "status": status,
        "successCount": success,
        "failureCount": failure,
        "newCount": new,
        "updatedCount": updated,
        "unchangedCount": unchanged,
    });
    let operator = match requested_by {
        Some(id) => leadgen_db::oplog::Operator::User {
            id: leadgen_domain::UserId::new(id),
            name: requested_by_name.unwrap_or_default(),
        },
        None => system,
    };
    leadgen_db::oplog::record_detailed(conn, entry(&operator), &detail, trace_id).await
}
