//! `t_lead_identity` (owned by order-processor): a buyer's identities as keyed blind indexes.

use diesel::prelude::*;
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

/// The leads `hashes` point to, as `(hash, lead)`.
pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    hashes: &[String],
) -> QueryResult<Vec<(String, i64)>> {
    identity::table
        .filter(identity::tenant_id.eq(tenant.get()))
        .filter(identity::key_hash.eq_any(hashes))
        .select((identity::key_hash, identity::lead_id))
        .load(conn)
        .await
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
    if hashes.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        identity::table
            .filter(identity::tenant_id.eq(tenant.get()))
            .filter(identity::key_hash.eq_any(hashes)),
    )
    .execute(conn)
    .await
}

/// Moves the identities of merged leads to the lead they merged into.
pub async fn repoint(conn: &mut AsyncPgConnection, from: &[i64], to: i64) -> QueryResult<usize> {
    diesel::update(identity::table.filter(identity::lead_id.eq_any(from)))
        .set(identity::lead_id.eq(to))
        .execute(conn)
        .await
}

/// Deletes the identities of `leads` that none of their orders carries any more: an order whose
/// later version names another receiver (a PDD order first sent to a friend's phone, then
/// corrected) must not leave its old identity pointing at this buyer, or the friend's first
/// order would merge into them, for good. Also after a retention purge unlinked orders.
pub async fn drop_stale(conn: &mut AsyncPgConnection, leads: &[i64]) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM t_lead_identity i WHERE i.lead_id = ANY($1) AND NOT EXISTS \
         (SELECT 1 FROM t_ecom_order_processed p \
          WHERE p.user_id = i.lead_id AND i.key_hash = ANY(p.identity_keys))",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Int8>, _>(leads)
    .execute(conn)
    .await
}
