//! The documented read-only coupling to order-processor's `t_order_lead`: one row per buyer.
//! Every query is scoped by tenant and leaves out leads merged into another; the sealed contact
//! column is never read here.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::{t_lead_identity as identity, t_order_lead as lead};
use leadgen_http::paging::{Paging, SortOrder};

/// The columns the list shows (the detail embeds them).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct LeadRow {
    pub id: i64,
    pub platform_id: i64,
    pub platform_type: String,
    pub order_id: String,
    pub contact_masked: String,
    pub contact_kind: String,
    pub product_info: String,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub intention_tags: Vec<String>,
    pub score: i16,
    pub process_status: String,
    pub create_time: DateTime<Utc>,
    pub order_count: i32,
    pub paid_total_fen: i64,
    pub last_order_time: DateTime<Utc>,
    pub score_reasons: serde_json::Value,
    pub model_version: String,
    pub contact_validity_reason: serde_json::Value,
}

/// Filters of GET leads.
#[derive(Debug, Default)]
pub struct LeadFilter {
    pub platform_id: Option<i64>,
    pub order_time_start: Option<DateTime<Utc>>,
    pub order_time_end: Option<DateTime<Utc>>,
    pub contact_keyword: Option<String>,
    /// A full mobile number's blind indexes (every configured key): the buyer is found through
    /// `t_lead_identity`, never by scanning or decrypting contacts.
    pub phone_indexes: Option<Vec<String>>,
    pub process_status: Option<String>,
    pub tags: Vec<String>,
}

/// Sort fields GET leads accepts.
pub const SORT_FIELDS: &[&str] = &[
    "orderTime",
    "createTime",
    "score",
    "amount",
    "totalAmount",
    "lastOrderTime",
];

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> QueryResult<(Vec<LeadRow>, i64)> {
    let query = || {
        let mut q = lead::table
            .filter(lead::tenant_id.eq(tenant))
            .filter(lead::merged_into.is_null())
            .into_boxed();
        if let Some(p) = filter.platform_id {
            q = q.filter(lead::platform_id.eq(p));
        }
        if let Some(t) = filter.order_time_start {
            q = q.filter(lead::order_time.ge(t));
        }
        if let Some(t) = filter.order_time_end {
            q = q.filter(lead::order_time.le(t));
        }
        if let Some(indexes) = &filter.phone_indexes {
            let owners = identity::table
                .filter(identity::tenant_id.eq(tenant))
                .filter(identity::key_hash.eq_any(indexes.clone()))
                .select(identity::lead_id);
            q = q.filter(lead::id.eq_any(owners));
        } else if let Some(k) = &filter.contact_keyword {
            q = q.filter(lead::contact_masked.like(format!("%{}%", escape_like(k))));
        }
        if let Some(s) = &filter.process_status {
            q = q.filter(lead::process_status.eq(s.clone()));
        }
        if !filter.tags.is_empty() {
            q = q.filter(lead::intention_tags.contains(filter.tags.clone()));
        }
        q
    };
    let total = query().count().get_result(conn).await?;
    let q = match sort {
        ("createTime", SortOrder::Asc) => query().order(lead::create_time.asc()),
        ("createTime", SortOrder::Desc) => query().order(lead::create_time.desc()),
        ("score", SortOrder::Asc) => query().order(lead::score.asc()),
        ("score", SortOrder::Desc) => query().order(lead::score.desc()),
        ("amount", SortOrder::Asc) => query().order(lead::amount_fen.asc()),
        ("amount", SortOrder::Desc) => query().order(lead::amount_fen.desc()),
        ("totalAmount", SortOrder::Asc) => query().order(lead::paid_total_fen.asc()),
        ("totalAmount", SortOrder::Desc) => query().order(lead::paid_total_fen.desc()),
        ("lastOrderTime", SortOrder::Asc) => query().order(lead::last_order_time.asc()),
        ("lastOrderTime", SortOrder::Desc) => query().order(lead::last_order_time.desc()),
        (_, SortOrder::Asc) => query().order(lead::order_time.asc()),
        (_, SortOrder::Desc) => query().order(lead::order_time.desc()),
    };
    let q = match sort.1 {
        SortOrder::Asc => q.then_order_by(lead::id.asc()),
        SortOrder::Desc => q.then_order_by(lead::id.desc()),
    };
    let rows = q
        .limit(paging.size)
        .offset(paging.offset())
        .select(LeadRow::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}
