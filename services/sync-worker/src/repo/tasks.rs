//! `t_ecom_sync_task` (owned by sync-worker).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_sync_task as task;
use leadgen_domain::{PlatformId, PlatformType, SyncStatus, SyncTaskId, SyncTrigger, TenantId};
use leadgen_platforms::Listing;

const RUNNING: &str = SyncStatus::Running.as_str();

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = task)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct TaskRow {
    #[diesel(deserialize_as = i64)]
    pub id: SyncTaskId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = i64)]
    pub platform_id: PlatformId,
    #[diesel(deserialize_as = String)]
    pub status: SyncStatus,
    #[diesel(deserialize_as = String)]
    pub trigger_type: SyncTrigger,
    #[diesel(deserialize_as = String)]
    pub platform_type: PlatformType,
    /// Which of an order's times the task's window selects by, as it was requested.
    #[diesel(deserialize_as = String)]
    pub listing: Listing,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub requested_by: Option<i64>,
    pub attempts: i32,
    pub windows_total: Option<i32>,
    pub windows_done: i32,
    /// The run that holds the task ([`start`]); every write of the walk is made only while
    /// the task is still this run's, so a walker that stalled past its lease and was replaced
    /// cannot write beside its successor.
    pub claimed_by: Option<String>,
    /// When the run that stored the task's progress split its range into windows.
    pub windows_as_of: Option<DateTime<Utc>>,
    /// Requests recovery sent for it that no run has started since ([`hand_over`]).
    pub resends: i32,
    /// When it was requested (a backfill's range is the history served as of then).
    pub sync_time: DateTime<Utc>,
}

/// What one fully stored window adds to its task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowCounts {
    pub success: i32,
    pub failure: i32,
    pub new: i32,
    pub updated: i32,
    pub unchanged: i32,
}

