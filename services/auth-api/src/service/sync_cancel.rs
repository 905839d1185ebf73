//! Cancelling a running sync (`POST /sync-records/{syncId}/cancel`): the task ends CANCELLED at
//! once, which frees the shop for a new sync; sync-worker sees it before its next page and stops.
//! Pages already stored stay (nothing is rolled back or lost).

use diesel_async::AsyncConnection as _;
use leadgen_db::ScopedFutureExt as _;
use leadgen_db::oplog::{self, Entry};
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_domain::{SyncStatus, SyncTaskId};
use leadgen_http::AuthUser;

use crate::SERVICE;
use crate::error::AuthApiError;
use crate::repo::sync_tasks as repo;
use crate::service::operator;
use crate::service::syncs::Record;
use crate::startup::AppState;

/// Cancels the tenant's running task `sync_id`; the record as it now reads.
#[tracing::instrument(name = "auth.cancel_sync", skip_all, fields(tenant_id = user.tenant_id.get(), sync_id = sync_id.get()))]
pub async fn cancel(
    state: &AppState,
    user: &AuthUser,
    sync_id: SyncTaskId,
) -> Result<Record, AuthApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let tenant = user.tenant_id;
    let op = operator(user);
    let trace_id = leadgen_telemetry::current_trace_id();
    let note = format!("已由 {} 取消", user.name);
    let refusal_op = op.clone();
    let outcome = conn
        .transaction::<Record, AuthApiError, _>(|conn| {
            async move {
                let task = repo::find_for_update(conn, tenant, sync_id)
                    .await?
                    .ok_or(AuthApiError::SyncNotFound)?;
                if task.status != SyncStatus::Running {
                    return Err(AuthApiError::SyncFinished);
                }
                let cancelled = repo::cancel(conn, tenant, task.id, &note)
                    .await?
                    .ok_or(AuthApiError::SyncFinished)?;
                let entry = Entry {
                    tenant_id: tenant,
                    service: SERVICE,
                    operator: &op,
                    action: AuditAction::SyncCancel,
                    target_type: AuditTarget::SyncTask,
                    target_ids: oplog::sync_task_targets(cancelled.id, cancelled.platform_id),
                    result: Ok(()),
                };
                oplog::record(conn, entry, &trace_id).await?;
                Ok(Record::from(cancelled))
            }
            .scope_boxed()
        })
        .await;
    // An unknown or another tenant's sync, or one already over: refused, and logged.
    if let Err(e @ (AuthApiError::SyncNotFound | AuthApiError::SyncFinished)) = &outcome {
        let what = (AuditAction::SyncCancel, AuditTarget::SyncTask);
        super::record_refusal_on(&mut conn, tenant, &refusal_op, what, sync_id, e).await;
    }
    // Counted once the cancel is committed: not while the task's row is locked (the worker's
    // page writes wait on it), and a failed count does not undo the cancel.
    let mut record = [outcome?];
    Record::count_set_aside(&mut conn, tenant, &mut record).await?;
    let [record] = record;
    Ok(record)
}
