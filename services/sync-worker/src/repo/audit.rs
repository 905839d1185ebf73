//! The operation log's entries for sync tasks (design 7): what sync-worker writes when it
//! schedules a task, and when a task ends or resumes.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_sync_task as task;
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_domain::{PlatformId, SyncTaskId, TenantId};

/// What a `SYNC_RUN` entry says of the task as just finished.
#[derive(Queryable, Selectable)]
#[diesel(table_name = task)]
struct Ended {
    status: String,
    #[diesel(column_name = success_count)]
    success: i32,
    #[diesel(column_name = failure_count)]
    failure: i32,
    #[diesel(column_name = new_count)]
    new: i32,
    #[diesel(column_name = updated_count)]
    updated: i32,
    #[diesel(column_name = unchanged_count)]
    unchanged: i32,
    requested_by: Option<i64>,
    requested_by_name: Option<String>,
    warning: Option<String>,
    served_from: Option<chrono::DateTime<chrono::Utc>>,
}

/// Writes a task's transition to the operation log (`SYNC_REQUEST` for a scheduled task,
/// `SYNC_RUN`, `SYNC_RESUME`). A `SYNC_RUN`
/// (the task ended) carries its outcome, counts and warning as `detail` (design 7: 成功/失败数量), read
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
    let ended: Ended = task::table
        .find(task_id.get())
        .select(Ended::as_select())
        .first(conn)
        .await?;
    let Ended {
        status,
        success,
        failure,
        new,
        updated,
        unchanged,
        requested_by,
        requested_by_name,
        warning,
        served_from,
    } = ended;
    let mut detail = serde_json::json!({
        "status": status,
        "successCount": success,
        "failureCount": failure,
        "newCount": new,
        "updatedCount": updated,
        "unchangedCount": unchanged,
    });
    // What the merchant was warned of (a window short of the platform's total, unreadable
    // orders, history the platform no longer serves, changes a catch-up left behind): a
    // COMPLETED run with a warning is not a clean one.
    if let Some(warning) = warning {
        detail["warning"] = serde_json::Value::from(warning);
    }
    if let Some(from) = served_from {
        detail["servedFrom"] = serde_json::to_value(from).unwrap_or_default();
    }
    let operator = match requested_by {
        Some(id) => leadgen_db::oplog::Operator::User {
            id: leadgen_domain::UserId::new(id),
            name: requested_by_name.unwrap_or_default(),
        },
        None => system,
    };
    leadgen_db::oplog::record_detailed(conn, entry(&operator), &detail, trace_id).await
}
