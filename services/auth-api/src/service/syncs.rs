//! Manual sync requests and sync records (design 2.3, 2.4).

use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncConnection as _;
use leadgen_db::ScopedFutureExt as _;
use leadgen_db::oplog::{self, Entry, Operator};
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_domain::sync::{self, Listing, MAX_WINDOW_DAYS};
use leadgen_domain::{
    NotCallable, PlatformId, PlatformType, SyncStatus, SyncTaskId, SyncTrigger, TenantId, UserId,
};
use leadgen_events::{CloudEvent, SyncRequestedV1};
use leadgen_http::paging::{Counted, Paging, SortOrder};
use leadgen_http::{AuthUser, FieldError};
use serde::{Deserialize, Serialize};

use crate::SERVICE;
use crate::error::AuthApiError;
use crate::repo::platforms as platforms_repo;
use crate::repo::sync_tasks::{self as repo, NewTask, RecordFilter};
use crate::service::operator;
use crate::startup::AppState;

/// The optional body of `POST …/sync`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncBody {
    /// ISO 8601 with an offset (as the list filters take it; empty or blank is omitted). Given:
    /// the orders **created** in the period, each as it is now (PDD: **confirmed** in it, the
    /// only time its listing selects by; a group order is confirmed when its group forms). Omitted: every order created or
    /// changed since the shop's last sync by modification time (10 minutes overlap; at most 90
    /// days); with `endTime` omitted too, a shop whose history was never fetched (its backfill
    /// cancelled or failed) gets that backfill (`trigger: BACKFILL`).
    #[schema(
        pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub start_time: Option<String>,
    /// ISO 8601 with an offset (empty or blank is omitted); defaults to now (a later time is
    /// now). Inclusive to the end of what it names: `…T23:59+08:00` takes in 23:59:59.
    #[schema(
        pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub end_time: Option<String>,
}

/// The answer (design 2.3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub sync_task_id: i64,
    /// Always [`ACCEPTED`].
    #[schema(schema_with = crate::openapi::accepted_status)]
    pub status: &'static str,
}

/// `Accepted.status`: the task is queued.
pub const ACCEPTED: &str = "ACCEPTED";

/// A body's time as `read` takes it (`None`: unreadable, reported in `errors`).
fn parse_time(
    field: &str,
    value: Option<&str>,
    read: fn(&str) -> Option<DateTime<Utc>>,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    // A cleared date picker sends "": omitted, as an empty query parameter is.
    let value = value.filter(|v| !v.trim().is_empty())?;
    match read(value) {
        Some(t) => Some(t),
        None => {
            errors.push(FieldError {
                field: field.into(),
                message: format!("{field} 必须是带时区的 ISO 8601 时间，例如 2023-10-01T00:00:00Z"),
            });
            None
        }
    }
}

/// An end time as the last whole second it takes in: a window's ends are whole seconds, both
/// inclusive, so `…T23:59+08:00` (a date picker without seconds) ends at 23:59:59, not at the
/// first second of its minute.
fn last_second(value: &str) -> Option<DateTime<Utc>> {
    let (end, unit) = leadgen_http::query::parse_end(value)?;
    Some(end + (unit - Duration::seconds(1)).max(Duration::zero()))
}

