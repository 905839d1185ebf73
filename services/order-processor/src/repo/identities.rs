//! `t_lead_identity` (owned by order-processor): a buyer's identities as keyed blind indexes.

use diesel::prelude::*;
use diesel::sql_types::{Array, Int8, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_lead_identity as identity;
use leadgen_domain::TenantId;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = identity)]
pub struct IdentityWrite {
    pub tenant_id: i64,
    pub key_hash: String,
    pub kind: String,
    pub lead_id: i64,
}

/// The leads `hashes` point to, as `(hash, lead)`. A join on the hashes rather than
/// `key_hash = ANY(…)`, whose generic plan made on a nearly empty table (a fresh install's first
/// backlog) kept reading the tenant's every identity, testing each against every hash.
pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    hashes: &[String],
) -> QueryResult<Vec<(String, i64)>> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Text)]
        key_hash: String,
        #[diesel(sql_type = Int8)]
        lead_id: i64,
    }
    let found: Vec<Found> = diesel::sql_query(
        "SELECT i.key_hash, i.lead_id FROM t_lead_identity i \
         JOIN unnest($2::text[]) AS k(key_hash) ON i.key_hash = k.key_hash \
         WHERE i.tenant_id = $1",
    )
    .bind::<Int8, _>(tenant.get())
    .bind::<Array<Text>, _>(hashes)
    .load(conn)
    .await?;
    Ok(found.into_iter().map(|f| (f.key_hash, f.lead_id)).collect())
}

/// Points every identity at its lead (one statement, in hash order).
pub async fn upsert_many(
    conn: &mut AsyncPgConnection,
    rows: &mut [IdentityWrite],
) -> QueryResult<usize> {
    use diesel::upsert::excluded;
    if rows.is_empty() {
        return Ok(0);
    }
    rows.sort_by(|a, b| a.key_hash.cmp(&b.key_hash));
    diesel::insert_into(identity::table)
        .values(&*rows)
        .on_conflict((identity::tenant_id, identity::key_hash))
        .do_update()
        .set(identity::lead_id.eq(excluded(identity::lead_id)))
        .execute(conn)
        .await
}

/// Removes indexes written under keys that have since rotated.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    hashes: &[String],
) -> QueryResult<usize> {
    delete_keys(conn, tenant, hashes, None).await
}

/// Deletes `hashes` of `tenant`, only those still pointing at one of `of_leads` when given.
/// A join on the hashes, as [`find`].
async fn delete_keys(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    hashes: &[String],
    of_leads: Option<&[i64]>,
) -> QueryResult<usize> {
    if hashes.is_empty() {
        return Ok(0);
    }
    let delete = "DELETE FROM t_lead_identity i USING unnest($2::text[]) AS k(key_hash) \
                  WHERE i.tenant_id = $1 AND i.key_hash = k.key_hash";
    let query = diesel::sql_query(match of_leads {
        Some(_) => format!("{delete} AND i.lead_id = ANY($3)"),
        None => delete.to_owned(),
    })
    .bind::<Int8, _>(tenant.get())
    .bind::<Array<Text>, _>(hashes);
    match of_leads {
        Some(leads) => query.bind::<Array<Int8>, _>(leads).execute(conn).await,
        None => query.execute(conn).await,
    }
}

/// Moves the identities of merged leads to the lead they merged into.
pub async fn repoint(conn: &mut AsyncPgConnection, from: &[i64], to: i64) -> QueryResult<usize> {
    diesel::update(identity::table.filter(identity::lead_id.eq_any(from)))
        .set(identity::lead_id.eq(to))
        .execute(conn)
        .await
}

/// Deletes the identities of `leads` (of `tenant`) that none of their orders carries any more:
/// an order whose later version names another receiver (a PDD order first sent to a friend's
/// phone, then corrected) must not leave its old identity pointing at this buyer, or the
/// friend's first order would merge into them, for good. Also after a retention purge unlinked
/// orders.
///
/// Found per lead, its identities and then its orders, each through its lead index (a lookup
/// per key, [`crate::repo`]; the `OFFSET 0` in `NOT EXISTS` keeps it a lookup per identity
/// rather than an anti-join); usually none, and then nothing is deleted.
pub async fn drop_stale(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    leads: &[i64],
) -> QueryResult<usize> {
    #[derive(QueryableByName)]
    struct Stale {
        #[diesel(sql_type = Text)]
        key_hash: String,
    }
    if leads.is_empty() {
        return Ok(0);
    }
    // Lead ids are unique across tenants: the lookup needs no tenant condition, and one would
    // only tempt the planner into the tenant's whole range of the primary key.
    let stale: Vec<Stale> = diesel::sql_query(
        "SELECT i.key_hash FROM unnest($1::int8[]) AS l(lead_id) \
         CROSS JOIN LATERAL (SELECT i.key_hash FROM t_lead_identity i \
                             WHERE i.lead_id = l.lead_id OFFSET 0) i \
         WHERE NOT EXISTS (SELECT 1 FROM t_ecom_order_processed p \
                           WHERE p.user_id = l.lead_id AND i.key_hash = ANY(p.identity_keys) \
                           OFFSET 0)",
    )
    .bind::<Array<Int8>, _>(leads)
    .load(conn)
    .await?;
    let stale: Vec<String> = stale.into_iter().map(|s| s.key_hash).collect();
    // Still these leads' when deleted (the lookup took no lock).
    delete_keys(conn, tenant, &stale, Some(leads)).await
}
