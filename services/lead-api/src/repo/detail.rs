//! One lead in full, its orders and its status history. Reads order-processor's `t_order_lead`
//! and `t_ecom_order_processed` (documented read-only couplings) and lead-api's own
//! `t_lead_status_change`. Every query is scoped by tenant; sealed columns are never read.

use crate::repo::leads::LeadRow;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::{
    t_ecom_order_processed as processed, t_lead_status_change as history, t_order_lead as lead,
};
use leadgen_domain::{LeadId, LeadProcessStatus, TenantId};

/// Every column of a lead the API shows.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct LeadDetailRow {
    /// What the list shows of the lead.
    #[diesel(embed)]
    pub listed: LeadRow,
    pub tenant_id: i64,
    /// The version at which a salesperson last set the status (0: never).
    pub status_version: i32,
    /// The latest order's raw row.
    pub raw_order_id: i64,
    /// The raw row of the order whose contact the lead shows; `None` for a lead written before
    /// order-processor kept it (or one without a contact).
    pub contact_raw_order_id: Option<i64>,
    pub aggregate: serde_json::Value,
    pub intention: i16,
    pub scored_by: String,
    pub merged_into: Option<i64>,
}

impl LeadDetailRow {
    /// The raw order a reveal decrypts: the one whose contact the lead shows, so that the number
    /// revealed is the one whose mask the salesperson sees; the latest order for a lead written
    /// before order-processor kept it.
    pub fn contact_source(&self) -> i64 {
        self.contact_raw_order_id.unwrap_or(self.raw_order_id)
    }
}

/// The tenant's lead `id`, merged or not.
pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: LeadId,
) -> QueryResult<Option<LeadDetailRow>> {
    lead::table
        .filter(lead::tenant_id.eq(tenant.get()))
        .filter(lead::id.eq(id.get()))
        .select(LeadDetailRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The same, locked for the caller's transaction.
pub async fn lock(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: LeadId,
) -> QueryResult<Option<LeadDetailRow>> {
    lead::table
        .filter(lead::tenant_id.eq(tenant.get()))
        .filter(lead::id.eq(id.get()))
        .for_update()
        .select(LeadDetailRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Leads merged into `id`.
pub async fn merged_into(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: LeadId,
) -> QueryResult<Vec<LeadId>> {
    lead::table
        .filter(lead::tenant_id.eq(tenant.get()))
        .filter(lead::merged_into.eq(id.get()))
        .order(lead::id.asc())
        .select(lead::id)
        .load::<i64>(conn)
        .await
        .map(|ids| ids.into_iter().map(LeadId::new).collect())
}

/// One of a buyer's orders as the detail shows it (masked contact).
pub use leadgen_db::shown::ShownOrder as OrderRow;

/// A page of the lead's orders, newest first, and how many there are.
pub async fn orders(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    lead_id: LeadId,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<OrderRow>, i64)> {
    let query = || {
        processed::table
            .filter(processed::tenant_id.eq(tenant.get()))
            .filter(processed::user_id.eq(lead_id.get()))
    };
    let total = query().count().get_result(conn).await?;
    let rows = query()
        .order((processed::order_time.desc(), processed::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(OrderRow::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = history)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct HistoryRow {
    pub lead_id: i64,
    #[diesel(deserialize_as = String)]
    pub from_status: LeadProcessStatus,
    #[diesel(deserialize_as = String)]
    pub to_status: LeadProcessStatus,
    pub note: Option<String>,
    pub operator_id: i64,
    pub operator_name: String,
    pub occurred_at: DateTime<Utc>,
}

/// The status history of `leads` (a lead and those merged into it), newest first: in the order
/// the changes were made (their ids, taken while the lead's row was locked). Their times need
/// not follow it: rows written before migration 47 carry their transaction's start.
pub async fn history(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    leads: &[LeadId],
) -> QueryResult<Vec<HistoryRow>> {
    history::table
        .filter(history::tenant_id.eq(tenant.get()))
        .filter(history::lead_id.eq_any(leads.iter().map(|l| l.get())))
        .order(history::id.desc())
        .limit(200)
        .select(HistoryRow::as_select())
        .load(conn)
        .await
}
