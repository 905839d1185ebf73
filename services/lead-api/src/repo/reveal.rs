//! Revealing a number for a call: lead-api's audit (`t_contact_reveal`), quota counters
//! (`t_contact_reveal_quota`) and revealed phones' blind indexes (`t_order_revealed_identity`),
//! and the documented coupling to sync-worker's `t_ecom_order_raw` (the order's neutral form,
//! where the platform's ciphertext or `oaid` is; an order whose buyer's phone was revealed goes
//! back to `PENDING` for order-processor).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::{t_contact_reveal as reveal, t_ecom_order_raw as raw};
use leadgen_domain::RawOrderStatus;
use leadgen_domain::{LeadId, PlatformId, TenantId, UserId};

/// Where a reveal's number is: the raw order's platform and its sealed neutral form.
#[derive(Debug, Queryable)]
pub struct SourceOrder {
    pub platform_id: i64,
    pub platform_type: String,
    pub order_id: String,
    pub normalized: Option<String>,
    /// The hash of the version read: the revealed phone is kept only while the row still holds
    /// it ([`remember_phone`]).
    pub content_hash: String,
}

/// The tenant's raw order `id`, as a reveal needs it.
pub async fn raw_order(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: i64,
) -> QueryResult<Option<SourceOrder>> {
    raw::table
        .filter(raw::tenant_id.eq(tenant.get()))
        .filter(raw::id.eq(id))
        .select((
            raw::platform_id,
            raw::platform_type,
            raw::order_id,
            raw::normalized,
            raw::content_hash,
        ))
        .first(conn)
        .await
        .optional()
}

/// Keeps the blind index of the phone revealed for raw order `id` (never the number) and, when it
/// is new, hands the order back to order-processor (`PENDING`): its pending sweep adds the phone
/// to the buyer's identities, merging the buyer with any lead known by it. Answers whether the
/// order was handed back. A row a batch is processing right now (`PENDING`, locked) is waited
/// for and handed back once it commits: the batch read no revealed phone for it.
///
/// Only while the row still holds the version the number was decrypted from (`content_hash`):
/// a sync that stored another version during the platform call may have replaced the receiver,
/// and the number would then be kept for someone else's order (a sync forgets a revealed phone
/// when it replaces the receiver, but this one was not there yet). The row is locked for the
/// check: a sync's write not yet committed is waited for, and the check is made against it.
pub async fn remember_phone(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: i64,
    content_hash: &str,
    index: &str,
) -> QueryResult<bool> {
    let changed = diesel::sql_query(
        "WITH kept AS (            INSERT INTO t_order_revealed_identity (raw_order_id, tenant_id, key_hash)            SELECT id, tenant_id, $3 FROM t_ecom_order_raw WHERE id = $1 AND tenant_id = $2              AND content_hash = $6 FOR NO KEY UPDATE            ON CONFLICT (raw_order_id) DO UPDATE              SET key_hash = excluded.key_hash, revealed_at = now()              WHERE t_order_revealed_identity.key_hash <> excluded.key_hash            RETURNING raw_order_id)          UPDATE t_ecom_order_raw SET process_status = $4          WHERE id IN (SELECT raw_order_id FROM kept) AND process_status IN ($4, $5)",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(tenant.get())
    .bind::<Text, _>(index)
    .bind::<Text, _>(RawOrderStatus::Pending.as_str())
    .bind::<Text, _>(RawOrderStatus::Processed.as_str())
    .bind::<Text, _>(content_hash)
    .execute(conn)
    .await?;
    Ok(changed > 0)
}

/// Takes one reveal from the counter of `(tenant, user)` for `day` unless it reached `limit`;
/// `false` when it had. Without a user, the tenant's own counter (stored as user 0).
pub async fn take_quota(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: Option<UserId>,
    day: NaiveDate,
    limit: i32,
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Used {
        #[diesel(sql_type = Integer)]
        #[expect(dead_code, reason = "only whether a row came back matters")]
        used: i32,
    }
    let rows: Vec<Used> = diesel::sql_query(
        "INSERT INTO t_contact_reveal_quota (tenant_id, user_id, day, used) \
         VALUES ($1, $2, $3, 1) \
         ON CONFLICT (tenant_id, user_id, day) DO UPDATE \
         SET used = t_contact_reveal_quota.used + 1 \
         WHERE t_contact_reveal_quota.used < $4 \
         RETURNING used",
    )
    .bind::<BigInt, _>(tenant.get())
    .bind::<BigInt, _>(user.map_or(0, UserId::get))
    .bind::<Date, _>(day)
    .bind::<Integer, _>(limit)
    .load(conn)
    .await?;
    Ok(!rows.is_empty() && limit > 0)
}

/// Whether the tenant searched the number behind `mask` (under any of its `indexes`: the current
/// key's and the previous keys') on `day` already ([`note_search`] noted it).
pub async fn searched_today(
    conn: &mut AsyncPgConnection,
    (tenant, day): (TenantId, NaiveDate),
    mask: &str,
    indexes: &[String],
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let found: Found = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM t_contact_search_mask \
                        WHERE tenant_id = $1 AND day = $2 AND mask = $3 \
                          AND number_index = ANY($4)) AS found",
    )
    .bind::<BigInt, _>(tenant.get())
    .bind::<Date, _>(day)
    .bind::<Text, _>(mask)
    .bind::<diesel::sql_types::Array<Text>, _>(indexes)
    .get_result(conn)
    .await?;
    Ok(found.found)
}

