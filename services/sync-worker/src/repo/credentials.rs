//! The documented coupling to auth-api's `t_ecom_platform_auth` that is sync-worker's own: the
//! scheduler reads ACTIVE shops due for a sync, a finished sync moves `last_sync_time`, and every
//! by-modification window fully stored moves `modified_watermark`; the scheduler also counts
//! shops per platform and status for the `leadgen_shops` gauge, and how far behind the most
//! behind one's stored changes are for `leadgen_sync_watermark_lag_seconds`.
//! Reading credentials and storing refreshed tokens is `leadgen_shop_session`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_domain::{PlatformId, TenantId, sync};

/// Moves `last_sync_time` forward (never back).
pub async fn record_synced(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        auth::table.find(id.get()).filter(
            auth::last_sync_time
                .is_null()
                .or(auth::last_sync_time.lt(until)),
        ),
    )
    .set(auth::last_sync_time.eq(until))
    .execute(conn)
    .await
}

/// When the shop's first sync that fetched anything was requested (a completed one, or one that
/// stored a window), for the shop row `a`: [`Due::first_sync_time`].
const FIRST_SYNC_TIME: &str = "least( \
    (SELECT min(s.sync_time) FROM t_ecom_sync_task s \
     WHERE s.tenant_id = a.tenant_id AND s.platform_id = a.id AND s.status = 'COMPLETED'), \
    (SELECT min(s.sync_time) FROM t_ecom_sync_task s \
     WHERE s.tenant_id = a.tenant_id AND s.platform_id = a.id \
       AND s.status IN ('FAILED', 'CANCELLED', 'RUNNING') AND s.windows_done > 0))";

/// Where the shop's changes are known to be stored up to, as a catch-up reads from it
/// ([`sync::changes_start`]): its `modified_watermark`, else its first sync's request.
pub async fn changes_stored_until(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
) -> QueryResult<Option<DateTime<Utc>>> {
    #[derive(QueryableByName)]
    struct Until {
        #[diesel(sql_type = Nullable<Timestamptz>)]
        until: Option<DateTime<Utc>>,
    }
    let found: Option<Until> = diesel::sql_query(format!(
        "SELECT coalesce(a.modified_watermark, {FIRST_SYNC_TIME}) AS until \
         FROM t_ecom_platform_auth a WHERE a.id = $1"
    ))
    .bind::<BigInt, _>(id.get())
    .get_result(conn)
    .await
    .optional()?;
    Ok(found.and_then(|f| f.until))
}

/// Moves `modified_watermark` forward (never back) to the end of a by-modification window whose
/// pages were all stored.
pub async fn advance_watermark(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        auth::table.find(id.get()).filter(
            auth::modified_watermark
                .is_null()
                .or(auth::modified_watermark.lt(until)),
        ),
    )
    .set(auth::modified_watermark.eq(until))
    .execute(conn)
    .await
}

/// A platform due for a scheduled sync.
#[derive(Debug, Clone, QueryableByName)]
pub struct Due {
    #[diesel(sql_type = BigInt, deserialize_as = i64)]
    pub id: PlatformId,
    #[diesel(sql_type = BigInt, deserialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(sql_type = Text)]
    pub platform_type: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub modified_watermark: Option<DateTime<Utc>>,
    /// When the shop's first sync that fetched anything (completed, or stored a window) was
    /// requested: no order of it was fetched before. Where no by-modification window was stored
    /// yet, changes since then may be missing. A backfill cancelled before its first window
    /// leaves the shop as never synced.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub first_sync_time: Option<DateTime<Utc>>,
    /// When the shop's last completed by-modification sync that covered a whole
    /// [`sync::RECONCILE_HOURS`] was requested ([`sync::scheduled_start`]).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub reconciled_at: Option<DateTime<Utc>>,
    /// Where that sync's window ended.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub reconciled_through: Option<DateTime<Utc>>,
    /// How many days the shop's BACKFILL covered when it failed and none ever completed, once
    /// the backfill's own wait has passed since the last one ended (the interval doubled per
    /// backfill failed in a row since the last that did not fail, at most the cap): the history is still missing, and the scheduler runs the backfill again.
    /// Meanwhile the shop's changes are synced as any shop's are: a backfill that keeps failing
    /// (a platform refusing an old range) must not stop new orders from arriving.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub failed_backfill_days: Option<i64>,
}

/// `{failures}.last_failed` is longer ago than the wait
/// [`leadgen_domain::sync::failed_sync_backoff`] sets after `{failures}.failures` failures in a
/// row, with `$2` the interval and `$3` the cap, in seconds: the domain's rule, in SQL (the
/// scheduler's test checks the two agree, failure by failure).
fn failures_waited_out(failures: &str) -> String {
    format!(
        "{failures}.last_failed < now() - least( \
             make_interval(secs => $2) * power(2, least({failures}.failures - 1, {doublings})), \
             make_interval(secs => $3))",
        doublings = sync::MAX_FAILED_SYNC_DOUBLINGS,
    )
}

