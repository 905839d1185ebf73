//! The sales workflow's writes: lead-api's `t_lead_status_change`, and the documented coupling
//! that lets it set `process_status` and bump `version` on order-processor's `t_order_lead`.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::{t_lead_status_change as history, t_order_lead as lead};
use leadgen_domain::{LeadId, TenantId, UserId};

/// Sets the status of a locked lead and bumps its version; answers the new version.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: LeadId,
    status: &str,
) -> QueryResult<i32> {
    diesel::update(lead::table.find(id.get()))
        .set((
            lead::process_status.eq(status),
            lead::version.eq(lead::version + 1),
            lead::status_version.eq(lead::version + 1),
            lead::update_time.eq(diesel::dsl::now),
        ))
        .returning(lead::version)
        .get_result(conn)
        .await
}

/// A note added with the status the lead already has: a new version (the detail's history
/// changed), the status's own version unchanged.
pub async fn touch(conn: &mut AsyncPgConnection, id: LeadId) -> QueryResult<i32> {
    diesel::update(lead::table.find(id.get()))
        .set((
            lead::version.eq(lead::version + 1),
            lead::update_time.eq(diesel::dsl::now),
        ))
        .returning(lead::version)
        .get_result(conn)
        .await
}

#[derive(Debug, Insertable)]
#[diesel(table_name = history)]
pub struct NewChange<'a> {
    #[diesel(serialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(serialize_as = i64)]
    pub lead_id: LeadId,
    pub from_status: &'a str,
    pub to_status: &'a str,
    pub note: Option<&'a str>,
    #[diesel(serialize_as = i64)]
    pub operator_id: UserId,
    pub operator_name: &'a str,
}

pub async fn record(conn: &mut AsyncPgConnection, change: NewChange<'_>) -> QueryResult<usize> {
    diesel::insert_into(history::table)
        .values(change)
        .execute(conn)
        .await
}
