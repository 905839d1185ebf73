//! The documented coupling to sync-worker's `t_ecom_order_raw`: read the rows an event names (or
//! the sweep finds still pending), and set their `process_status`.

use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Int8};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_order_raw as raw;
use leadgen_domain::{PlatformType, RawOrderStatus, TenantId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = raw)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct RawRow {
    pub id: i64,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    pub platform_id: i64,
    pub platform_type: String,
    pub order_id: String,
    pub normalized: Option<String>,
    pub process_status: String,
}

/// The rows of `ids` that belong to `tenant`, locked in id order for the caller's transaction
/// (so the pending sweep skips them, and two batches of the same rows wait for each other
/// instead of deadlocking later).
pub async fn find_many(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    ids: &[i64],
) -> QueryResult<Vec<RawRow>> {
    raw::table
        .filter(raw::tenant_id.eq(tenant.get()))
        .filter(raw::id.eq_any(ids))
        .order(raw::id.asc())
        .for_update()
        .select(RawRow::as_select())
        .load(conn)
        .await
}

/// Claims up to `limit` rows of one tenant left `PENDING` since before `before`, or handed back
/// because a salesperson revealed the buyer's phone (no message is coming for those), skipping
/// rows another transaction holds and the rows of `skip` (waiting to be tried again), in id
/// order. The tenant is the next after `after_tenant` that has such rows, wrapping round: each
/// sweep takes the next tenant's, so one tenant's backlog of hours does not hold back every
/// other tenant's rows behind it.
pub async fn claim_pending(
    conn: &mut AsyncPgConnection,
    before: chrono::DateTime<chrono::Utc>,
    limit: i64,
    skip: &[i64],
    after_tenant: i64,
) -> QueryResult<Vec<RawRow>> {
    use leadgen_db::schema::t_order_revealed_identity as revealed;
    let due = || {
        raw::sync_time.lt(before).or(diesel::dsl::exists(
            revealed::table.filter(revealed::raw_order_id.eq(raw::id)),
        ))
    };
    // An anti-join on the unnested ids (a merge or hash join), not `id <> ALL($1)`: with a
    // generic plan that compares every row with every id, and thousands of rows may wait.
    let not_skipped = || {
        diesel::dsl::sql::<Bool>("NOT EXISTS (SELECT 1 FROM unnest(")
            .bind::<Array<Int8>, _>(skip.to_vec())
            .sql(") AS skip(id) WHERE skip.id = t_ecom_order_raw.id)")
    };
    // Only platforms this build knows: a newer build's are left for its replicas (a rolling
    // deploy), not claimed again and again.
    let known = || {
        raw::platform_type.eq_any(
            PlatformType::ALL
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>(),
        )
    };
    // The tenant of the first row no one holds: the first row's own tenant would send every
    // replica to the rows one of them (or a batch in flight) already holds, to claim nothing
    // and sleep a sweep interval while other tenants' rows wait. The next tenant after the
    // last one swept, else (wrapping round) the first.
    let mut first: Option<i64> = None;
    for above in [after_tenant, i64::MIN] {
        first = raw::table
            .filter(raw::process_status.eq(RawOrderStatus::Pending.as_str()))
            .filter(raw::tenant_id.gt(above))
            .filter(due())
            .filter(known())
            .filter(not_skipped())
            .order((raw::tenant_id.asc(), raw::id.asc()))
            .select(raw::tenant_id)
            .for_update()
            .skip_locked()
            .first(conn)
            .await
            .optional()?;
        if first.is_some() {
            break;
        }
    }
    let Some(tenant) = first else {
        return Ok(Vec::new());
    };
    raw::table
        .filter(raw::tenant_id.eq(tenant))
        .filter(raw::process_status.eq(RawOrderStatus::Pending.as_str()))
        .filter(due())
        .filter(known())
        .filter(not_skipped())
        .order(raw::id.asc())
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(RawRow::as_select())
        .load(conn)
        .await
}

/// Keeps row `id` aside as `MALFORMED` with why it could not be processed (in `parse_error`,
/// where an unreadable order keeps its reason): counted, never dropped, and no longer in the
/// way of the rows behind it.
///
/// The reason starts with `无法处理：` (its neutral form did not open or parse, [`crate::batch`])
/// or `处理失败（` (it failed alone sweep after sweep, [`crate::sweep`]); the row keeps its
/// neutral form. Readers find the rows set aside by both, and only those, by these two prefixes
/// (`leadgen_db::set_aside::BY_PROCESSOR`: a sync record's `setAsideCount`, `leadctl orders`,
/// `leads rebuild --set-aside`; sync-worker's `MALFORMED` rows have no neutral form).
pub async fn set_aside(conn: &mut AsyncPgConnection, id: i64, reason: &str) -> QueryResult<usize> {
    diesel::update(raw::table.find(id))
        .set((
            raw::process_status.eq(RawOrderStatus::Malformed.as_str()),
            raw::parse_error.eq(reason),
        ))
        .execute(conn)
        .await
}

/// How many rows wait for processing (`PENDING`), and since when the oldest of them has waited
/// (`pending_since`: stored, stored again changed, or handed back; migration 48).
pub async fn pending_backlog(
    conn: &mut AsyncPgConnection,
) -> QueryResult<(i64, Option<chrono::DateTime<chrono::Utc>>)> {
    raw::table
        .filter(raw::process_status.eq(RawOrderStatus::Pending.as_str()))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(raw::pending_since),
        ))
        .first(conn)
        .await
}

pub async fn set_status(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    status: RawOrderStatus,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(raw::table.filter(raw::id.eq_any(ids)))
        .set(raw::process_status.eq(status.as_str()))
        .execute(conn)
        .await
}

/// Hands the raw orders `ids` back to processing (`PENDING`) from a transaction that already
/// holds lead locks (a rescore): rows another transaction holds are skipped, not waited for, as
/// a batch takes raw rows before leads and waiting would be the reverse order (a deadlock).
/// Answers the ids it skipped, for the caller to hand back once its lead locks are gone.
pub async fn hand_back_unless_held(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Handed {
        #[diesel(sql_type = Int8)]
        id: i64,
    }
    let handed: Vec<Handed> = diesel::sql_query(
        "UPDATE t_ecom_order_raw SET process_status = $2 \
         WHERE id IN (SELECT id FROM t_ecom_order_raw WHERE id = ANY($1) \
                      ORDER BY id FOR UPDATE SKIP LOCKED) \
         RETURNING id",
    )
    .bind::<Array<Int8>, _>(ids)
    .bind::<diesel::sql_types::Text, _>(RawOrderStatus::Pending.as_str())
    .load(conn)
    .await?;
    let handed: std::collections::HashSet<i64> = handed.into_iter().map(|h| h.id).collect();
    Ok(ids
        .iter()
        .copied()
        .filter(|id| !handed.contains(id))
        .collect())
}
