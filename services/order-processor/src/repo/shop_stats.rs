//! `t_lead_shop_stats` (owned by order-processor): per shop, the compact rank distribution of its
//! buyers and whether they need rescoring.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int8, Interval, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_lead_shop_stats as stats;
use leadgen_domain::TenantId;

/// The stored distributions of `platform_ids` (absent before a shop's first rescore).
pub async fn distributions(
    conn: &mut AsyncPgConnection,
    platform_ids: &[i64],
) -> QueryResult<Vec<(i64, Option<serde_json::Value>)>> {
    stats::table
        .filter(stats::platform_id.eq_any(platform_ids))
        .select((stats::platform_id, stats::distribution))
        .load(conn)
        .await
}

/// Records that leads of these shops changed (one statement, in platform order). The first
/// change since the shop's last rescore also starts its `dirty_since`.
pub async fn mark_dirty(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    platform_ids: &[i64],
) -> QueryResult<usize> {
    let mut ids = platform_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::sql_query(
        "INSERT INTO t_lead_shop_stats (platform_id, tenant_id, dirty_seq, dirty_at, dirty_since) \
         SELECT p, $2, 1, now(), now() FROM unnest($1::int8[]) AS p ORDER BY p \
         ON CONFLICT (platform_id) DO UPDATE \
         SET dirty_seq = t_lead_shop_stats.dirty_seq + 1, dirty_at = now(), \
             dirty_since = CASE WHEN t_lead_shop_stats.dirty_seq > t_lead_shop_stats.rescored_seq \
                                THEN coalesce(t_lead_shop_stats.dirty_since, now()) ELSE now() END",
    )
    .bind::<Array<Int8>, _>(ids)
    .bind::<Int8, _>(tenant.get())
    .execute(conn)
    .await
}

/// A shop whose leads keep changing waits at least this many times its last rescore's duration
/// for the next ([`claim`]).
pub const BUSY_SHARE: i64 = 10;

/// A shop claimed for rescoring.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = Int8)]
    pub platform_id: i64,
    #[diesel(sql_type = Int8)]
    pub tenant_id: i64,
    #[diesel(sql_type = Int8)]
    pub dirty_seq: i64,
}

/// Claims one shop whose leads changed and settled (no change for `settle` and none of its raw
/// orders still waiting to be processed), or whose first change not yet rescored is older than
/// `max_wait` or [`BUSY_SHARE`] times its last rescore's duration, the longer
/// (`dirty_since`), or whose scores are older than `as_of`; leases it for `lease`.
/// A backlog whose batches are slower than `settle` is not rescored midway, nor at its start:
/// every lead would be rewritten only for the next batches to change it again, while the
/// rescore and the batches wait on each other's lead locks. The longest wait still rescores a
/// shop whose backlog runs for long, but a shop whose rescore takes minutes (a million leads)
/// spends at most a tenth of its backlog's time rescoring, not one rescore after another.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    as_of: DateTime<Utc>,
    settle: std::time::Duration,
    max_wait: std::time::Duration,
    lease: std::time::Duration,
) -> QueryResult<Option<Claimed>> {
    let rows: Vec<Claimed> = diesel::sql_query(
        "UPDATE t_lead_shop_stats s SET lease_until = now() + $4 \
         WHERE s.platform_id = ( \
           SELECT platform_id FROM t_lead_shop_stats \
           WHERE (lease_until IS NULL OR lease_until < now()) \
             AND ((dirty_seq > rescored_seq \
                   AND ((dirty_at < now() - $2 AND NOT EXISTS ( \
                          SELECT 1 FROM t_ecom_order_raw r \
                          WHERE r.platform_id = t_lead_shop_stats.platform_id \
                            AND r.process_status = 'PENDING')) \
                        OR coalesce(dirty_since, dirty_at) < now() - greatest($3, \
                             make_interval(secs => coalesce(rescore_took_ms, 0) * $5 / 1000.0)))) \
                  OR as_of < $1) \
           ORDER BY dirty_at NULLS LAST, platform_id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING s.platform_id, s.tenant_id, s.dirty_seq",
    )
    .bind::<Timestamptz, _>(as_of)
    .bind::<Interval, _>(pg_interval(settle))
    .bind::<Interval, _>(pg_interval(max_wait))
    .bind::<Interval, _>(pg_interval(lease))
    .bind::<Int8, _>(BUSY_SHARE)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next())
}

/// Extends a rescore's lease by `lease` from now (a large shop's rescore outlives one lease).
pub async fn extend(
    conn: &mut AsyncPgConnection,
    platform_id: i64,
    lease: std::time::Duration,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE t_lead_shop_stats SET lease_until = now() + $2 WHERE platform_id = $1",
    )
    .bind::<Int8, _>(platform_id)
    .bind::<Interval, _>(pg_interval(lease))
    .execute(conn)
    .await
}

/// Records a finished rescore up to `seq`, the new distribution and how long it `took`; releases
/// the lease. Changes marked while it ran (after `seq`) wait since now for the next one.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    platform_id: i64,
    seq: i64,
    as_of: DateTime<Utc>,
    distribution: serde_json::Value,
    took: std::time::Duration,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE t_lead_shop_stats SET rescored_seq = $2, rescored_at = now(), as_of = $3, \
           distribution = $4, lease_until = NULL, rescore_took_ms = $5, \
           dirty_since = CASE WHEN dirty_seq > $2 THEN now() END \
         WHERE platform_id = $1",
    )
    .bind::<Int8, _>(platform_id)
    .bind::<Int8, _>(seq)
    .bind::<Timestamptz, _>(as_of)
    .bind::<diesel::sql_types::Jsonb, _>(distribution)
    .bind::<Int8, _>(i64::try_from(took.as_millis()).unwrap_or(i64::MAX))
    .execute(conn)
    .await
}

/// Marks a shop just rescored to be rescored again once `wait` from now is over (its leads
/// still wait for the external scorer): a new dirty mark, held by a lease.
pub async fn again_after(
    conn: &mut AsyncPgConnection,
    platform_id: i64,
    wait: std::time::Duration,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE t_lead_shop_stats SET dirty_seq = dirty_seq + 1, dirty_at = now(), \
         dirty_since = coalesce(dirty_since, now()), lease_until = now() + $2 \
         WHERE platform_id = $1",
    )
    .bind::<Int8, _>(platform_id)
    .bind::<Interval, _>(pg_interval(wait))
    .execute(conn)
    .await
}

/// Holds a shop whose rescore failed for `wait` from now, without recording a rescore: it stays
/// dirty (tried again once `wait` is over) while the claim passes over it to the shops behind.
pub async fn defer(
    conn: &mut AsyncPgConnection,
    platform_id: i64,
    wait: std::time::Duration,
) -> QueryResult<usize> {
    extend(conn, platform_id, wait).await
}

fn pg_interval(d: std::time::Duration) -> diesel::data_types::PgInterval {
    diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
    )
}