/// The window a request asks for, checked at `now`; `None` ends are resolved from the
/// platform's last sync.
#[derive(Debug, Clone, Copy)]
pub struct RequestedWindow {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Checks the body's times at `now`, reporting every invalid field (422, design 5): malformed,
/// an end not after the start, a start not before `now`, or a window longer than
/// [`MAX_WINDOW_DAYS`] (the end defaults to `now`). What depends on the shop (a start resumed
/// from its last sync that falls after the given end) is checked by [`request`] (40004).
pub fn parse_window(body: &SyncBody, now: DateTime<Utc>) -> Result<RequestedWindow, AuthApiError> {
    let mut errors = Vec::new();
    let start = parse_time(
        "startTime",
        body.start_time.as_deref(),
        leadgen_http::query::parse_time,
        &mut errors,
    );
    let end = parse_time(
        "endTime",
        body.end_time.as_deref(),
        last_second,
        &mut errors,
    );
    let mut refuse = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        })
    };
    if let Some(s) = start {
        let until = end.unwrap_or(now).min(now);
        if end.is_some_and(|e| e <= s) {
            refuse("endTime", "结束时间必须晚于开始时间".into());
        } else if s >= now {
            refuse("startTime", "开始时间必须早于当前时间".into());
        } else if until - s > Duration::days(MAX_WINDOW_DAYS) {
            // The start to move, unless the end given lies before now.
            let field = if end.is_some_and(|e| e < now) {
                "endTime"
            } else {
                "startTime"
            };
            refuse(field, format!("同步时间范围不能超过 {MAX_WINDOW_DAYS} 天"));
        }
    }
    if errors.is_empty() {
        Ok(RequestedWindow { start, end, now })
    } else {
        Err(AuthApiError::Invalid(errors))
    }
}

/// A RUNNING task and its `SyncRequested`, on the caller's transaction; `None` when a sync of
/// the shop is already running (the one-running-task index).
async fn start_task(
    conn: &mut leadgen_db::PgConn,
    task: &NewTask<'_>,
    platform_type: PlatformType,
    trigger: SyncTrigger,
) -> Result<Option<SyncTaskId>, AuthApiError> {
    let Some(task_id) = repo::insert(conn, task.clone()).await? else {
        return Ok(None);
    };
    let event = CloudEvent::new(
        SERVICE,
        task.tenant_id,
        SyncRequestedV1 {
            sync_task_id: task_id,
            platform_id: task.platform_id,
            platform_type,
            trigger,
            window_start: task.window_start,
            window_end: task.window_end,
            requested_by: task.requested_by.map(UserId::new),
        },
    );
    leadgen_outbox::enqueue(conn, SERVICE, &event).await?;
    Ok(Some(task_id))
}

/// Enqueues the BACKFILL of a shop just connected: `days` of history by creation time, on the
/// caller's transaction. `None` when a sync of the shop is already running.
#[tracing::instrument(name = "auth.enqueue_backfill", skip_all, fields(tenant_id = tenant.get(), platform_id = platform_id.get()))]
pub async fn enqueue_backfill(
    conn: &mut leadgen_db::PgConn,
    tenant: TenantId,
    platform_id: PlatformId,
    platform_type: PlatformType,
    days: i64,
) -> Result<Option<SyncTaskId>, AuthApiError> {
    let task = backfill_task(tenant, platform_id, platform_type, days, Utc::now());
    let started = start_task(conn, &task, platform_type, SyncTrigger::Backfill).await?;
    // Its trigger in the operation log (design 7), the system's: no one asked for it.
    if let Some(task_id) = started {
        let trace_id = leadgen_telemetry::current_trace_id();
        record_request(
            conn,
            tenant,
            &Operator::System,
            task_id,
            platform_id,
            &trace_id,
        )
        .await?;
    }
    Ok(started)
}

/// A BACKFILL task: the `days` before `end`, by creation time, asked by no one.
fn backfill_task(
    tenant: TenantId,
    platform_id: PlatformId,
    platform_type: PlatformType,
    days: i64,
    end: DateTime<Utc>,
) -> NewTask<'static> {
    NewTask {
        tenant_id: tenant,
        platform_id,
        platform_type: platform_type.as_str(),
        trigger_type: SyncTrigger::Backfill.as_str(),
        status: SyncStatus::Running.as_str(),
        window_start: end - Duration::days(days),
        window_end: end,
        listing: Listing::Created.as_str(),
        requested_by: None,
        requested_by_name: None,
    }
}

