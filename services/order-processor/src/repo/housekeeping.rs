//! `t_operation_log`, `t_contact_reveal`, `t_contact_search_mask` and `t_ecom_sync_task` by age:
//! what housekeeping
//! deletes, a bounded number of rows per statement
//! (each its own transaction, so no long lock or huge WAL burst). The ledger's are
//! `leadgen_outbox::forget_processed_before`, the crate that owns `t_processed_message`.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use diesel::sql_types::{BigInt, Date, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Deletes at most `limit` operation-log entries that occurred before `before`, every tenant's;
/// how many it deleted.
pub async fn delete_operation_log_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<usize> {
    delete_occurred_before(conn, "t_operation_log", before, limit).await
}

/// Deletes at most `limit` rows of `table` (by `id`) whose `occurred_at` is before `before`.
/// `table` is one of this module's own names, never input.
async fn delete_occurred_before(
    conn: &mut AsyncPgConnection,
    table: &'static str,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "DELETE FROM {table} WHERE id IN \
         (SELECT id FROM {table} WHERE occurred_at < $1 LIMIT $2)"
    ))
    .bind::<Timestamptz, _>(before)
    .bind::<BigInt, _>(limit)
    .execute(conn)
    .await
}

/// Deletes at most `limit` reveal records (lead-api's audit of each reveal) made before `before`,
/// every tenant's; how many it deleted.
pub async fn delete_reveal_records_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<usize> {
    delete_occurred_before(conn, "t_contact_reveal", before, limit).await
}

/// Deletes at most `limit` numbers searched behind a mask on a Beijing day before `today`,
/// every tenant's; how many it deleted.
pub async fn delete_search_masks_before(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM t_contact_search_mask WHERE ctid IN \
         (SELECT ctid FROM t_contact_search_mask WHERE day < $1 LIMIT $2)",
    )
    .bind::<Date, _>(today)
    .bind::<BigInt, _>(limit)
    .execute(conn)
    .await
}

/// Deletes at most `limit` sync records requested before `before`, every tenant's: finished
/// ones (a running task is not), and never a backfill (a shop's one per connection says its
/// history was fetched: `backfill_completed`, the scheduler's retry of a failed one); how many
/// it deleted. The scheduler's other reads of the history (the first sync, failures since the
/// last completed one, the last reconcile) look at its recent end or only compare with a day ago.
pub async fn delete_sync_records_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM t_ecom_sync_task WHERE id IN \
         (SELECT id FROM t_ecom_sync_task \
          WHERE sync_time < $1 AND trigger_type <> 'BACKFILL' AND status <> 'RUNNING' LIMIT $2)",
    )
    .bind::<Timestamptz, _>(before)
    .bind::<BigInt, _>(limit)
    .execute(conn)
    .await
}
