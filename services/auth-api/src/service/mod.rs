//! auth-api's use cases; each opens at most one transaction.

pub mod abandoned;
pub mod activation;
pub mod announce;
pub mod audit;
pub mod authorizations;
pub mod exchange_claim;
pub mod oauth;
pub mod shops;
pub mod sync_cancel;
pub mod syncs;
pub mod validate;

use leadgen_db::oplog::{self, Entry, Operator};
use leadgen_domain::TenantId;
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_http::AuthUser;

use crate::SERVICE;
use crate::error::AuthApiError;

/// The operation log's operator for a request's user.
pub fn operator(user: &AuthUser) -> Operator {
    Operator::User {
        id: user.user_id,
        name: user.name.clone(),
    }
}

/// Records a refused request in the operation log (design 7: who tried what on which target),
/// an unknown or another tenant's id included, in the caller's own tenant: probing for other
/// tenants' shops or syncs leaves a trace. A failure to log must not hide the refusal.
pub async fn record_refusal(
    conn: &mut leadgen_db::PgConn,
    tenant: TenantId,
    op: &Operator,
    (action, target_type): (AuditAction, AuditTarget),
    target_ids: Vec<String>,
    e: &AuthApiError,
) {
    let entry = Entry {
        tenant_id: tenant,
        service: SERVICE,
        operator: op,
        action,
        target_type,
        target_ids,
        result: Err({
            let (code, message) = e.audit();
            format!("{code} {message}")
        }),
    };
    let trace_id = leadgen_telemetry::current_trace_id();
    if let Err(err) = oplog::record(conn, entry, &trace_id).await {
        tracing::warn!(error = %err, action = action.as_str(), "Could not record a refused request");
    }
}

/// [`record_refusal`] of a request on one target.
pub async fn record_refusal_on(
    conn: &mut leadgen_db::PgConn,
    tenant: TenantId,
    op: &Operator,
    what: (AuditAction, AuditTarget),
    target: impl ToString,
    e: &AuthApiError,
) {
    record_refusal(conn, tenant, op, what, vec![target.to_string()], e).await;
}