/// The accepted request in the operation log (design 7).
async fn record_request(
    conn: &mut leadgen_db::PgConn,
    tenant: TenantId,
    op: &Operator,
    task_id: SyncTaskId,
    platform_id: PlatformId,
    trace_id: &str,
) -> Result<(), AuthApiError> {
    let entry = Entry {
        tenant_id: tenant,
        service: SERVICE,
        operator: op,
        action: AuditAction::SyncRequest,
        target_type: AuditTarget::SyncTask,
        target_ids: leadgen_db::oplog::sync_task_targets(task_id, platform_id),
        result: Ok(()),
    };
    oplog::record(conn, entry, trace_id).await?;
    Ok(())
}

/// Accepts a manual sync: a RUNNING task and a `SyncRequested` event in one transaction.
#[tracing::instrument(name = "auth.request_sync", skip_all, fields(tenant_id = user.tenant_id.get(), platform_id = platform_id.get()))]
pub async fn request(
    state: &AppState,
    user: &AuthUser,
    platform_id: PlatformId,
    window: RequestedWindow,
) -> Result<Accepted, AuthApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let tenant = user.tenant_id;
    let op = operator(user);
    let trace_id = leadgen_telemetry::current_trace_id();
    let backfill_days = state.oauth.backfill_days;
    let platforms = state.platforms.clone();
    let result = conn
        .transaction::<SyncTaskId, AuthApiError, _>(|conn| {
            let op = op.clone();
            let trace_id = trace_id.clone();
            async move {
                // Not locked: sync-worker ends a task and then moves the shop's watermark in one
                // transaction, so a lock here, taken before this task's insert waits on that
                // end (the one running task per shop), deadlocks. A pause committed meanwhile
                // leaves this task to sync-worker, which fails it as paused.
                let platform = platforms_repo::find_for_tenant(conn, tenant, platform_id)
                    .await?
                    .ok_or(AuthApiError::PlatformNotFound)?;
                // The record the id resolves to: an alias (a renewed authorization's old id)
                // syncs the shop it was renewed into.
                let platform_id = platform.id;
                platform.status.callable().map_err(|e| match e {
                    NotCallable::Paused => AuthApiError::ShopDisabled,
                    NotCallable::NoGrant => AuthApiError::NotActive,
                })?;
                let platform_type = platform.platform_type;
                let now = window.now;
                // A shop whose history was never fetched (its backfill cancelled by the
                // merchant, or failed): a sync that names no period fetches that history, as a
                // BACKFILL; catching up on changes from the last sync would leave it out for good.
                if window.start.is_none()
                    && window.end.is_none()
                    && backfill_days > 0
                    && !repo::backfill_completed(conn, platform_id).await?
                    && let Some(client) = platforms.get(platform_type)
                {
                    let days = super::oauth::served_days(client.as_ref(), backfill_days);
                    let task = backfill_task(tenant, platform_id, platform_type, days, now);
                    let task = NewTask {
                        requested_by: Some(user.user_id.get()),
                        requested_by_name: Some(&user.name),
                        ..task
                    };
                    let task_id = start_task(conn, &task, platform_type, SyncTrigger::Backfill)
                        .await?
                        .ok_or(AuthApiError::SyncRunning)?;
                    record_request(conn, tenant, &op, task_id, platform_id, &trace_id).await?;
                    return Ok(task_id);
                }
                let end = window.end.unwrap_or(now).min(now);
                // A named period is listed by creation time (each order as it is now). Without
                // a start the sync catches up on changes, as a scheduled one does: by
                // modification time from where the last such window ended (or the shop's first
                // sync), so a refund of an older order arrives too; never beyond the longest
                // window (a shop not synced for months gets the most recent 90 days).
                let (listing, start) = match window.start {
                    Some(start) => (Listing::Created, start),
                    None => {
                        let first = repo::first_sync_time(conn, tenant, platform_id).await?;
                        let start = sync::changes_start(platform.modified_watermark, first, now)
                            .max(end - Duration::days(MAX_WINDOW_DAYS));
                        (Listing::Modified, start)
                    }
                };
                // A given start was checked against the same `now` (parse_window); only a
                // resumed one can fall after the given end. The resumed start keeps within
                // MAX_WINDOW_DAYS by construction.
                if start >= end {
                    return Err(AuthApiError::SyncWindow(
                        "所选结束时间不晚于上次同步已同步到的时间，无需接续同步；如需重新同步该时段，请同时选择开始时间（startTime）"
                            .into(),
                    ));
                }
                let task = NewTask {
                    tenant_id: tenant,
                    platform_id,
                    platform_type: platform_type.as_str(),
                    trigger_type: SyncTrigger::Manual.as_str(),
                    status: SyncStatus::Running.as_str(),
                    window_start: start,
                    window_end: end,
                    listing: listing.as_str(),
                    requested_by: Some(user.user_id.get()),
                    requested_by_name: Some(&user.name),
                };
                let task_id = start_task(conn, &task, platform_type, SyncTrigger::Manual)
                    .await?
                    .ok_or(AuthApiError::SyncRunning)?;
                record_request(conn, tenant, &op, task_id, platform_id, &trace_id).await?;
                Ok(task_id)
            }
            .scope_boxed()
        })
        .await;
    match result {
        Ok(task_id) => {
            tracing::info!(
                sync_task.id = task_id.get(),
                platform.id = platform_id.get(),
                "Sync requested"
            );
            Ok(Accepted {
                sync_task_id: task_id.get(),
                status: ACCEPTED,
            })
        }
        // Every refusal is audited (design 7), an unknown or another tenant's shop too.
        Err(
            e @ (AuthApiError::SyncRunning
            | AuthApiError::NotActive
            | AuthApiError::ShopDisabled
            | AuthApiError::SyncWindow(_)
            | AuthApiError::PlatformNotFound),
        ) => {
            let what = (AuditAction::SyncRequest, AuditTarget::PlatformAuth);
            super::record_refusal_on(&mut conn, tenant, &op, what, platform_id, &e).await;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// One sync record (design 2.4).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub sync_id: i64,
    pub platform_id: i64,
    #[schema(value_type = leadgen_http::openapi::PlatformTypeSchema)]
    pub platform_type: PlatformType,
    pub sync_time: DateTime<Utc>,
    #[schema(value_type = crate::openapi::SyncStatusSchema)]
    pub status: SyncStatus,
    pub success_count: i32,
    pub failure_count: i32,
    pub error_message: String,
    #[schema(value_type = crate::openapi::SyncTriggerSchema)]
    pub trigger: SyncTrigger,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Which of an order's times the window selects by: `CREATED` (a backfill, a manual sync
    /// of a named period) or `MODIFIED` (catching up on changes: scheduled syncs, a manual one
    /// without `startTime`).
    #[schema(value_type = crate::openapi::SyncListingSchema)]
    pub listing: String,
    #[schema(required = true)]
    pub finish_time: Option<DateTime<Utc>>,
    /// Windows fully stored of the task's windows (`null` until the worker starts it).
    #[schema(required = true)]
    pub progress: Option<Progress>,
    /// Distinct readable orders stored for the first time. `newCount`, `updatedCount` and
    /// `unchangedCount` add up to `successCount`; unreadable orders count in `failureCount`
    /// alone.
    pub new_count: i32,
    /// Distinct readable orders that changed since they were stored.
    pub updated_count: i32,
    /// Distinct readable orders fetched again without change.
    pub unchanged_count: i32,
    /// Where the platform's documented history clipped the requested range: the start of what
    /// it served (`windowStart` otherwise).
    #[schema(required = true)]
    pub served_from: Option<DateTime<Utc>>,
    /// A warning for the merchant even when the task completed (e.g. a clipped range).
    #[schema(required = true)]
    pub warning: Option<String>,
    /// Of the orders this sync was the last to store, those that could not be filed under a
    /// buyer-lead (set aside, kept with why; support hands them back once the cause is mended).
    /// They count in `successCount` too: the sync stored them.
    pub set_aside_count: i64,
}

impl Record {
    /// Fills in each record's `setAsideCount` (one query for them all).
    pub async fn count_set_aside(
        conn: &mut leadgen_db::PgConn,
        tenant: TenantId,
        records: &mut [Record],
    ) -> Result<(), AuthApiError> {
        let ids: Vec<i64> = records.iter().map(|r| r.sync_id).collect();
        let counts = leadgen_db::set_aside::count_by_task(conn, tenant.get(), &ids).await?;
        for record in records {
            record.set_aside_count = counts
                .iter()
                .find(|(task, _)| *task == record.sync_id)
                .map_or(0, |(_, n)| *n);
        }
        Ok(())
    }
}

/// `{windowsDone, windowsTotal}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub windows_done: i32,
    pub windows_total: i32,
}

