//! The process status a buyer-lead keeps when leads merge into it: a salesperson's decision is
//! never lost to a merge, and the lead's history says where it came from.

use diesel_async::AsyncPgConnection;
use leadgen_db::status_history::{self, NewChange};
use leadgen_domain::lead::merge_process_status;
use leadgen_domain::{LeadId, LeadProcessStatus, TenantId, UserId};

use crate::repo::leads::LeadState;

/// A status a lead took from the leads merged into it (or from its per-order leads).
pub(super) struct MergedStatus {
    pub lead: i64,
    pub from: String,
    pub to: LeadProcessStatus,
    pub note: String,
}

impl MergedStatus {
    /// The move from the lead's locked state (`None`: a new lead, `PENDING`) to `status`, or
    /// `None` when the status stays.
    pub fn between(
        lead: i64,
        old: Option<&LeadState>,
        status: LeadProcessStatus,
        merged: &[i64],
    ) -> Option<MergedStatus> {
        let from = old.map_or(LeadProcessStatus::Pending, |o| o.process_status);
        (from != status).then(|| MergedStatus {
            lead,
            from: from.as_str().to_owned(),
            to: status,
            note: note(merged),
        })
    }
}

/// Why a lead's status moved without anyone setting it, for its history.
fn note(merged: &[i64]) -> String {
    if merged.is_empty() {
        return "沿用该买家原有线索的处理状态".to_owned();
    }
    let ids: Vec<String> = merged.iter().map(i64::to_string).collect();
    format!("已合并同一买家的线索 {}，沿用其处理状态", ids.join("、"))
}

/// Writes the merged statuses into their leads' histories, the system as operator.
pub(super) async fn record(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    moved: &[MergedStatus],
) -> anyhow::Result<()> {
    let changes: Vec<NewChange<'_>> = moved
        .iter()
        .map(|m| NewChange {
            tenant_id: tenant,
            lead_id: LeadId::new(m.lead),
            from_status: &m.from,
            to_status: m.to.as_str(),
            note: Some(&m.note),
            operator_id: UserId::SYSTEM,
            operator_name: "",
        })
        .collect();
    status_history::record(conn, &changes).await?;
    Ok(())
}

/// The process status a buyer-lead keeps: its own, merged with that of leads merging into it
/// and with the kept decisions of per-order leads (`leadgen_domain::lead::merge_process_status`).
pub(super) fn merged<'a>(
    own: Option<&LeadState>,
    merged: impl Iterator<Item = &'a LeadState>,
    legacy: impl Iterator<Item = LeadProcessStatus>,
) -> LeadProcessStatus {
    own.map(|s| s.process_status)
        .into_iter()
        .chain(merged.map(|s| s.process_status))
        .chain(legacy)
        .fold(LeadProcessStatus::Pending, merge_process_status)
}