impl std::ops::AddAssign for WindowCounts {
    fn add_assign(&mut self, o: Self) {
        self.success += o.success;
        self.failure += o.failure;
        self.new += o.new;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: SyncTaskId,
) -> QueryResult<Option<TaskRow>> {
    task::table
        .filter(task::tenant_id.eq(tenant.get()))
        .filter(task::id.eq(id.get()))
        .select(TaskRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// (Re)starts a task for the request `message_id`: claims it for a run of its own (`claimed_by`:
/// the request and this run, with `started_at`), takes the lease (`lease` from now) and counts
/// the attempt; the claim, which the run's writes then name. `None` when another request's
/// worker runs it (claimed, its lease alive): this request is a duplicate (a resume recovery
/// sent while the first request still waited in the queue). The same request redelivered (its
/// worker died, or the broker gave up on it) takes the task over at once, under a new claim:
/// the run it replaces, if still alive, stops at its next write. Its progress stays:
/// [`begin_windows`] decides whether the run resumes or starts over. A redelivery spends none of
/// the task's attempts (the broker restarting, or a consumer's connection lost, redelivers a
/// request whose run was fine; the broker's delivery limit bounds a request that kills its
/// workers): attempts count the runs recovery resumes.
pub async fn start(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    lease: chrono::Duration,
    message_id: &str,
) -> QueryResult<Option<String>> {
    let now = Utc::now();
    let claim = format!("{message_id} {}", uuid::Uuid::new_v4());
    let redelivered = task::claimed_by
        .like(format!("{} %", leadgen_db::escape_like(message_id)))
        .or(task::claimed_by.eq(message_id.to_owned()));
    let attempts =
        diesel::dsl::case_when(redelivered, task::attempts).otherwise(task::attempts + 1);
    let claimed = diesel::update(takeable(id, message_id, now))
        .set((
            task::claimed_by.eq(&claim),
            task::started_at.eq(diesel::dsl::now),
            task::lease_until.eq(now + lease),
            task::attempts.eq(attempts),
            task::resends.eq(0),
            task::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok((claimed > 0).then_some(claim))
}

/// How [`start_within`] went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Claimed: the claim the run's writes name.
    Claimed(String),
    /// Another request's live run holds the task: this request is a duplicate.
    Duplicate,
    /// The tenant already runs its share of syncs (a race with another replica's claim).
    TenantFull,
}

/// The tenant's syncs that run now (claimed, their lease alive) other than `except`.
pub async fn running_of_tenant(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    except: SyncTaskId,
) -> QueryResult<i64> {
    let running: &'static str = RUNNING;
    task::table
        .filter(task::tenant_id.eq(tenant.get()))
        .filter(task::status.eq(running))
        .filter(task::id.ne(except.get()))
        .filter(task::claimed_by.is_not_null())
        .filter(task::lease_until.gt(Utc::now()))
        .count()
        .get_result(conn)
        .await
}

/// [`start`], unless `tenant` already runs `per_tenant` syncs: counted and claimed under the
/// tenant's lock (a transaction-scoped advisory lock), so two replicas claiming the tenant's
/// syncs at once never both take the last place.
pub async fn start_within(
    conn: &mut AsyncPgConnection,
    (tenant, id): (TenantId, SyncTaskId),
    per_tenant: usize,
    lease: chrono::Duration,
    message_id: &str,
) -> QueryResult<Start> {
    use diesel_async::AsyncConnection as _;
    let message_id = message_id.to_owned();
    conn.transaction::<Start, diesel::result::Error, _>(|conn| {
        Box::pin(async move {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<Text, _>(format!("sync-tenant:{}", tenant.get()))
                .execute(conn)
                .await?;
            let running = running_of_tenant(conn, tenant, id).await?;
            if usize::try_from(running).unwrap_or(usize::MAX) >= per_tenant {
                return Ok(Start::TenantFull);
            }
            Ok(match start(conn, id, lease, &message_id).await? {
                Some(claim) => Start::Claimed(claim),
                None => Start::Duplicate,
            })
        })
    })
    .await
}

/// Whether the request `message_id` may take task `id` now ([`start`] would claim it): not a
/// duplicate of a request another live run answers for.
pub async fn claimable(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    message_id: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(takeable(id, message_id, Utc::now())))
        .get_result(conn)
        .await
}

/// Leaves task `id`, which the request `message_id` could take, to the next request for it (the
/// handler found no room to run it): a claim of that request's is released (its attempt was not
/// counted: nothing ran), and the lease held `until`, so that recovery does not resend it while
/// the next request is on its way. 0 when another request's live run holds it by now.
pub async fn leave_to_next_request(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    message_id: &str,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(takeable(id, message_id, Utc::now()))
        .set((
            task::lease_until.eq(until),
            task::started_at.eq(None::<DateTime<Utc>>),
            task::claimed_by.eq(None::<String>),
            task::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// A condition on a task row, boxed.
type TaskCondition = Box<
    dyn diesel::BoxableExpression<
            task::table,
            diesel::pg::Pg,
            SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
        >,
>;

/// A running task, found by id.
type RunningTask = diesel::dsl::Filter<
    diesel::dsl::Find<task::table, i64>,
    diesel::dsl::Eq<task::status, &'static str>,
>;

/// Task `id` while it runs and the request `message_id` may take it ([`free_or_held_by`]).
fn takeable(
    id: SyncTaskId,
    message_id: &str,
    now: DateTime<Utc>,
) -> diesel::dsl::Filter<RunningTask, TaskCondition> {
    let running: &'static str = RUNNING;
    task::table
        .find(id.get())
        .filter(task::status.eq(running))
        .filter(free_or_held_by(message_id, now))
}

/// A task no live run holds (never started, or its lease ended), or one a run of the request
/// `message_id` holds: what that request may take over, or end.
fn free_or_held_by(message_id: &str, now: DateTime<Utc>) -> TaskCondition {
    Box::new(
        task::started_at
            .is_null()
            .nullable()
            .or(task::lease_until.is_null().nullable())
            .or(task::lease_until.lt(now))
            .or(task::claimed_by.like(format!("{} %", leadgen_db::escape_like(message_id))))
            // A claim written before claims named their run.
            .or(task::claimed_by.eq(message_id.to_owned())),
    )
}

/// Ends a RUNNING task FAILED for its dead-lettered request `message_id`, unless another
/// request's run holds it under a live lease (a duplicate request dead-lettered while the
/// first one's run goes on must not end that run).
pub async fn fail_for_dead_letter(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    message_id: &str,
    error: &str,
) -> QueryResult<usize> {
    diesel::update(takeable(id, message_id, Utc::now()))
        .set((
            task::status.eq(SyncStatus::Failed.as_str()),
            task::error_message.eq(error),
            task::finished_at.eq(diesel::dsl::now),
            task::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Whether `claim` (a task's `claimed_by`) is a run of the request `message_id`: `<message id>
/// <run id>`, or the message id alone (claims written before claims named their run). The
/// rule [`start`]'s takeover by the same request follows.
pub fn claimed_for(claim: &str, message_id: &str) -> bool {
    claim == message_id
        || claim
            .strip_prefix(message_id)
            .is_some_and(|run| run.starts_with(' '))
}

/// What a task failed by a dead-lettered request says first (its `error_message`); releases
/// before 2026-12-07 went on `，已转入死信队列…`, which the prefix matches too.
pub const DEAD_LETTERED: &str = "同步请求多次处理失败";

/// How the error of a task whose runs kept being interrupted (its worker killed, its lease
/// expired, every attempt used) begins ([`crate::recovery`]).
pub const INTERRUPTED: &str = "同步任务执行中断";

/// Makes a task that failed because its request never got through RUNNING again: dead-lettered
/// by the consumer ([`DEAD_LETTERED`]) or by the broker after runs that kept being interrupted
/// ([`INTERRUPTED`]). For the request an operator replays from the DLQ (`leadctl dlq replay`).
/// `false` when the task failed for its own reason (the platform's), or another sync of its
/// shop is running (the one-running-task index).
pub async fn reopen_interrupted(conn: &mut AsyncPgConnection, id: SyncTaskId) -> QueryResult<bool> {
    use diesel::result::{DatabaseErrorKind, Error};
    let reopened = diesel::update(
        task::table
            .find(id.get())
            .filter(task::status.eq(SyncStatus::Failed.as_str()))
            .filter(
                task::error_message
                    .like(format!("{DEAD_LETTERED}%"))
                    .or(task::error_message.like(format!("{INTERRUPTED}%"))),
            ),
    )
    .set((
        task::status.eq(RUNNING),
        task::error_message.eq(None::<String>),
        task::finished_at.eq(None::<DateTime<Utc>>),
        task::update_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await;
    match reopened {
        Ok(n) => Ok(n > 0),
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// How long after its split a run's windows are resumed as split: the platforms that serve a
/// limited history leave a day's margin (Taobao 88 days of at least 89, Kuaishou 89 of 90), and windows split
/// longer ago may begin before what the platform serves now (a task replayed days later).
const RESUME_SPLIT_FOR_HOURS: i64 = 12;

/// When a run splits `task_row`'s range into windows: as of the split its stored progress
/// counts (a resumed run, [`begin_windows`]) while that split is recent, else now (the run
/// starts over).
pub fn windows_as_of(task_row: &TaskRow, now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound as _;
    match task_row.windows_as_of {
        Some(at)
            if task_row.windows_done > 0
                && now - at < chrono::Duration::hours(RESUME_SPLIT_FOR_HOURS) =>
        {
            at
        }
        // To the microsecond, as it is stored and read back.
        _ => now.trunc_subsecs(6),
    }
}

/// Records the run's `total` windows, split `as_of` ([`windows_as_of`]), and where the
/// platform's documented history clipped the range (`served_from`, `warning`). Returns how many
/// windows to skip: a task restarted with the same windows, split as of the same instant,
/// resumes after the last one fully stored; otherwise its progress and counts start over.
pub async fn begin_windows(
    conn: &mut AsyncPgConnection,
    task_row: &TaskRow,
    total: i32,
    as_of: DateTime<Utc>,
    served_from: Option<DateTime<Utc>>,
    warning: Option<&str>,
) -> QueryResult<usize> {
    if task_row.windows_total == Some(total)
        && task_row.windows_done > 0
        && task_row.windows_as_of == Some(as_of)
    {
        return Ok(usize::try_from(task_row.windows_done).unwrap_or(0));
    }
    diesel::update(
        task::table
            .find(task_row.id.get())
            .filter(task::claimed_by.is_not_distinct_from(task_row.claimed_by.as_deref())),
    )
    .set((
        task::windows_total.eq(total),
        task::windows_as_of.eq(as_of),
        task::windows_done.eq(0),
        task::pages_fetched.eq(0),
        task::success_count.eq(0),
        task::failure_count.eq(0),
        task::new_count.eq(0),
        task::updated_count.eq(0),
        task::unchanged_count.eq(0),
        task::served_from.eq(served_from),
        task::warning.eq(warning),
        task::update_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(0)
}

/// One window fully stored: its counts added, one more window done. 0 when the task no longer
/// runs under `claim` (cancelled, failed, or taken over).
pub async fn finish_window(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    claim: Option<&str>,
    c: WindowCounts,
) -> QueryResult<usize> {
    diesel::update(held(id.get(), claim))
        .set((
            task::windows_done.eq(task::windows_done + 1),
            task::success_count.eq(task::success_count + c.success),
            task::failure_count.eq(task::failure_count + c.failure),
            task::new_count.eq(task::new_count + c.new),
            task::updated_count.eq(task::updated_count + c.updated),
            task::unchanged_count.eq(task::unchanged_count + c.unchanged),
            task::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// RUNNING tasks whose lease expired (their worker is gone), or that never started within
/// `lease` (their request was lost), locked for this recovery pass (others skip them). Only
/// tasks of the platforms and triggers this build knows: one a newer build added (seen during a
/// rollout) is left for a replica that reads it, and does not fail the pass for the others.
pub async fn expired(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> QueryResult<Vec<TaskRow>> {
    task::table
        .filter(task::status.eq(RUNNING))
        .filter(task::platform_type.eq_any(PlatformType::ALL.iter().map(|p| p.as_str())))
        .filter(task::trigger_type.eq_any(SyncTrigger::ALL.iter().map(|t| t.as_str())))
        .filter(
            task::lease_until.lt(now).or(task::lease_until
                .is_null()
                .and(task::sync_time.lt(now - lease))),
        )
        .order(task::id.asc())
        .limit(limit)
        .select(TaskRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

/// Releases the claim of a run that failed, so the request's redelivery starts the task again;
/// with `end_lease` (its request was acknowledged already: nothing will redeliver it) the lease
/// ends too, and recovery's next pass resumes the task. Ending it for a request on its way back
/// would have recovery send a second one. A claim another run holds by now stays.
pub async fn release(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    claim: &str,
    end_lease: bool,
) -> QueryResult<usize> {
    let held = held(id.get(), Some(claim));
    let released = (
        task::started_at.eq(None::<DateTime<Utc>>),
        task::claimed_by.eq(None::<String>),
    );
    if end_lease {
        diesel::update(held)
            .set((released, task::lease_until.eq(diesel::dsl::now)))
            .execute(conn)
            .await
    } else {
        diesel::update(held).set(released).execute(conn).await
    }
}

/// Hands a task whose worker is gone, or whose request never started it, to the resumed
/// request on its way: releases the claim, so that request may start it ([`start`]), and holds
/// the lease (no other recovery resumes it meanwhile) for [`resend_hold`]: the longer, the more
/// requests were sent before it that no run started (they may wait behind a long queue, not be
/// lost).
pub async fn hand_over(
    conn: &mut AsyncPgConnection,
    task_row: &TaskRow,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> QueryResult<usize> {
    let until = now + resend_hold(lease, task_row.resends);
    diesel::update(
        task::table
            .find(task_row.id.get())
            .filter(task::status.eq(RUNNING)),
    )
    .set((
        task::lease_until.eq(until),
        task::started_at.eq(None::<DateTime<Utc>>),
        task::claimed_by.eq(None::<String>),
        task::resends.eq(task::resends + 1),
    ))
    .execute(conn)
    .await
}

/// How long a resumed request may take to start its task before recovery sends another: the
/// lease, doubled for every request sent before it that no run started, up to two hours (or the
/// lease, if longer). A queue that holds requests for hours then gets a few duplicates, not one
/// per task every lease.
pub fn resend_hold(lease: chrono::Duration, resends: i32) -> chrono::Duration {
    let cap = lease.max(chrono::Duration::hours(2));
    let doubled = 1_i32 << resends.clamp(0, 16);
    lease.checked_mul(doubled).unwrap_or(cap).min(cap)
}

/// Hands a task whose run stopped with its process back to the request that resumes it
/// ([`crate::handler`]): releases the claim, holds the lease until `until` (recovery does not
/// resume it meanwhile) and gives back the attempt the run counted: a run stopped between pages
/// by a scale-down or a rollout did not fail. Nothing when another run holds the task by now.
pub async fn hand_back(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    claim: &str,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(held(id.get(), Some(claim)))
        .set((
            task::lease_until.eq(until),
            task::started_at.eq(None::<DateTime<Utc>>),
            task::claimed_by.eq(None::<String>),
            // Counted by [`start`] under this claim.
            task::attempts.eq(task::attempts - 1),
            task::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// The task `id` while it runs under `claim` (no claim: a task no run claimed, as in tests
/// that walk without a request).
#[diesel::dsl::auto_type(no_type_alias)]
fn held<'a>(id: i64, claim: Option<&'a str>) -> _ {
    let running: &'static str = RUNNING;
    task::table
        .find(id)
        .filter(task::status.eq(running))
        .filter(task::claimed_by.is_not_distinct_from(claim))
}

/// Renews the lease of a task its run still holds (`claim`) while a call takes long, as long as
/// the run wrote within the last [`STALLED_AFTER_LEASES`] leases (a page, its start); 0 rows
/// when it no longer holds it, or stalled: recovery then hands the task on once the lease
/// runs out, and the run, if it ever wakes, stops at its next write.
pub async fn renew_lease(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    claim: Option<&str>,
    lease: chrono::Duration,
) -> QueryResult<usize> {
    let now = Utc::now();
    diesel::update(
        held(id.get(), claim).filter(task::update_time.gt(now - lease * STALLED_AFTER_LEASES)),
    )
    .set(task::lease_until.eq(now + lease))
    .execute(conn)
    .await
}

/// How many leases a run may go without writing (no page stored) before its lease is no
/// longer renewed for it ([`renew_lease`]).
pub const STALLED_AFTER_LEASES: i32 = 3;

/// Counts one page and renews the lease.
pub async fn add_page(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    claim: Option<&str>,
    lease: chrono::Duration,
) -> QueryResult<usize> {
    // Only a RUNNING task still held by this run counts pages: 0 rows means it was cancelled
    // (or failed, or taken over by another run) meanwhile. Every page renews the lease.
    diesel::update(held(id.get(), claim))
        .set((
            task::lease_until.eq(Utc::now() + lease),
            task::pages_fetched.eq(task::pages_fetched + 1),
            task::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Ends a RUNNING task its run still holds (`claim`) as COMPLETED or FAILED; 0 when it no
/// longer runs under that claim (cancelled, or taken over by another run).
pub async fn finish_run(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    claim: Option<&str>,
    status: SyncStatus,
    error: Option<&str>,
) -> QueryResult<usize> {
    end(conn, id, Some(claim), status, error).await
}

/// Ends a RUNNING task as COMPLETED or FAILED, whoever runs it (recovery, a dead letter).
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    status: SyncStatus,
    error: Option<&str>,
) -> QueryResult<usize> {
    end(conn, id, None, status, error).await
}

async fn end(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    held_by: Option<Option<&str>>,
    status: SyncStatus,
    error: Option<&str>,
) -> QueryResult<usize> {
    let mut running = diesel::update(task::table.find(id.get()).filter(task::status.eq(RUNNING)))
        .set((
            task::status.eq(status.as_str()),
            task::error_message.eq(error),
            task::finished_at.eq(diesel::dsl::now),
            task::update_time.eq(diesel::dsl::now),
        ))
        .into_boxed();
    if let Some(claim) = held_by {
        running = running.filter(task::claimed_by.is_not_distinct_from(claim));
    }
    running.execute(conn).await
}

/// On a task that kept orders it could not read (`failure_count`), a warning for the merchant
/// that says how many and why one of them failed (its `parse_error`), after any other warning:
/// a sync that completed with unreadable orders says so instead of looking clean.
pub async fn note_unreadable(conn: &mut AsyncPgConnection, id: SyncTaskId) -> QueryResult<()> {
    use leadgen_db::schema::t_ecom_order_raw as raw;
    let (failures, warning): (i32, Option<String>) = task::table
        .find(id.get())
        .select((task::failure_count, task::warning))
        .first(conn)
        .await?;
    if failures == 0 {
        return Ok(());
    }
    let example: Option<String> = raw::table
        .filter(raw::sync_task_id.eq(id.get()))
        // Unreadable rows, and unreadable versions kept beside a readable one.
        .filter(raw::parse_error.is_not_null())
        .order(raw::id.asc())
        .select(raw::parse_error)
        .first::<Option<String>>(conn)
        .await
        .optional()?
        .flatten();
    let note = match example {
        Some(reason) => format!(
            "{failures} 笔订单无法解析，已保留原始数据待查（如：{}）",
            reason.chars().take(200).collect::<String>()
        ),
        None => format!("{failures} 笔订单无法解析，已保留原始数据待查"),
    };
    add_warning_after(conn, id, warning, &note).await
}

/// Adds `note` to the task's warning for the merchant, after any earlier one.
pub async fn add_warning(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    note: &str,
) -> QueryResult<()> {
    let warning: Option<String> = task::table
        .find(id.get())
        .select(task::warning)
        .first(conn)
        .await?;
    add_warning_after(conn, id, warning, note).await
}

async fn add_warning_after(
    conn: &mut AsyncPgConnection,
    id: SyncTaskId,
    earlier: Option<String>,
    note: &str,
) -> QueryResult<()> {
    let warning = match earlier {
        Some(earlier) => format!("{earlier}；{note}"),
        None => note.to_owned(),
    };
    diesel::update(task::table.find(id.get()))
        .set(task::warning.eq(warning))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Inserts a RUNNING task the scheduler starts (`trigger`: SCHEDULED, or BACKFILL for a failed
/// backfill run again) unless one is already running for the platform, or the shop is no
/// longer ACTIVE (paused or disconnected since it was found due). The
/// `ON CONFLICT` predicate repeats the partial unique index's (`uq_sync_task_one_running`), as
/// PostgreSQL needs to infer it.
pub async fn insert_scheduled(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    platform_id: PlatformId,
    platform_type: &str,
    trigger: SyncTrigger,
    listing: Listing,
    window: std::ops::Range<DateTime<Utc>>,
) -> QueryResult<Option<SyncTaskId>> {
    let rows: Vec<Inserted> = diesel::sql_query(
        "INSERT INTO t_ecom_sync_task (tenant_id, platform_id, platform_type, trigger_type, status, window_start, window_end, listing) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
         WHERE EXISTS (SELECT 1 FROM t_ecom_platform_auth a WHERE a.id = $2 AND a.status = 'ACTIVE') \
         ON CONFLICT (platform_id) WHERE status = 'RUNNING' DO NOTHING RETURNING id",
    )
    .bind::<BigInt, _>(tenant.get())
    .bind::<BigInt, _>(platform_id.get())
    .bind::<Text, _>(platform_type)
    .bind::<Text, _>(trigger.as_str())
    .bind::<Text, _>(RUNNING)
    .bind::<Timestamptz, _>(window.start)
    .bind::<Timestamptz, _>(window.end)
    .bind::<Text, _>(listing.as_str())
    .load(conn)
    .await?;
    Ok(rows.into_iter().next().map(|r| SyncTaskId::new(r.id)))
}

#[cfg(test)]
mod tests {
    use super::claimed_for;

    #[test]
    fn a_claim_belongs_to_the_request_that_names_it() {
        assert!(claimed_for("m-1 8f2c", "m-1"));
        assert!(
            claimed_for("m-1", "m-1"),
            "a claim from before runs were named"
        );
        assert!(
            !claimed_for("m-10 8f2c", "m-1"),
            "another request's id that begins alike"
        );
        assert!(!claimed_for("m-2 8f2c", "m-1"));
    }
}
