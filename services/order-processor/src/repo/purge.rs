//! The retention purge's statements: a disconnected shop's orders, its buyers' leads where they
//! have nothing else, and its sync records. Touches the documented couplings to auth-api's
//! `t_ecom_platform_auth` (the purge columns) and sync-worker's `t_ecom_order_raw` and
//! `t_ecom_sync_task` (deleted with the shop's history), lead-api's `t_contact_reveal` (the
//! reasons cleared) and every service's `t_operation_log` rows about the buyers (their free
//! text cleared). Every statement names the shop.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int4, Int8, Interval, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_domain::{AuthStatus, TenantId};

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Int8)]
    id: i64,
}

fn ids(rows: Vec<Id>) -> Vec<i64> {
    rows.into_iter().map(|r| r.id).collect()
}

/// A shop whose history is due for deletion.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct DueShop {
    #[diesel(sql_type = Int8)]
    pub id: i64,
    #[diesel(sql_type = Int8)]
    pub tenant_id: i64,
}

/// Sets when the history of shops whose grant the platform ended (EXPIRED, INVALID) is deleted,
/// `days` from now, where none is set and their history is not deleted yet: a merchant who lets
/// a subscription end no longer has the shop's buyers kept for good. Only shops that were
/// connected (a consent refused or abandoned is INVALID without a shop, and has no history).
/// Authorizing again, pausing or resuming clears it (auth-api); a date left on a shop whose
/// grant no longer ended is cleared here too, so that a later lapse gets a date of its own. The
/// shops it set.
pub async fn schedule_lapsed(conn: &mut AsyncPgConnection, days: u32) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE t_ecom_platform_auth SET purge_after = NULL \
         WHERE status <> ALL($1) AND purge_after IS NOT NULL",
    )
    .bind::<Array<Text>, _>(AuthStatus::grant_ended_names())
    .execute(conn)
    .await?;
    // REVOKED gets its date when the merchant disconnects (auth-api).
    let lapsed: Vec<&str> = AuthStatus::GRANT_ENDED
        .iter()
        .filter(|s| **s != AuthStatus::Revoked)
        .map(|s| s.as_str())
        .collect();
    diesel::sql_query(
        "UPDATE t_ecom_platform_auth SET purge_after = now() + make_interval(days => $1) \
         WHERE status = ANY($2) AND purge_after IS NULL AND purged_at IS NULL \
           AND shop_id IS NOT NULL",
    )
    .bind::<Int4, _>(i32::try_from(days).unwrap_or(i32::MAX))
    .bind::<Array<Text>, _>(lapsed)
    .execute(conn)
    .await
}

/// Locks one shop whose grant has ended ([`AuthStatus::GRANT_ENDED`]) and whose retention period
/// has ended (skipping shops another replica is purging, and shops whose last purge step failed,
/// until their `purge_retry_at`), and marks its purge as begun: its watermarks go, so a shop
/// connected again starts its history anew. Its failures in a row go too, which only counts once
/// the caller's step commits.
pub async fn claim_due(conn: &mut AsyncPgConnection) -> QueryResult<Option<DueShop>> {
    let shop: Option<DueShop> = diesel::sql_query(
        "SELECT id, tenant_id FROM t_ecom_platform_auth \
         WHERE status = ANY($1) AND purge_after <= now() \
           AND (purge_retry_at IS NULL OR purge_retry_at <= now()) \
         ORDER BY purge_after, id LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .bind::<Array<Text>, _>(AuthStatus::grant_ended_names())
    .get_result(conn)
    .await
    .optional()?;
    if let Some(shop) = shop {
        diesel::sql_query(
            "UPDATE t_ecom_platform_auth SET purged_at = coalesce(purged_at, now()), \
             modified_watermark = NULL, last_sync_time = NULL, \
             purge_failures = 0, purge_retry_at = NULL WHERE id = $1",
        )
        .bind::<Int8, _>(shop.id)
        .execute(conn)
        .await?;
    }
    Ok(shop)
}

/// A due shop whose purge step failed, set to wait.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Deferred {
    /// Its purge steps that failed in a row, this one included.
    #[diesel(sql_type = Int4)]
    pub failures: i32,
    /// When it may be claimed again.
    #[diesel(sql_type = Timestamptz)]
    pub retry_at: DateTime<Utc>,
}

