//! The documented read-only coupling to order-processor's `t_order_lead`: one row per buyer,
//! and the list's page of them. Every query is scoped by tenant and leaves out leads merged into
//! another; the sealed contact column is never read here. Which statement finds a page's ids is
//! the `list` module's business.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_order_lead as lead;
use leadgen_domain::{LeadId, LeadProcessStatus, PlatformType, TenantId};
use leadgen_http::paging::{Paging, SortOrder};

pub use super::list::stats::{ListStats, STATS_TTL};
use super::list::{count_to_window_end, first_ids, scope};

/// The columns the list shows (the detail embeds them).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct LeadRow {
    #[diesel(deserialize_as = i64)]
    pub id: LeadId,
    pub platform_id: i64,
    #[diesel(deserialize_as = String)]
    pub platform_type: PlatformType,
    pub order_id: String,
    pub contact_masked: String,
    pub contact_kind: String,
    pub product_info: String,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub intention_tags: Vec<String>,
    pub score: i16,
    #[diesel(deserialize_as = String)]
    pub process_status: LeadProcessStatus,
    pub create_time: DateTime<Utc>,
    pub order_count: i32,
    pub paid_total_fen: i64,
    pub last_order_time: DateTime<Utc>,
    pub score_reasons: serde_json::Value,
    pub model_version: String,
    pub contact_validity_reason: serde_json::Value,
    pub version: i32,
}

/// The shop `id` names in `tenant`: the record a renewal kept when `id` is a renewed
/// authorization's old id (auth-api answered it once, in a 201), else `id` itself (an unknown
/// or another tenant's id too: it then matches no lead).
pub async fn surviving_platform(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: i64,
) -> QueryResult<i64> {
    use leadgen_db::schema::t_ecom_platform_auth as auth;
    let survivor: Option<Option<i64>> = auth::table
        .filter(auth::tenant_id.eq(tenant.get()))
        .filter(auth::id.eq(id))
        .select(auth::superseded_by)
        .first(conn)
        .await
        .optional()?;
    Ok(survivor.flatten().unwrap_or(id))
}

/// A full mobile number searched for, never the number itself.
#[derive(Debug, Clone)]
pub struct PhoneSearch {
    /// Its blind indexes, one per configured key (the current key's first).
    pub indexes: Vec<String>,
    /// The mask it shares with listed contacts (`138****5678`): the daily limit of different
    /// numbers searched behind one mask is counted by it ([`crate::service::quota`]).
    pub mask: String,
}

/// Filters of GET leads.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub platform_id: Option<i64>,
    pub order_time_start: Option<DateTime<Utc>>,
    pub order_time_end: Option<DateTime<Utc>>,
    pub contact_keyword: Option<String>,
    /// A search by a full mobile number: the buyer is found through `t_lead_identity`, never by
    /// scanning or decrypting contacts.
    pub phone: Option<PhoneSearch>,
    pub process_status: Option<LeadProcessStatus>,
    pub tags: Vec<String>,
    /// The `last_order_time` range the time range and tags imply ([`implied_last_order`](super::list::bounds::implied_last_order)):
    /// never from a request; [`first_ids`] sets it for the lastOrderTime sort, so that the
    /// sort's index is entered where the matches begin.
    pub implied_last_order: Option<TimeRange>,
}

/// A range of times, either end open.
pub type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Sort fields GET leads accepts.
pub const SORT_FIELDS: &[&str] = &[
    "orderTime",
    "createTime",
    "score",
    "amount",
    "totalAmount",
    "lastOrderTime",
];

/// How far page numbers reach and where the total stops counting. A page and its total then
/// cost at most this many index entries, whatever the tenant's size; `total` beyond it reads
/// "at least 2,000" (`exact` false). Narrowing the filters brings any lead within reach.
pub const LIST_WINDOW: i64 = 2_000;

/// One page of the list and its (bounded) total.
#[derive(Debug)]
pub struct LeadPage {
    pub rows: Vec<LeadRow>,
    pub total: i64,
    /// False when the total stopped counting at [`LIST_WINDOW`].
    pub exact: bool,
}
/// How many ids a page asks for: up to its end, or the whole browsing window (one past it) once
/// the page lies in the window's second half, so that one scan also gives the total.
fn need_of(paging: Paging) -> i64 {
    let end = paging.offset().saturating_add(paging.size);
    if end > LIST_WINDOW / 2 {
        LIST_WINDOW + 1
    } else {
        end
    }
}

/// A page: its ids ([`first_ids`]), those rows by primary key, and the total, counted up to
/// one past [`LIST_WINDOW`] unless the ids already show it.
pub async fn list(
    conn: &mut AsyncPgConnection,
    stats: &ListStats,
    tenant: TenantId,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> QueryResult<LeadPage> {
    let need = need_of(paging);
    let found = first_ids(conn, stats, tenant, filter, sort, need).await?;
    let offset = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
    // The last page of the window is cut at its end (size 30: page 67 holds leads 1981–2000).
    let size = usize::try_from(paging.size.min(LIST_WINDOW - paging.offset())).unwrap_or_default();
    let ids: Vec<i64> = found.ids.iter().skip(offset).take(size).copied().collect();
    let mut rows: Vec<LeadRow> = if ids.is_empty() {
        Vec::new()
    } else {
        lead::table
            .filter(lead::tenant_id.eq(tenant.get()))
            .filter(lead::id.eq_any(&ids))
            .select(LeadRow::as_select())
            .load(conn)
            .await?
    };
    rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id.get()));
    let matched = found.ids.len() as i64;
    let counted = if let Some(counted) = found.counted {
        counted
    } else if matched < found.asked || found.asked > LIST_WINDOW {
        // The ids reached the list's end, or the window's: no count needed.
        matched
    } else {
        count_to_window_end(conn, found.scope, filter).await?
    };
    Ok(LeadPage {
        rows,
        total: counted.min(LIST_WINDOW),
        exact: counted <= LIST_WINDOW,
    })
}

/// How many leads pass `filter`, counted up to one past [`LIST_WINDOW`].
pub async fn total(
    conn: &mut AsyncPgConnection,
    stats: &ListStats,
    tenant: TenantId,
    filter: &LeadFilter,
) -> QueryResult<i64> {
    let scope = scope(conn, stats, tenant).await?;
    count_to_window_end(conn, scope, filter).await
}

/// The plan of the statement that finds this page's ids (`EXPLAIN (FORMAT JSON)`).
pub async fn explain(
    conn: &mut AsyncPgConnection,
    stats: &ListStats,
    tenant: TenantId,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        plan: String,
    }
    let found = first_ids(conn, stats, tenant, filter, sort, need_of(paging)).await?;
    let plan: Plan = found.statement.explain().query().get_result(conn).await?;
    Ok(plan.plan)
}
