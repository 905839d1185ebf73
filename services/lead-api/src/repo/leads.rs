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
pub use super::tag_stats::TagStats;

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
    /// How many ids were asked for: at least the caller's `need`, the whole browsing window (one
    /// past it) when the statement reads every match anyway.
    pub asked: i64,
    /// The total, when it was counted on the way (up to one past [`LIST_WINDOW`]).
    pub counted: Option<i64>,
    pub statement: Statement,
}

/// Below this share of all leads, a tag filter's matches are found through the tags' index and
/// sorted ([`list_sql::fenced`]): at a million leads, 25,000 index entries, about 10 ms.
pub const FENCED_TAG_SHARE: f64 = 0.025;

/// From this share on, a tag filter in order-time order scans the time index instead of merging
/// one scan per combination: matches are then dense anywhere in time.
pub const MERGED_TAG_SHARE: f64 = 0.5;

/// The first `need` matching ids in the list's order (`id` breaks ties), from the statement
/// that bounds the work for this filter and sort (`list_sql`; `docs/lead-list.md`):
///
/// - tags in order-time order, unless nearly every lead has them: one ordered scan per tag
///   combination, merged (tags are derived from recency, frequency and value, so their matches
///   gather at one end of every sort);
/// - tags held by few leads in any other order, or a contact keyword of three or more
///   characters deep in the window or with other filters: every match through the filter's
///   own index, sorted, and the whole window at once (the total with it);
/// - such a keyword alone near the list's start: counted first through the trigram index;
///   fenced when its matches fit the window, else the sort's index testing the keyword;
/// - else the plain statement, for the planner to choose.
pub async fn first_ids(
    conn: &mut AsyncPgConnection,
    tag_stats: &TagStats,
    tenant: i64,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    need: i64,
) -> QueryResult<Found> {
    let share = match list_sql::asked_tags(filter) {
        Some(mask) => Some(tag_stats.share(conn, mask).await?),
        None => None,
    };
    // A keyword the trigram index serves, deep in the window or narrowed further by shop,
    // status or order time: its matches are fewer than the sort's index entries to pass.
    let narrowed = filter.platform_id.is_some()
        || filter.process_status.is_some()
        || filter.order_time_start.is_some()
        || filter.order_time_end.is_some()
        || !filter.tags.is_empty();
    let deep_keyword = (need > LIST_WINDOW / 2 || narrowed)
        && filter
            .contact_keyword
            .as_ref()
            .is_some_and(|k| k.chars().count() >= 3);
    let fence = match share {
        Some(share) if list_sql::per_combination(filter, sort) && share < MERGED_TAG_SHARE => {
            let statement = list_sql::per_tag_combination(tenant, filter, sort, need);
            let ids = load_ids(conn, &statement).await?;
            return Ok(Found {
                ids,
                asked: need,
                counted: None,
                statement,
            });
        }
        Some(share) => share < FENCED_TAG_SHARE,
        None => false,
    } || deep_keyword;
    let trigram_keyword = filter.phone_indexes.is_none()
        && filter
            .contact_keyword
            .as_ref()
            .is_some_and(|k| k.chars().count() >= 3);
    let mut counted = None;
    if trigram_keyword && !fence {
        // A keyword alone, near the list's start: count first through the trigram index (it
        // stops at the window's end). Few matches: read them all (fenced). Many: the first
        // page lies near the start of the sort's index, which tests the keyword itself (the
        // planner's estimate of a `LIKE` varies with ANALYZE's sample, and its choice with it).
        let n = count_to_window_end(conn, tenant, filter).await?;
        if n > LIST_WINDOW {
            counted = Some(n);
        }
    }
    let (statement, asked) = match counted {
        Some(_) => (
            list_sql::plain_scanning_keyword(tenant, filter, sort, need),
            need,
        ),
        None if (fence || trigram_keyword) && filter.phone_indexes.is_none() => {
            // Every match is read and sorted whatever the limit: take the whole window, which
            // also gives the total.
            let asked = need.max(LIST_WINDOW + 1);
            (list_sql::fenced(tenant, filter, sort, asked), asked)
        }
        None => (list_sql::plain(tenant, filter, sort, need), need),
    };
    let ids = load_ids(conn, &statement).await?;
    Ok(Found {
        ids,
        asked,
        counted,
        statement,
    })
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

/// How many leads pass `filter`, counted up to one past [`LIST_WINDOW`].
async fn count_to_window_end(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    filter: &LeadFilter,
) -> QueryResult<i64> {
    let count: Count = list_sql::bounded_count(tenant, filter, LIST_WINDOW + 1)
        .query()
        .get_result(conn)
        .await?;
    Ok(count.n)
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
    tag_stats: &TagStats,
    tenant: i64,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> QueryResult<LeadPage> {
    let need = need_of(paging);
    let found = first_ids(conn, tag_stats, tenant, filter, sort, need).await?;
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
    let counted = if let Some(counted) = found.counted {
        counted
    } else if matched < found.asked || found.asked > LIST_WINDOW {
        // The ids reached the list's end, or the window's: no count needed.
        matched
    } else {
        count_to_window_end(conn, tenant, filter).await?
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
    tag_stats: &TagStats,
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
    let found = first_ids(conn, tag_stats, tenant, filter, sort, need_of(paging)).await?;
    let plan: Plan = found.statement.explain().query().get_result(conn).await?;
    Ok(plan.plan)
}
