//! `t_ecom_order_processed` (owned by order-processor).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_order_processed as processed;

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = processed)]
pub struct ProcessedUpsert {
    pub tenant_id: i64,
    pub platform_id: i64,
    pub platform_type: String,
    pub raw_order_id: i64,
    pub order_id: String,
    pub buyer_key_hash: Option<String>,
    pub status: String,
    pub platform_status: String,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub product_info: String,
    pub contact_info: Option<String>,
    pub contact_masked: Option<String>,
    pub contact_kind: Option<String>,
    pub region: String,
}

/// Inserts or refreshes the processed form of one order; returns its id.
pub async fn upsert(conn: &mut AsyncPgConnection, row: &ProcessedUpsert) -> QueryResult<i64> {
    diesel::insert_into(processed::table)
        .values(row)
        .on_conflict((processed::platform_id, processed::order_id))
        .do_update()
        .set((row, processed::update_time.eq(diesel::dsl::now)))
        .returning(processed::id)
        .get_result(conn)
        .await
}

/// Paid orders of the same buyer on the same authorization, other than `order_id`.
pub async fn count_other_paid(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    platform_id: i64,
    buyer_key_hash: &str,
    order_id: &str,
) -> QueryResult<i64> {
    processed::table
        .filter(processed::tenant_id.eq(tenant))
        .filter(processed::platform_id.eq(platform_id))
        .filter(processed::buyer_key_hash.eq(buyer_key_hash))
        .filter(processed::order_id.ne(order_id))
        .filter(processed::status.eq_any(["PAID", "SHIPPED", "COMPLETED"]))
        .count()
        .get_result(conn)
        .await
}

pub async fn link_lead(conn: &mut AsyncPgConnection, id: i64, lead_id: i64) -> QueryResult<usize> {
    diesel::update(processed::table.find(id))
        .set(processed::user_id.eq(lead_id))
        .execute(conn)
        .await
}
