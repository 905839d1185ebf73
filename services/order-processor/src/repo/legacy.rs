//! `t_lead_legacy_status`: sales decisions of the per-order leads that existed before leads became
//! buyers. Each is taken once, when its order is rebuilt into a buyer-lead.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_lead_legacy_status as legacy;

/// Removes and returns the decisions kept for `raw_ids`, as `(raw order id, status)`.
pub async fn take(
    conn: &mut AsyncPgConnection,
    raw_ids: &[i64],
) -> QueryResult<Vec<(i64, String)>> {
    diesel::delete(legacy::table.filter(legacy::raw_order_id.eq_any(raw_ids)))
        .returning((legacy::raw_order_id, legacy::process_status))
        .get_results(conn)
        .await
}