/// Records a failed purge step of `shop` (after its transaction rolled back): one more failure
/// in a row, and no claim before `first` from now, doubled after each further failure in a row up
/// to `max`, so the due shops behind it are purged meanwhile. `None` when the shop is no longer
/// due (connected again meanwhile).
pub async fn defer(
    conn: &mut AsyncPgConnection,
    shop: i64,
    first: std::time::Duration,
    max: std::time::Duration,
) -> QueryResult<Option<Deferred>> {
    diesel::sql_query(
        "UPDATE t_ecom_platform_auth SET purge_failures = purge_failures + 1, \
           purge_retry_at = now() + least($2 * power(2, least(purge_failures, 16)), $3) \
         WHERE id = $1 AND status = ANY($4) AND purge_after IS NOT NULL \
         RETURNING purge_failures AS failures, purge_retry_at AS retry_at",
    )
    .bind::<Int8, _>(shop)
    .bind::<Interval, _>(pg_interval(first))
    .bind::<Interval, _>(pg_interval(max))
    .bind::<Array<Text>, _>(AuthStatus::grant_ended_names())
    .get_result(conn)
    .await
    .optional()
}

fn pg_interval(d: std::time::Duration) -> diesel::data_types::PgInterval {
    diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
    )
}

/// The purges due now, for the retention metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct Due {
    /// Shops whose grant ended, whose retention period has ended, and whose history is not
    /// deleted yet.
    #[diesel(sql_type = Int8)]
    pub shops: i64,
    /// Of those, the shops whose last purge step failed.
    #[diesel(sql_type = Int8)]
    pub failing: i64,
    /// The earliest `purge_after` among them.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub oldest: Option<DateTime<Utc>>,
}

/// How many purges are due, how many of them fail, and since when the oldest is due.
pub async fn due(conn: &mut AsyncPgConnection) -> QueryResult<Due> {
    diesel::sql_query(
        "SELECT count(*) AS shops, count(*) FILTER (WHERE purge_failures > 0) AS failing, \
           min(purge_after) AS oldest \
         FROM t_ecom_platform_auth WHERE status = ANY($1) AND purge_after <= now()",
    )
    .bind::<Array<Text>, _>(AuthStatus::grant_ended_names())
    .get_result(conn)
    .await
}

/// Up to `limit` leads that still hold orders of `shop`.
pub async fn leads_with_orders(
    conn: &mut AsyncPgConnection,
    shop: i64,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let rows: Vec<Id> = diesel::sql_query(
        "SELECT DISTINCT user_id AS id FROM t_ecom_order_processed \
         WHERE platform_id = $1 AND user_id IS NOT NULL ORDER BY 1 LIMIT $2",
    )
    .bind::<Int8, _>(shop)
    .bind::<Int8, _>(limit)
    .load(conn)
    .await?;
    Ok(ids(rows))
}

/// The identities (blind indexes) of `leads`, for the same advisory locks a batch takes.
pub async fn identity_keys(
    conn: &mut AsyncPgConnection,
    leads: &[i64],
) -> QueryResult<Vec<String>> {
    use leadgen_db::schema::t_lead_identity as identity;
    identity::table
        .filter(identity::lead_id.eq_any(leads))
        .select(identity::key_hash)
        .load(conn)
        .await
}

/// The shop's processed orders of `leads`, as `(processed id, raw id)`, now unlinked from them.
pub async fn unlink_orders(
    conn: &mut AsyncPgConnection,
    shop: i64,
    leads: &[i64],
) -> QueryResult<Vec<(i64, i64)>> {
    use leadgen_db::schema::t_ecom_order_processed as processed;
    diesel::update(
        processed::table
            .filter(processed::platform_id.eq(shop))
            .filter(processed::user_id.eq_any(leads)),
    )
    .set(processed::user_id.eq(None::<i64>))
    .returning((processed::id, processed::raw_order_id))
    .get_results(conn)
    .await
}

/// The raw ids of the orders `leads` keep in the tenant's other shops.
pub async fn remaining_raw_orders(
    conn: &mut AsyncPgConnection,
    leads: &[i64],
) -> QueryResult<Vec<i64>> {
    use leadgen_db::schema::t_ecom_order_processed as processed;
    processed::table
        .filter(processed::user_id.eq_any(leads))
        .order(processed::raw_order_id.asc())
        .select(processed::raw_order_id)
        .load(conn)
        .await
}

/// A lead left with no order, its version, and the leads that had merged into it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Orphan {
    #[diesel(sql_type = Int8)]
    pub id: i64,
    #[diesel(sql_type = Int4)]
    pub version: i32,
    #[diesel(sql_type = Array<Int8>)]
    pub merged: Vec<i64>,
}

