//! lead-api's lines in the operation log (design 7): a user's action on leads, the leads it
//! touched and its result, with the request's trace. Written in one place so that status
//! changes, reveals and searches by a full number record the same fields the same way.

use diesel_async::AsyncPgConnection;
use leadgen_db::oplog::{self, Entry, Operator};
use leadgen_domain::TenantId;
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_http::AuthUser;

use crate::SERVICE;

/// The operation log's operator for a request's user.
pub fn operator(user: &AuthUser) -> Operator {
    Operator::User {
        id: user.user_id,
        name: user.name.clone(),
    }
}

/// One line: `operator` did `action` to `leads`, asked for `detail` (shown to auditors as it
/// is), refused with the business code and message its caller was answered with (a platform's
/// own text included: [`crate::error::LeadApiError::audit`], [`refusal`]) when `outcome` is one.
pub struct Line<'a> {
    pub operator: &'a Operator,
    /// `LEAD_STATUS_CHANGE`, `CONTACT_REVEAL` or `CONTACT_SEARCH`.
    pub action: AuditAction,
    pub leads: Vec<String>,
    pub outcome: Result<(), (u32, String)>,
    pub detail: Option<serde_json::Value>,
}

/// How a refusal answered before the service ran (an unreadable or invalid request) is audited:
/// its code, its message and every failed field.
pub fn refusal(error: &leadgen_http::ApiError) -> (u32, String) {
    let fields: Vec<String> = error
        .field_errors()
        .iter()
        .map(|f| format!("{}：{}", f.field, f.message))
        .collect();
    let message = match fields.as_slice() {
        [] => error.message().to_owned(),
        _ => format!("{}（{}）", error.message(), fields.join("；")),
    };
    (error.code(), message)
}

/// Appends `line` to `tenant`'s operation log, with the request's trace.
pub async fn record(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    line: Line<'_>,
    trace_id: &str,
) -> diesel::QueryResult<()> {
    let Line {
        operator,
        action,
        leads,
        outcome,
        detail,
    } = line;
    let entry = Entry {
        tenant_id: tenant,
        service: SERVICE,
        operator,
        action,
        target_type: AuditTarget::Lead,
        target_ids: leads,
        result: outcome.map_err(|(code, message)| format!("{code} {message}")),
    };
    match detail {
        Some(mut detail) => {
            // What was not asked for is left out rather than shown as null.
            if let Some(fields) = detail.as_object_mut() {
                fields.retain(|_, v| !v.is_null());
            }
            oplog::record_detailed(conn, entry, &detail, trace_id).await
        }
        None => oplog::record(conn, entry, trace_id).await,
    }
}

/// A request on `lead` refused before its service ran (without the permission, or unreadable):
/// only the operation log records it, as the caller's, with the code and message `refusal`
/// the caller is answered with, and `detail` when the request could be read that far.
pub async fn record_early_refusal(
    pool: &leadgen_db::DbPool,
    user: &AuthUser,
    action: AuditAction,
    leads: &[leadgen_domain::LeadId],
    refusal: (u32, String),
    detail: Option<serde_json::Value>,
) -> Result<(), crate::error::LeadApiError> {
    let mut conn = leadgen_db::conn(pool).await?;
    let line = Line {
        operator: &operator(user),
        action,
        leads: leads.iter().map(ToString::to_string).collect(),
        outcome: Err(refusal),
        detail,
    };
    let trace_id = leadgen_telemetry::current_trace_id();
    Ok(record(&mut conn, user.tenant_id, line, &trace_id).await?)
}
