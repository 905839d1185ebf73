//! The documented coupling to sync-worker's `t_ecom_order_raw`: read the rows an event names,
//! and set their `process_status`.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_order_raw as raw;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = raw)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct RawRow {
    pub id: i64,
    pub tenant_id: i64,
    pub platform_id: i64,
    pub platform_type: String,
    pub order_id: String,
    pub normalized: Option<String>,
}

/// The rows of `ids` that belong to `tenant`, oldest order first.
pub async fn find_many(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    ids: &[i64],
) -> QueryResult<Vec<RawRow>> {
    raw::table
        .filter(raw::tenant_id.eq(tenant))
        .filter(raw::id.eq_any(ids))
        .order((raw::order_created_at.asc(), raw::id.asc()))
        .select(RawRow::as_select())
        .load(conn)
        .await
}

pub async fn set_status(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    status: &str,
) -> QueryResult<usize> {
    diesel::update(raw::table.filter(raw::id.eq_any(ids)))
        .set(raw::process_status.eq(status))
        .execute(conn)
        .await
}