/// Which of `leads` hold no order any more, with their aliases. The leads are locked first, in
/// id order as every batch locks them, and their versions read under the lock: read unlocked,
/// two status changes lead-api commits before the deletion would publish a version past the one
/// `lead.removed.v1` announces, and a subscriber would bring the lead back. Locked, a change in
/// flight commits first (its version is read) and a later one waits and finds the lead gone.
pub async fn orphans(conn: &mut AsyncPgConnection, leads: &[i64]) -> QueryResult<Vec<Orphan>> {
    diesel::sql_query(
        "SELECT id FROM t_order_lead WHERE id = ANY($1) AND merged_into IS NULL \
         ORDER BY id FOR UPDATE",
    )
    .bind::<Array<Int8>, _>(leads)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "SELECT l.id, l.version, \
                coalesce(array_agg(m.id ORDER BY m.id) FILTER (WHERE m.id IS NOT NULL), \
                '{}') AS merged \
         FROM t_order_lead l LEFT JOIN t_order_lead m ON m.merged_into = l.id \
         WHERE l.id = ANY($1) AND l.merged_into IS NULL AND NOT EXISTS \
           (SELECT 1 FROM t_ecom_order_processed p WHERE p.user_id = l.id) \
         GROUP BY l.id, l.version ORDER BY l.id",
    )
    .bind::<Array<Int8>, _>(leads)
    .load(conn)
    .await
}

/// Deletes `leads` (orphans and their aliases, all of `tenant`) with their identities and status
/// history. Reveal audits and the operation log stay (who did what, when), without the words
/// typed about these buyers: a status change's `note` and a reveal's `reason` are free text
/// that may name a person, and go with the rest of the buyer (a log line of `tenant` naming any
/// of `leads` loses them, `textPurged: true`). Another tenant's lines naming these ids (its
/// refused requests) are its own record and stay as they are.
pub async fn delete_leads(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    leads: &[i64],
) -> QueryResult<usize> {
    for statement in [
        "UPDATE t_operation_log SET detail = (detail - 'note' - 'reason') \
             || '{\"textPurged\": true}'::jsonb \
         WHERE tenant_id = $2 \
           AND target_ids && (SELECT array_agg(l::text) FROM unnest($1::int8[]) AS l) \
           AND action IN ('LEAD_STATUS_CHANGE', 'CONTACT_REVEAL') \
           AND detail ?| array['note', 'reason']",
        "UPDATE t_contact_reveal SET reason = NULL \
         WHERE tenant_id = $2 AND lead_id = ANY($1) AND reason IS NOT NULL",
    ] {
        diesel::sql_query(statement)
            .bind::<Array<Int8>, _>(leads)
            .bind::<Int8, _>(tenant.get())
            .execute(conn)
            .await?;
    }
    for statement in [
        "DELETE FROM t_lead_status_change WHERE lead_id = ANY($1)",
        "DELETE FROM t_lead_identity WHERE lead_id = ANY($1)",
        "DELETE FROM t_order_lead WHERE merged_into = ANY($1)",
    ] {
        diesel::sql_query(statement)
            .bind::<Array<Int8>, _>(leads)
            .execute(conn)
            .await?;
    }
    diesel::sql_query("DELETE FROM t_order_lead WHERE id = ANY($1)")
        .bind::<Array<Int8>, _>(leads)
        .execute(conn)
        .await
}

/// An alias re-pointed by [`repoint_aliases`]: its id, its surviving lead's, and the
/// survivor's sealed contact, which the caller seals again for the alias's own row.
#[derive(Debug, QueryableByName)]
pub struct Repointed {
    #[diesel(sql_type = Int8)]
    pub alias: i64,
    #[diesel(sql_type = Int8)]
    pub survivor: i64,
    #[diesel(sql_type = Text)]
    pub survivor_contact: String,
}