/// Notes that `tenant` searched the number whose blind index is `number` behind `mask` on `day`,
/// unless `limit` other numbers behind that mask were searched that day (`false`, nothing
/// noted). A number searched again counts once. The tenant's notes of earlier days go.
pub async fn note_search(
    conn: &mut AsyncPgConnection,
    (tenant, day): (TenantId, NaiveDate),
    mask: &str,
    number: &str,
    limit: i32,
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Seen {
        #[diesel(sql_type = BigInt)]
        others: i64,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        this_one: bool,
    }
    diesel::sql_query("DELETE FROM t_contact_search_mask WHERE tenant_id = $1 AND day < $2")
        .bind::<BigInt, _>(tenant.get())
        .bind::<Date, _>(day)
        .execute(conn)
        .await?;
    let seen: Seen = diesel::sql_query(
        "SELECT count(*) FILTER (WHERE number_index <> $4) AS others, \
                coalesce(bool_or(number_index = $4), false) AS this_one \
         FROM t_contact_search_mask WHERE tenant_id = $1 AND day = $2 AND mask = $3",
    )
    .bind::<BigInt, _>(tenant.get())
    .bind::<Date, _>(day)
    .bind::<Text, _>(mask)
    .bind::<Text, _>(number)
    .get_result(conn)
    .await?;
    if seen.this_one {
        return Ok(true);
    }
    if seen.others >= i64::from(limit) {
        return Ok(false);
    }
    diesel::sql_query(
        "INSERT INTO t_contact_search_mask (tenant_id, day, mask, number_index) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind::<BigInt, _>(tenant.get())
    .bind::<Date, _>(day)
    .bind::<Text, _>(mask)
    .bind::<Text, _>(number)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Gives back one reveal taken from the counter of `(tenant, user)` for `day` (never below 0).
/// Without a user, the tenant's own counter.
pub async fn give_back_quota(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    user: Option<UserId>,
    day: NaiveDate,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE t_contact_reveal_quota SET used = used - 1 \
         WHERE tenant_id = $1 AND user_id = $2 AND day = $3 AND used > 0",
    )
    .bind::<BigInt, _>(tenant.get())
    .bind::<BigInt, _>(user.map_or(0, UserId::get))
    .bind::<Date, _>(day)
    .execute(conn)
    .await?;
    Ok(())
}

/// One audited reveal (never the number).
#[derive(Debug, Insertable)]
#[diesel(table_name = reveal)]
pub struct RevealRecord<'a> {
    #[diesel(serialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(serialize_as = i64)]
    pub lead_id: LeadId,
    #[diesel(serialize_as = i64)]
    pub platform_id: PlatformId,
    pub order_id: &'a str,
    pub purpose: &'a str,
    pub reason: Option<&'a str>,
    #[diesel(serialize_as = i64)]
    pub operator_id: UserId,
    pub operator_name: &'a str,
    pub result: &'a str,
    pub error_code: Option<i32>,
    pub error_message: Option<&'a str>,
    pub trace_id: Option<&'a str>,
}

pub async fn record(conn: &mut AsyncPgConnection, r: RevealRecord<'_>) -> QueryResult<usize> {
    diesel::insert_into(reveal::table)
        .values(r)
        .execute(conn)
        .await
}
