//! The operation log (design 7): operator, time, action, target ids, result, error, and what the
//! action was asked to do where that is more than its targets (`detail`).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_domain::audit::{AuditAction, AuditResult, AuditTarget};
use leadgen_domain::{TenantId, UserId};

use crate::schema::t_operation_log;

/// Who acted: a user from the token, or the system (scheduler, workers).
#[derive(Debug, Clone)]
pub enum Operator {
    User { id: UserId, name: String },
    System,
}

impl Operator {
    /// The operator's user id where a table needs one ([`UserId::SYSTEM`] for the system).
    pub fn user_id(&self) -> UserId {
        match self {
            Operator::User { id, .. } => *id,
            Operator::System => UserId::SYSTEM,
        }
    }

    /// The operator's name ("" for the system).
    pub fn name(&self) -> &str {
        match self {
            Operator::User { name, .. } => name,
            Operator::System => "",
        }
    }
}

/// How an entry names its shop beside its targets' own ids (a sync task's; the leads identified
/// from a shop's orders): the audit API finds such entries by the shop's id, and shows it as the
/// entry's `platformId`.
pub const SHOP_BESIDE: &str = "platform:";

/// A sync task's target ids: the task, then its shop ([`SHOP_BESIDE`]).
pub fn sync_task_targets(
    task_id: impl std::fmt::Display,
    platform_id: impl std::fmt::Display,
) -> Vec<String> {
    targets_beside_shop([task_id], platform_id)
}

/// Target ids, then the shop they belong to ([`SHOP_BESIDE`]).
pub fn targets_beside_shop<T: std::fmt::Display>(
    ids: impl IntoIterator<Item = T>,
    platform_id: impl std::fmt::Display,
) -> Vec<String> {
    let mut targets: Vec<String> = ids.into_iter().map(|id| id.to_string()).collect();
    targets.push(format!("{SHOP_BESIDE}{platform_id}"));
    targets
}

/// One entry.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub tenant_id: TenantId,
    pub service: &'static str,
    pub operator: &'a Operator,
    pub action: AuditAction,
    pub target_type: AuditTarget,
    pub target_ids: Vec<String>,
    /// `Err(message)` records a failure; never put secrets or personal data in it.
    pub result: Result<(), String>,
}

/// Appends an entry on `conn` (inside the caller's transaction when there is one).
pub async fn record(
    conn: &mut AsyncPgConnection,
    entry: Entry<'_>,
    trace_id: &str,
) -> QueryResult<()> {
    insert(conn, entry, None, trace_id).await
}

/// The same with what the action was asked to do (a reveal's purpose and reason, a status
/// change's from, to and note), shown to auditors as it is: never secrets or personal data.
pub async fn record_detailed(
    conn: &mut AsyncPgConnection,
    entry: Entry<'_>,
    detail: &serde_json::Value,
    trace_id: &str,
) -> QueryResult<()> {
    insert(conn, entry, Some(detail), trace_id).await
}

async fn insert(
    conn: &mut AsyncPgConnection,
    entry: Entry<'_>,
    detail: Option<&serde_json::Value>,
    trace_id: &str,
) -> QueryResult<()> {
    let (operator_id, operator_name) = match entry.operator {
        // A user acting without a name at hand (the consent a user started, completed by the
        // platform's redirect) is recorded by id, the name null rather than "".
        Operator::User { id, name } => (
            Some(id.get()),
            Some(name.clone()).filter(|n| !n.trim().is_empty()),
        ),
        Operator::System => (None, None),
    };
    let (result, error_message) = match entry.result {
        Ok(()) => (AuditResult::Success.as_str(), None),
        Err(e) => (AuditResult::Failure.as_str(), Some(bounded(e))),
    };
    diesel::insert_into(t_operation_log::table)
        .values((
            t_operation_log::tenant_id.eq(entry.tenant_id.get()),
            t_operation_log::service.eq(entry.service),
            t_operation_log::operator_id.eq(operator_id),
            t_operation_log::operator_name.eq(operator_name),
            t_operation_log::action.eq(entry.action.as_str()),
            t_operation_log::target_type.eq(entry.target_type.as_str()),
            t_operation_log::target_ids.eq(entry.target_ids),
            t_operation_log::result.eq(result),
            t_operation_log::error_message.eq(error_message),
            t_operation_log::trace_id.eq(trace_id),
            t_operation_log::detail.eq(detail),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The longest error message an entry keeps, in characters: a refusal that lists a request's
/// every failed field would otherwise store whatever a 256 KB body could make it say, and the
/// log's pages would carry it.
pub const MAX_ERROR_CHARS: usize = 2000;

/// `message` cut to [`MAX_ERROR_CHARS`], marked when cut.
fn bounded(message: String) -> String {
    match message.char_indices().nth(MAX_ERROR_CHARS) {
        Some((at, _)) => format!("{}…（已截断）", &message[..at]),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_error_message_is_cut_and_marked() {
        assert_eq!(super::bounded("短".into()), "短");
        let long = "错".repeat(super::MAX_ERROR_CHARS + 5);
        let cut = super::bounded(long);
        assert_eq!(
            cut.chars().count(),
            super::MAX_ERROR_CHARS + "…（已截断）".chars().count()
        );
        assert!(cut.ends_with("…（已截断）"));
    }
}