/// Aliases (leads merged into another) of `survivors`, or still describing one of `processed`
/// orders, are re-pointed at their surviving lead as it is now: its latest order, its contact,
/// its aggregate (order ids, products, payment times) and the reasons said of it. An alias
/// keeps what it was at its merge, which may be a deleted order even when its own latest order
/// is elsewhere (its contact came from an older order of the purged shop, say), so every alias
/// of a survivor is rewritten: no row keeps a deleted order or its contact. An alias is never
/// read for itself: readers follow `merged_into`. The contact is not copied here: a sealed
/// value is bound to its row, so the caller seals the survivor's again for each alias
/// ([`set_alias_contacts`]).
pub async fn repoint_aliases(
    conn: &mut AsyncPgConnection,
    processed: &[i64],
    survivors: &[i64],
) -> QueryResult<Vec<Repointed>> {
    diesel::sql_query(
        "UPDATE t_order_lead m SET order_id = s.order_id, raw_order_id = s.raw_order_id, \
           processed_order_id = s.processed_order_id, platform_id = s.platform_id, \
           platform_type = s.platform_type, \
           contact_masked = s.contact_masked, contact_kind = s.contact_kind, \
           contact_raw_order_id = s.contact_raw_order_id, product_info = s.product_info, \
           amount_fen = s.amount_fen, order_time = s.order_time, aggregate = s.aggregate, \
           score_reasons = s.score_reasons, contact_validity = s.contact_validity, \
           contact_validity_reason = s.contact_validity_reason \
         FROM t_order_lead s \
         WHERE m.merged_into = s.id \
           AND (m.processed_order_id = ANY($1) OR m.merged_into = ANY($2)) \
         RETURNING m.id AS alias, s.id AS survivor, s.contact_info AS survivor_contact",
    )
    .bind::<Array<Int8>, _>(processed)
    .bind::<Array<Int8>, _>(survivors)
    .load(conn)
    .await
}

/// Writes each alias's contact, sealed for its own row: `(alias, sealed)`.
pub async fn set_alias_contacts(
    conn: &mut AsyncPgConnection,
    contacts: &[(i64, String)],
) -> QueryResult<usize> {
    let (ids, sealed): (Vec<i64>, Vec<&str>) =
        contacts.iter().map(|(id, c)| (*id, c.as_str())).unzip();
    diesel::sql_query(
        "UPDATE t_order_lead l SET contact_info = v.contact \
         FROM unnest($1::int8[], $2::text[]) AS v(id, contact) WHERE l.id = v.id",
    )
    .bind::<Array<Int8>, _>(ids)
    .bind::<Array<Text>, _>(sealed)
    .execute(conn)
    .await
}

/// Deletes processed orders and their raw orders (and any sales decision kept for them).
pub async fn delete_orders(
    conn: &mut AsyncPgConnection,
    processed: &[i64],
    raw: &[i64],
) -> QueryResult<usize> {
    diesel::sql_query("DELETE FROM t_ecom_order_processed WHERE id = ANY($1)")
        .bind::<Array<Int8>, _>(processed)
        .execute(conn)
        .await?;
    diesel::sql_query("DELETE FROM t_lead_legacy_status WHERE raw_order_id = ANY($1)")
        .bind::<Array<Int8>, _>(raw)
        .execute(conn)
        .await?;
    diesel::sql_query("DELETE FROM t_ecom_order_raw WHERE id = ANY($1)")
        .bind::<Array<Int8>, _>(raw)
        .execute(conn)
        .await
}

/// What the last step deleted besides the leads' orders.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rest {
    /// Raw orders that never became a lead's (unreadable, pending or unlinked).
    pub raw_orders: usize,
    pub sync_tasks: usize,
}

/// Deletes what is left of the shop's history (orders no lead holds, sync records, its rank
/// distribution) and marks the purge done. Answers what it deleted.
pub async fn finish(conn: &mut AsyncPgConnection, shop: i64) -> QueryResult<Rest> {
    for statement in [
        "DELETE FROM t_ecom_order_processed WHERE platform_id = $1",
        "DELETE FROM t_lead_legacy_status s USING t_ecom_order_raw r \
         WHERE s.raw_order_id = r.id AND r.platform_id = $1",
    ] {
        diesel::sql_query(statement)
            .bind::<Int8, _>(shop)
            .execute(conn)
            .await?;
    }
    let raw_orders = diesel::sql_query("DELETE FROM t_ecom_order_raw WHERE platform_id = $1")
        .bind::<Int8, _>(shop)
        .execute(conn)
        .await?;
    let sync_tasks = diesel::sql_query("DELETE FROM t_ecom_sync_task WHERE platform_id = $1")
        .bind::<Int8, _>(shop)
        .execute(conn)
        .await?;
    diesel::sql_query("DELETE FROM t_lead_shop_stats WHERE platform_id = $1")
        .bind::<Int8, _>(shop)
        .execute(conn)
        .await?;
    diesel::sql_query("UPDATE t_ecom_platform_auth SET purge_after = NULL WHERE id = $1")
        .bind::<Int8, _>(shop)
        .execute(conn)
        .await?;
    Ok(Rest {
        raw_orders,
        sync_tasks,
    })
}
