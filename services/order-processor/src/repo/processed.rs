//! `t_ecom_order_processed` (owned by order-processor): one row per platform order, linked to its
//! buyer-lead by `user_id`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int8};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_order_processed as processed;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = processed)]
pub struct ProcessedWrite {
    pub tenant_id: i64,
    pub platform_id: i64,
    pub platform_type: String,
    pub raw_order_id: i64,
    pub order_id: String,
    pub status: String,
    pub platform_status: String,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub product_info: String,
    pub contact_info: Option<String>,
    pub contact_masked: Option<String>,
    pub contact_kind: Option<String>,
    pub region: String,
    pub identity_keys: Vec<String>,
    pub order_created_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub refunded: bool,
}

/// What an upsert answers per row: its id, raw order and the lead it was linked to before.
#[derive(Debug, Clone, Queryable)]
pub struct Upserted {
    pub id: i64,
    pub raw_order_id: i64,
    pub user_id: Option<i64>,
}

/// Inserts or refreshes the processed form of every order (one statement); the lead link is
/// kept.
pub async fn upsert_many(
    conn: &mut AsyncPgConnection,
    rows: &[ProcessedWrite],
) -> QueryResult<Vec<Upserted>> {
    use diesel::upsert::excluded;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    diesel::insert_into(processed::table)
        .values(rows)
        .on_conflict((processed::platform_id, processed::order_id))
        .do_update()
        .set((
            processed::raw_order_id.eq(excluded(processed::raw_order_id)),
            processed::status.eq(excluded(processed::status)),
            processed::platform_status.eq(excluded(processed::platform_status)),
            processed::amount_fen.eq(excluded(processed::amount_fen)),
            processed::order_time.eq(excluded(processed::order_time)),
            processed::product_info.eq(excluded(processed::product_info)),
            processed::contact_info.eq(excluded(processed::contact_info)),
            processed::contact_masked.eq(excluded(processed::contact_masked)),
            processed::contact_kind.eq(excluded(processed::contact_kind)),
            processed::region.eq(excluded(processed::region)),
            processed::identity_keys.eq(excluded(processed::identity_keys)),
            processed::order_created_at.eq(excluded(processed::order_created_at)),
            processed::paid_at.eq(excluded(processed::paid_at)),
            processed::refunded.eq(excluded(processed::refunded)),
            processed::update_time.eq(diesel::dsl::now),
        ))
        .returning((processed::id, processed::raw_order_id, processed::user_id))
        .get_results(conn)
        .await
}

/// A buyer's order as the aggregate needs it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = processed)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct BuyerOrder {
    pub id: i64,
    pub user_id: Option<i64>,
    pub platform_id: i64,
    pub platform_type: String,
    pub raw_order_id: i64,
    pub order_id: String,
    pub status: String,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub order_created_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub refunded: bool,
    pub product_info: String,
    pub contact_info: Option<String>,
}

/// Every order of `leads`.
pub async fn of_leads(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    leads: &[i64],
) -> QueryResult<Vec<BuyerOrder>> {
    processed::table
        .filter(processed::tenant_id.eq(tenant))
        .filter(processed::user_id.eq_any(leads))
        .select(BuyerOrder::as_select())
        .load(conn)
        .await
}

/// Links each order `ids[i]` to lead `leads[i]` (one statement).
pub async fn link(conn: &mut AsyncPgConnection, ids: &[i64], leads: &[i64]) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE t_ecom_order_processed p SET user_id = v.lead \
         FROM unnest($1::int8[], $2::int8[]) AS v(id, lead) WHERE p.id = v.id",
    )
    .bind::<Array<Int8>, _>(ids)
    .bind::<Array<Int8>, _>(leads)
    .execute(conn)
    .await
}

/// Moves the orders of merged leads to the lead they merged into.
pub async fn relink(conn: &mut AsyncPgConnection, from: &[i64], to: i64) -> QueryResult<usize> {
    diesel::update(processed::table.filter(processed::user_id.eq_any(from)))
        .set(processed::user_id.eq(to))
        .execute(conn)
        .await
}
