//! The sales workflow's writes to the lead (its history is `leadgen_db::status_history`): the
//! documented coupling that lets lead-api set `process_status` and bump `version` on
//! order-processor's `t_order_lead`.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_order_lead as lead;
use leadgen_domain::{LeadId, TenantId};

/// Sets the status of a locked lead of `tenant` and bumps its version; answers the new version.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: LeadId,
    status: &str,
) -> QueryResult<i32> {
    diesel::update(
        lead::table
            .find(id.get())
            .filter(lead::tenant_id.eq(tenant.get())),
    )
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
pub async fn touch(conn: &mut AsyncPgConnection, tenant: TenantId, id: LeadId) -> QueryResult<i32> {
    diesel::update(
        lead::table
            .find(id.get())
            .filter(lead::tenant_id.eq(tenant.get())),
    )
    .set((
        lead::version.eq(lead::version + 1),
        lead::update_time.eq(diesel::dsl::now),
    ))
    .returning(lead::version)
    .get_result(conn)
    .await
}

/// The lead's last status change: who made it (operator id), to what, with which note.
pub async fn last_change(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: LeadId,
) -> QueryResult<Option<(i64, String, Option<String>)>> {
    use leadgen_db::schema::t_lead_status_change as history;
    history::table
        .filter(history::tenant_id.eq(tenant.get()))
        .filter(history::lead_id.eq(id.get()))
        .order(history::id.desc())
        .select((history::operator_id, history::to_status, history::note))
        .first(conn)
        .await
        .optional()
}
