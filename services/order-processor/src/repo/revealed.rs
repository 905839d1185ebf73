//! The documented coupling to lead-api's `t_order_revealed_identity`: the blind index of a phone a
//! salesperson revealed for an order, read as one more identity of the order's buyer.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_order_revealed_identity as revealed;

/// The revealed phone index of each of `raw_ids` that has one.
pub async fn for_rows(
    conn: &mut AsyncPgConnection,
    raw_ids: &[i64],
) -> QueryResult<HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = revealed::table
        .filter(revealed::raw_order_id.eq_any(raw_ids))
        .select((revealed::raw_order_id, revealed::key_hash))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}