/// The tenant's sync records.
#[tracing::instrument(name = "auth.list_sync_records", skip_all, fields(tenant_id = tenant.get()))]
pub async fn records(
    state: &AppState,
    tenant: TenantId,
    mut filter: RecordFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> Result<(Vec<Record>, Counted), AuthApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    // A renewed authorization's old id (a 201 answered it) finds the shop's records.
    if let Some(id) = filter.platform_id
        && let Some(row) =
            platforms_repo::find_for_tenant(&mut conn, tenant, PlatformId::new(id)).await?
    {
        filter.platform_id = Some(row.id.get());
    }
    let (rows, total) = repo::list(&mut conn, tenant, &filter, sort, paging).await?;
    let mut records: Vec<Record> = rows.into_iter().map(Record::from).collect();
    Record::count_set_aside(&mut conn, tenant, &mut records).await?;
    Ok((records, total))
}

impl From<repo::TaskRow> for Record {
    fn from(r: repo::TaskRow) -> Self {
        Record {
            sync_id: r.id.get(),
            platform_id: r.platform_id.get(),
            platform_type: r.platform_type,
            sync_time: r.sync_time,
            status: r.status,
            success_count: r.success_count,
            failure_count: r.failure_count,
            error_message: r.error_message.unwrap_or_default(),
            trigger: r.trigger_type,
            window_start: r.window_start,
            window_end: r.window_end,
            listing: r.listing,
            finish_time: r.finished_at,
            progress: r.windows_total.map(|total| Progress {
                windows_done: r.windows_done,
                windows_total: total,
            }),
            new_count: r.new_count,
            updated_count: r.updated_count,
            unchanged_count: r.unchanged_count,
            served_from: r.served_from,
            warning: r.warning,
            set_aside_count: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An end written to the minute (a date picker without seconds) ends the window at the
    /// minute's last second, both ends being whole seconds included; one written to the
    /// second ends at that second.
    #[test]
    fn an_end_written_to_the_minute_takes_in_its_last_second() {
        let now = "2026-12-07T12:00:00Z".parse().unwrap();
        let end = |end: &str| {
            let body = SyncBody {
                start_time: Some("2026-12-01T00:00+08:00".into()),
                end_time: Some(end.into()),
            };
            parse_window(&body, now).unwrap().end.unwrap()
        };
        let last: DateTime<Utc> = "2026-12-06T15:59:59Z".parse().unwrap();
        assert_eq!(end("2026-12-06T23:59+08:00"), last);
        assert_eq!(end("2026-12-06T23:59:59+08:00"), last);
        assert_eq!(
            end("2026-12-06T23:59:30.5+08:00"),
            "2026-12-06T15:59:30.5Z".parse::<DateTime<Utc>>().unwrap()
        );
        let start = parse_window(
            &SyncBody {
                start_time: Some("2026-12-01T00:00+08:00".into()),
                end_time: None,
            },
            now,
        )
        .unwrap()
        .start;
        assert_eq!(
            start,
            "2026-11-30T16:00:00Z".parse().ok(),
            "a start is as written"
        );
    }
}
