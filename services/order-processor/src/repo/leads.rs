//! `t_order_lead` (owned by order-processor; lead-api reads it).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_order_lead as lead;

#[derive(Debug, Insertable)]
#[diesel(table_name = lead)]
pub struct LeadUpsert {
    pub tenant_id: i64,
    pub platform_id: i64,
    pub platform_type: String,
    pub order_id: String,
    pub raw_order_id: i64,
    pub processed_order_id: i64,
    pub contact_info: String,
    pub contact_masked: String,
    pub contact_kind: String,
    pub product_info: String,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub intention_tags: Vec<String>,
    pub score: i16,
}

/// Inserts a lead, or refreshes the order-derived fields of an existing one (sales staff's
/// `process_status` is kept). Returns the id and whether the lead is new.
pub async fn upsert(conn: &mut AsyncPgConnection, row: &LeadUpsert) -> QueryResult<(i64, bool)> {
    use diesel::upsert::excluded;
    diesel::insert_into(lead::table)
        .values(row)
        .on_conflict(lead::raw_order_id)
        .do_update()
        .set((
            lead::contact_info.eq(excluded(lead::contact_info)),
            lead::contact_masked.eq(excluded(lead::contact_masked)),
            lead::contact_kind.eq(excluded(lead::contact_kind)),
            lead::product_info.eq(excluded(lead::product_info)),
            lead::amount_fen.eq(excluded(lead::amount_fen)),
            lead::order_time.eq(excluded(lead::order_time)),
            lead::intention_tags.eq(excluded(lead::intention_tags)),
            lead::score.eq(excluded(lead::score)),
            lead::update_time.eq(diesel::dsl::now),
        ))
        .returning((lead::id, diesel::dsl::sql::<Bool>("(xmax = 0)")))
        .get_result(conn)
        .await
}