/// ACTIVE authorizations (of every tenant: the scheduler is a system job) not synced since
/// `before` and not syncing now (a shop whose backfill runs takes no place in `limit`),
/// leaving out those whose syncs (other than backfills, which wait apart:
/// [`Due::failed_backfill_days`]) keep failing until their wait has passed
/// ([`leadgen_domain::sync::failed_sync_backoff`]: `interval` doubled per failure since the
/// last completed sync and since the shop was last authorized or resumed (`activated_at`), at
/// most the cap; the same rule, in SQL, so that shops waiting out a
/// backoff take no place in `limit`).
pub async fn due_for_sync(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    interval: chrono::Duration,
    limit: i64,
) -> QueryResult<Vec<Due>> {
    let cap = chrono::Duration::hours(sync::MAX_FAILED_SYNC_BACKOFF_HOURS);
    diesel::sql_query(format!(
        "SELECT a.id, a.tenant_id, a.platform_type, a.modified_watermark, \
                {FIRST_SYNC_TIME} AS first_sync_time, \
                rc.sync_time AS reconciled_at, rc.window_end AS reconciled_through, \
                CASE WHEN b.status = 'FAILED' AND {backfill_waited} \
                     THEN ceil(extract(epoch FROM b.window_end - b.window_start) / 86400)::bigint \
                END AS failed_backfill_days \
         FROM t_ecom_platform_auth a \
         LEFT JOIN LATERAL ( \
             SELECT count(*) AS failures, max(t.sync_time) AS last_failed \
             FROM t_ecom_sync_task t \
             WHERE t.tenant_id = a.tenant_id AND t.platform_id = a.id AND t.status = 'FAILED' \
               AND t.trigger_type <> 'BACKFILL' \
               AND t.sync_time > coalesce(a.activated_at, '-infinity') \
               AND t.sync_time > coalesce(( \
                   SELECT max(c.sync_time) FROM t_ecom_sync_task c \
                   WHERE c.tenant_id = a.tenant_id AND c.platform_id = a.id \
                     AND c.status = 'COMPLETED'), '-infinity') \
         ) f ON true \
         LEFT JOIN LATERAL ( \
             SELECT count(*) AS failures, max(coalesce(t.finished_at, t.sync_time)) AS last_failed \
             FROM t_ecom_sync_task t \
             WHERE t.tenant_id = a.tenant_id AND t.platform_id = a.id AND t.status = 'FAILED' \
               AND t.trigger_type = 'BACKFILL' \
               AND t.sync_time > coalesce(( \
                   SELECT max(c.sync_time) FROM t_ecom_sync_task c \
                   WHERE c.tenant_id = a.tenant_id AND c.platform_id = a.id \
                     AND c.trigger_type = 'BACKFILL' AND c.status <> 'FAILED'), '-infinity') \
         ) bf ON true \
         LEFT JOIN LATERAL ( \
             SELECT r.sync_time, r.window_end FROM t_ecom_sync_task r \
             WHERE r.tenant_id = a.tenant_id AND r.platform_id = a.id \
               AND r.status = 'COMPLETED' AND r.listing = 'MODIFIED' \
               AND r.window_end - r.window_start >= make_interval(hours => $5::int) \
             ORDER BY r.sync_time DESC LIMIT 1 \
         ) rc ON true \
         LEFT JOIN LATERAL ( \
             SELECT t.status, t.window_start, t.window_end FROM t_ecom_sync_task t \
             WHERE t.tenant_id = a.tenant_id AND t.platform_id = a.id \
               AND t.trigger_type = 'BACKFILL' \
             ORDER BY t.status = 'COMPLETED' DESC, t.sync_time DESC LIMIT 1 \
         ) b ON true \
         WHERE a.status = 'ACTIVE' \
           AND (a.last_sync_time IS NULL OR a.last_sync_time < $1) \
           AND NOT EXISTS (SELECT 1 FROM t_ecom_sync_task r \
                           WHERE r.platform_id = a.id AND r.status = 'RUNNING') \
           AND (f.failures = 0 OR {sync_waited}) \
         ORDER BY a.last_sync_time ASC NULLS FIRST \
         LIMIT $4",
        backfill_waited = failures_waited_out("bf"),
        sync_waited = failures_waited_out("f"),
    ))
    .bind::<Timestamptz, _>(before)
    .bind::<Double, _>(interval.num_seconds() as f64)
    .bind::<Double, _>(cap.num_seconds() as f64)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(sync::RECONCILE_HOURS)
    .load(conn)
    .await
}

/// Shops per `(platform, status)`: aliases of renewed shops excluded, and so are consents that
/// never connected a shop (INVALID without ever holding a token: a merchant who left the consent
/// page, or a code the platform would not exchange), which no re-authorization by the
/// operator's hand would mend. Only a disconnection (REVOKED) wipes a connected shop's tokens.
pub async fn count_by_status(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(String, String, i64)>> {
    auth::table
        .filter(auth::superseded_by.is_null())
        .filter(
            auth::access_token
                .is_not_null()
                .or(auth::status.ne(leadgen_domain::AuthStatus::Invalid.as_str())),
        )
        .group_by((auth::platform_type, auth::status))
        .select((auth::platform_type, auth::status, diesel::dsl::count_star()))
        .load(conn)
        .await
}

/// Per platform, how many seconds the ACTIVE shop whose stored changes lag most is behind now:
/// its `modified_watermark` (every change up to it is stored), or its connection's time while
/// it has none (its backfill runs). Renewed shops' alias records are left out.
pub async fn watermark_lag(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(String, f64)>> {
    #[derive(QueryableByName)]
    struct Lag {
        #[diesel(sql_type = Text)]
        platform_type: String,
        #[diesel(sql_type = Double)]
        seconds: f64,
    }
    let lags: Vec<Lag> = diesel::sql_query(
        "SELECT platform_type, \
                greatest(extract(epoch FROM now() - min(coalesce(modified_watermark, create_time))), \
                         0)::float8 AS seconds \
         FROM t_ecom_platform_auth \
         WHERE status = $1 AND superseded_by IS NULL \
         GROUP BY platform_type",
    )
    .bind::<Text, _>(leadgen_domain::AuthStatus::Active.as_str())
    .load(conn)
    .await?;
    Ok(lags
        .into_iter()
        .map(|l| (l.platform_type, l.seconds))
        .collect())
}
