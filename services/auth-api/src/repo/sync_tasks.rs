//! `t_ecom_sync_task`, as auth-api touches it: it inserts manual requests and reads records.
//! sync-worker owns the table's progress and outcome (a known coupling, `docs/architecture.md`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_sync_task as task;
use leadgen_domain::{PlatformId, PlatformType, SyncStatus, SyncTaskId, SyncTrigger, TenantId};
use leadgen_http::paging::{Counted, Paging, RECORDS_WINDOW, SortOrder};

use super::ListError;

const RUNNING: &str = SyncStatus::Running.as_str();

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = task)]
pub struct NewTask<'a> {
    #[diesel(serialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(serialize_as = i64)]
    pub platform_id: PlatformId,
    pub platform_type: &'a str,
    pub trigger_type: &'a str,
    pub status: &'a str,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// `CREATED` or `MODIFIED` (`leadgen_domain::sync::Listing`).
    pub listing: &'a str,
    /// The user's id (a `UserId`); absent for scheduled syncs.
    pub requested_by: Option<i64>,
    pub requested_by_name: Option<&'a str>,
}

/// When shop `id`'s first sync that fetched anything was requested (completed, or stored at
/// least one window): no order of it was fetched before. `None` when none did (a backfill
/// cancelled or failed before its first window leaves the shop as never synced).
pub async fn first_sync_time(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: PlatformId,
) -> QueryResult<Option<DateTime<Utc>>> {
    // Two minimums from the (tenant, shop, status, time) index: the completed tasks' read from
    // the end of their range, the others' from the few tasks that did not complete; one
    // condition with OR would read the shop's whole history.
    let shop = task::table
        .filter(task::tenant_id.eq(tenant.get()))
        .filter(task::platform_id.eq(id.get()));
    let completed: Option<DateTime<Utc>> = shop
        .filter(task::status.eq(SyncStatus::Completed.as_str()))
        .select(diesel::dsl::min(task::sync_time))
        .first(conn)
        .await?;
    let stopped_after_a_window: Option<DateTime<Utc>> = shop
        .filter(task::status.eq_any([
            SyncStatus::Failed.as_str(),
            SyncStatus::Cancelled.as_str(),
            SyncStatus::Running.as_str(),
        ]))
        .filter(task::windows_done.gt(0))
        .select(diesel::dsl::min(task::sync_time))
        .first(conn)
        .await?;
    Ok(completed.into_iter().chain(stopped_after_a_window).min())
}

/// Whether a BACKFILL of shop `id` ever completed: its history was fetched once.
pub async fn backfill_completed(conn: &mut AsyncPgConnection, id: PlatformId) -> QueryResult<bool> {
    backfill_in(conn, id, SyncStatus::Completed.as_str()).await
}

/// Whether a BACKFILL of shop `id` is running.
pub async fn backfill_running(conn: &mut AsyncPgConnection, id: PlatformId) -> QueryResult<bool> {
    backfill_in(conn, id, RUNNING).await
}

/// Whether shop `id` has a BACKFILL in `status`.
async fn backfill_in(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    status: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        task::table
            .filter(task::platform_id.eq(id.get()))
            // Written out, not bound: a generic plan cannot prove a bound value matches the
            // backfills' partial index (migration 56), and would read the whole table.
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "trigger_type = 'BACKFILL'",
            ))
            .filter(task::status.eq(status)),
    ))
    .get_result(conn)
    .await
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = task)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct TaskRow {
    #[diesel(deserialize_as = i64)]
    pub id: SyncTaskId,
    #[diesel(deserialize_as = i64)]
    pub platform_id: PlatformId,
    #[diesel(deserialize_as = String)]
    pub platform_type: PlatformType,
    #[diesel(deserialize_as = String)]
    pub trigger_type: SyncTrigger,
    #[diesel(deserialize_as = String)]
    pub status: SyncStatus,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub sync_time: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub success_count: i32,
    pub failure_count: i32,
    pub error_message: Option<String>,
    pub windows_total: Option<i32>,
    pub windows_done: i32,
    pub new_count: i32,
    pub updated_count: i32,
    pub unchanged_count: i32,
    pub served_from: Option<DateTime<Utc>>,
    pub warning: Option<String>,
    pub listing: String,
}

/// The newest sync task of each of the tenant's `platforms` (by request time).
pub async fn latest_of(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    platforms: &[i64],
) -> QueryResult<Vec<TaskRow>> {
    task::table
        .filter(task::tenant_id.eq(tenant.get()))
        .filter(task::platform_id.eq_any(platforms))
        .distinct_on(task::platform_id)
        .order((task::platform_id, task::sync_time.desc(), task::id.desc()))
        .select(TaskRow::as_select())
        .load(conn)
        .await
}

