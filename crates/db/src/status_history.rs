//! A lead's status history (`t_lead_status_change`): lead-api records each salesperson's
//! change, order-processor a status a merge brought (the system as operator). One insert, so
//! the detail reads both the same way.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_domain::{LeadId, TenantId, UserId};

use crate::schema::t_lead_status_change as history;

/// One line of the history.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = history)]
pub struct NewChange<'a> {
    #[diesel(serialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(serialize_as = i64)]
    pub lead_id: LeadId,
    pub from_status: &'a str,
    pub to_status: &'a str,
    pub note: Option<&'a str>,
    /// [`UserId::SYSTEM`] for a change no one made by hand.
    #[diesel(serialize_as = i64)]
    pub operator_id: UserId,
    /// "" for the system.
    pub operator_name: &'a str,
}

/// Appends `changes` to their leads' histories.
pub async fn record(conn: &mut AsyncPgConnection, changes: &[NewChange<'_>]) -> QueryResult<usize> {
    if changes.is_empty() {
        return Ok(0);
    }
    diesel::insert_into(history::table)
        .values(changes.to_vec())
        .execute(conn)
        .await
}
