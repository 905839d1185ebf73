//! `t_operation_log`, read for the audit API. Every service appends its own rows (design 7);
//! auth-api reads the tenant's rows of all of them (a documented read-only coupling).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_operation_log as log;
use leadgen_domain::TenantId;
use leadgen_http::paging::{Counted, Paging, RECORDS_WINDOW};

use super::ListError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = log)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct LogRow {
    pub id: i64,
    pub service: String,
    pub operator_id: Option<i64>,
    pub operator_name: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_ids: Vec<String>,
    pub result: String,
    pub error_message: Option<String>,
    pub trace_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub detail: Option<serde_json::Value>,
}

/// Filters of `GET /operation-logs`.
#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    /// Oldest first; newest first by default.
    pub ascending: bool,
    pub operator_id: Option<i64>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub result: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A page of the tenant's entries, newest first unless asked otherwise, and how many match
/// (counted up to one past [`RECORDS_WINDOW`]); no page is read past them, and one starting
/// past a window that did not hold them all is [`ListError::BeyondWindow`].
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    filter: &LogFilter,
    paging: Paging,
) -> Result<(Vec<LogRow>, Counted), ListError> {
    let query = || {
        let mut q = log::table
            .filter(log::tenant_id.eq(tenant.get()))
            .into_boxed();
        if let Some(id) = filter.operator_id {
            q = q.filter(log::operator_id.eq(id));
        }
        if let Some(a) = &filter.action {
            q = q.filter(log::action.eq(a.clone()));
        }
        if let Some(t) = &filter.target_type {
            q = q.filter(log::target_type.eq(t.clone()));
        }
        if let Some(id) = filter.target_id {
            // Without a `targetType`, a shop's id also finds its syncs and the leads identified
            // from its orders, which name it `platform:<id>` beside their own ids; with one, the
            // id is that kind of record's (lead 12 is not shop 12).
            let mut ids = vec![id.to_string()];
            if filter.target_type.is_none() {
                ids.push(format!("{}{id}", leadgen_db::oplog::SHOP_BESIDE));
            }
            q = q.filter(log::target_ids.overlaps_with(ids));
        }
        if let Some(r) = &filter.result {
            q = q.filter(log::result.eq(r.clone()));
        }
        if let Some(t) = filter.from {
            q = q.filter(log::occurred_at.ge(t));
        }
        if let Some(t) = filter.to {
            q = q.filter(log::occurred_at.le(t));
        }
        q
    };
    let found = query()
        .select(log::id)
        .limit(RECORDS_WINDOW + 1)
        .load::<i64>(conn)
        .await?
        .len();
    let counted = Counted::of(found as i64, RECORDS_WINDOW);
    if !counted.page_to_read(paging, RECORDS_WINDOW)? {
        return Ok((Vec::new(), counted));
    }
    let ordered = if filter.ascending {
        query().order((log::occurred_at.asc(), log::id.asc()))
    } else {
        query().order((log::occurred_at.desc(), log::id.desc()))
    };
    let rows = ordered
        .limit(paging.size)
        .offset(paging.offset())
        .select(LogRow::as_select())
        .load(conn)
        .await?;
    Ok((rows, counted))
}