/// Filters of GET sync-records.
#[derive(Debug, Default)]
pub struct RecordFilter {
    pub sync_id: Option<i64>,
    pub platform_id: Option<i64>,
    pub status: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Sort fields GET sync-records accepts.
pub const SORT_FIELDS: &[&str] = &["syncTime", "successCount", "failureCount", "status"];

/// The tenant's task `id`, locked for update.
pub async fn find_for_update(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: SyncTaskId,
) -> QueryResult<Option<TaskRow>> {
    task::table
        .filter(task::tenant_id.eq(tenant.get()))
        .filter(task::id.eq(id.get()))
        .select(TaskRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Locks the shop's RUNNING task, if any (before the shop's own row: see
/// [`crate::repo::platforms::find_for_tenant_for_update`]).
pub async fn lock_running(
    conn: &mut AsyncPgConnection,
    platform_id: PlatformId,
) -> QueryResult<()> {
    task::table
        .filter(task::platform_id.eq(platform_id.get()))
        .filter(task::status.eq(RUNNING))
        .select(task::id)
        .for_update()
        .load::<i64>(conn)
        .await
        .map(drop)
}

/// What cancelling a RUNNING task writes: CANCELLED, why, and when.
#[expect(
    clippy::type_complexity,
    reason = "diesel's changeset type, named once here"
)]
fn cancelled(
    note: &str,
) -> (
    diesel::dsl::Eq<task::status, &'static str>,
    diesel::dsl::Eq<task::error_message, &str>,
    diesel::dsl::Eq<task::finished_at, diesel::dsl::now>,
    diesel::dsl::Eq<task::update_time, diesel::dsl::now>,
) {
    (
        task::status.eq(SyncStatus::Cancelled.as_str()),
        task::error_message.eq(note),
        task::finished_at.eq(diesel::dsl::now),
        task::update_time.eq(diesel::dsl::now),
    )
}

/// Ends a RUNNING task as CANCELLED; the worker sees it between pages and stops. The task's
/// running slot frees at once, so the shop accepts a new sync.
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: SyncTaskId,
    note: &str,
) -> QueryResult<Option<TaskRow>> {
    diesel::update(
        task::table
            .find(id.get())
            .filter(task::tenant_id.eq(tenant.get()))
            .filter(task::status.eq(RUNNING)),
    )
    .set(cancelled(note))
    .returning(TaskRow::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Cancels the platform's running task, if any (the shop was paused or disconnected).
pub async fn cancel_running(
    conn: &mut AsyncPgConnection,
    (tenant, platform_id): (TenantId, PlatformId),
    note: &str,
) -> QueryResult<usize> {
    diesel::update(
        task::table
            .filter(task::tenant_id.eq(tenant.get()))
            .filter(task::platform_id.eq(platform_id.get()))
            .filter(task::status.eq(RUNNING)),
    )
    .set(cancelled(note))
    .execute(conn)
    .await
}

/// Inserts a RUNNING task unless one is already running for the platform (`None`): the
/// conflict is skipped, not raised, so the caller's transaction stays usable. The target's
/// predicate repeats the partial unique index's (`uq_sync_task_one_running`), as PostgreSQL
/// needs to infer it.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewTask<'_>,
) -> QueryResult<Option<SyncTaskId>> {
    use diesel::upsert::DecoratableTarget;
    diesel::insert_into(task::table)
        .values(new)
        .on_conflict(task::platform_id)
        .filter_target(task::status.eq(SyncStatus::Running.as_str()))
        .do_nothing()
        .returning(task::id)
        .get_result::<i64>(conn)
        .await
        .optional()
        .map(|id| id.map(SyncTaskId::new))
}

/// A page of the tenant's records and how many match, counted up to one past
/// [`RECORDS_WINDOW`] (the newest ones, read from the (tenant, time) index). A sort by time pages
/// through the matching records; any other sort (counts, status: no index holds them) orders
/// the newest [`RECORDS_WINDOW`] matching records only, so a page never sorts a tenant's whole
/// history.
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    filter: &RecordFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> Result<(Vec<TaskRow>, Counted), ListError> {
    let query = || {
        let mut q = task::table
            .filter(task::tenant_id.eq(tenant.get()))
            .into_boxed();
        if let Some(id) = filter.sync_id {
            q = q.filter(task::id.eq(id));
        }
        if let Some(p) = filter.platform_id {
            q = q.filter(task::platform_id.eq(p));
        }
        if let Some(s) = &filter.status {
            q = q.filter(task::status.eq(s.clone()));
        }
        if let Some(from) = filter.from {
            q = q.filter(task::sync_time.ge(from));
        }
        if let Some(to) = filter.to {
            q = q.filter(task::sync_time.le(to));
        }
        q
    };
    let mut newest: Vec<i64> = query()
        .select(task::id)
        .order((task::sync_time.desc(), task::id.desc()))
        .limit(RECORDS_WINDOW + 1)
        .load(conn)
        .await?;
    let counted = Counted::of(newest.len() as i64, RECORDS_WINDOW);
    if !counted.page_to_read(paging, RECORDS_WINDOW)? {
        return Ok((Vec::new(), counted));
    }
    // The browsing window: the newest RECORDS_WINDOW.
    newest.truncate(usize::try_from(RECORDS_WINDOW).unwrap_or(usize::MAX));
    let by_time = !matches!(sort.0, "successCount" | "failureCount" | "status");
    let mut q = if by_time {
        query()
    } else {
        task::table
            .filter(task::tenant_id.eq(tenant.get()))
            .filter(task::id.eq_any(newest))
            .into_boxed()
    };
    q = match sort {
        ("successCount", SortOrder::Asc) => q.order(task::success_count.asc()),
        ("successCount", SortOrder::Desc) => q.order(task::success_count.desc()),
        ("failureCount", SortOrder::Asc) => q.order(task::failure_count.asc()),
        ("failureCount", SortOrder::Desc) => q.order(task::failure_count.desc()),
        ("status", SortOrder::Asc) => q.order(task::status.asc()),
        ("status", SortOrder::Desc) => q.order(task::status.desc()),
        (_, SortOrder::Asc) => q.order(task::sync_time.asc()),
        (_, SortOrder::Desc) => q.order(task::sync_time.desc()),
    };
    let q = match sort.1 {
        SortOrder::Asc => q.then_order_by(task::id.asc()),
        SortOrder::Desc => q.then_order_by(task::id.desc()),
    };
    let rows = q
        .limit(paging.size)
        .offset(paging.offset())
        .select(TaskRow::as_select())
        .load(conn)
        .await?;
    Ok((rows, counted))
}
