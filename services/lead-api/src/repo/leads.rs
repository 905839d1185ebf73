//! The documented read-only coupling to order-processor's `t_order_lead`: one row per buyer.
//! Every query is scoped by tenant and leaves out leads merged into another; the sealed contact
//! column is never read here.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_order_lead as lead;
use leadgen_http::paging::{Paging, SortOrder};

use super::list_sql::{self, Statement};

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

/// Where a page's ids came from (the statement the benchmark explains).
#[derive(Debug)]
pub struct Found {
    pub ids: Vec<i64>,
    pub statement: Statement,
}

/// The first `need` matching ids in the list's order (`id` breaks ties): a probe near the
/// list's start when the filter may find them there, else the statement that fits the filter
/// and sort (`list_sql`).
pub async fn first_ids(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    need: i64,
) -> QueryResult<Found> {
    if list_sql::probe_worthwhile(filter, sort) {
        let statement = list_sql::probe(tenant, filter, sort, need, list_sql::PROBE_WINDOW);
        let ids = load_ids(conn, &statement).await?;
        if ids.len() as i64 >= need {
            return Ok(Found { ids, statement });
        }
    }
    let statement = if list_sql::per_combination(filter, sort) {
        list_sql::per_tag_combination(tenant, filter, sort, need)
    } else {
        list_sql::plain(tenant, filter, sort, need)
    };
    let ids = load_ids(conn, &statement).await?;
    Ok(Found { ids, statement })
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The ids a statement of `list_sql` finds.
pub async fn load_ids(
    conn: &mut AsyncPgConnection,
    statement: &Statement,
) -> QueryResult<Vec<i64>> {
    let rows: Vec<Id> = statement.query().load(conn).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
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
    tenant: i64,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> QueryResult<LeadPage> {
    let need = need_of(paging);
    let found = first_ids(conn, tenant, filter, sort, need).await?;
    let offset = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
    let size = usize::try_from(paging.size).unwrap_or_default();
    let ids: Vec<i64> = found.ids.iter().skip(offset).take(size).copied().collect();
    let mut rows: Vec<LeadRow> = if ids.is_empty() {
        Vec::new()
    } else {
        lead::table
            .filter(lead::tenant_id.eq(tenant))
            .filter(lead::id.eq_any(&ids))
            .select(LeadRow::as_select())
            .load(conn)
            .await?
    };
    rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
    let matched = found.ids.len() as i64;
    let counted = if matched < need || need > LIST_WINDOW {
        // The ids reached the list's end, or the window's: no count needed.
        matched
    } else {
        let count: Count = list_sql::bounded_count(tenant, filter, LIST_WINDOW + 1)
            .query()
            .get_result(conn)
            .await?;
        count.n
    };
    Ok(LeadPage {
        rows,
        total: counted.min(LIST_WINDOW),
        exact: counted <= LIST_WINDOW,
    })
}

/// The plan of the statement that finds this page's ids (`EXPLAIN (FORMAT JSON)`).
pub async fn explain(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        plan: String,
    }
    let found = first_ids(conn, tenant, filter, sort, need_of(paging)).await?;
    let plan: Plan = found.statement.explain().query().get_result(conn).await?;
    Ok(plan.plan)
}
