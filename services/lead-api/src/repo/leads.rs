//! The documented read-only coupling to order-processor's `t_order_lead`: one row per buyer.
//! Every query is scoped by tenant and leaves out leads merged into another; the sealed contact
//! column is never read here.

use chrono::{DateTime, SubsecRound as _, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_order_lead as lead;
use leadgen_domain::{LeadId, LeadProcessStatus, TenantId};
use leadgen_http::paging::{Paging, SortOrder};

use super::list_months;
use super::list_sql::{self, Scope, Statement};
pub use super::list_stats::ListStats;

/// The columns the list shows (the detail embeds them).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct LeadRow {
    #[diesel(deserialize_as = i64)]
    pub id: LeadId,
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
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub platform_id: Option<i64>,
    pub order_time_start: Option<DateTime<Utc>>,
    pub order_time_end: Option<DateTime<Utc>>,
    pub contact_keyword: Option<String>,
    /// A full mobile number's blind indexes (every configured key): the buyer is found through
    /// `t_lead_identity`, never by scanning or decrypting contacts.
    pub phone_indexes: Option<Vec<String>>,
    pub process_status: Option<LeadProcessStatus>,
    pub tags: Vec<String>,
    /// The `last_order_time` range the time range and tags imply ([`implied_last_order`]):
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
    /// The tenant as the statements wrote it, for the page's count.
    pub scope: Scope,
}

/// Below this share of all leads, a tag filter's matches are found through the tags' index and
/// sorted ([`list_sql::fenced`]): at a million leads, 25,000 index entries, about 10 ms.
pub const FENCED_TAG_SHARE: f64 = 0.025;

/// A rare tag in an order other than order time first probes the head of the sort's order:
/// `need` × this many entries, at most [`PROBE_MAX_ENTRIES`] ([`list_sql::probe`]). Tags are
/// derived from what the list sorts by (`高意向` from the score, `沉睡` from recency, `高价值`
/// from the amount), so a rare tag is often dense at one end of the order: there the probe
/// answers from a few thousand index entries instead of reading and sorting every match.
pub const PROBE_ENTRIES_PER_ROW: i64 = 5;

/// The most entries a probe reads (about 1 ms) before the fenced statement takes over. With
/// [`PROBE_ENTRIES_PER_ROW`], a probe answers when the asked tags hold at least a fifth of the
/// head of the order.
pub const PROBE_MAX_ENTRIES: i64 = 10_000;

/// From this share on, a tag filter in order-time order scans the time index instead of merging
/// one scan per combination: matches are then dense anywhere in time.
pub const MERGED_TAG_SHARE: f64 = 0.5;

/// Which statement finds a page's ids (`list_sql`; `docs/lead-list.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The planner's choice; by last order, with a time range or tags, entered where the
    /// matches begin ([`implied_last_order`], `bounded_walk`).
    Plain,
    /// One ordered scan per tag combination, merged.
    Merged,
    /// One ordered range per (status, shop) pair, merged ([`list_sql::merged_status_shops`]).
    StatusShops,
    /// A time range in creation or score order: one ordered range per month of the order time, merged
    /// ([`list_months::merged_months`]).
    Months,
    /// Every match through the filter's own index, sorted; the whole window at once.
    Fenced,
    /// The head of the sort's order probed first ([`list_sql::probe`]); fenced when the
    /// matches are not dense there, and at once while the same request's probe came back short
    /// within the last minute ([`ListStats::probe_missed`]).
    Probed,
    /// A keyword alone near the list's start: counted through the contact indexes first;
    /// fenced when its matches fit the window, else the sort's index testing the keyword.
    CountFirst,
}

/// The statement that bounds the work for this filter and sort, given the share of leads that
/// have the asked tags (`None` without tags):
///
/// - a full mobile is one buyer: plain;
/// - a contact keyword of three or more characters is found through the contact indexes, so
///   its matches bound the work, whatever the tags: fenced when the page lies deep in the
///   window or other filters narrow it, counted first when it is alone near the list's start;
/// - tags in order-time or creation order, unless half the leads have them: merged (tags are
///   derived from recency, frequency and value, so their matches gather at one end of every
///   sort);
/// - tags under [`FENCED_TAG_SHARE`] in any other order: probed, then fenced;
/// - a shop or a status in order-time or score order: merged per (status, shop) pair, unless
///   the status spans more than [`MAX_MERGED_SHOPS`] shops;
/// - a time range with a start in creation or score order, up to
///   [`list_months::MAX_MERGED_MONTHS`] months: merged per month;
/// - else plain.
pub fn route(filter: &LeadFilter, sort: (&str, SortOrder), need: i64, share: Option<f64>) -> Route {
    if filter.phone_indexes.is_some() {
        return Route::Plain;
    }
    if filter
        .contact_keyword
        .as_deref()
        .is_some_and(list_sql::trigram_keyword)
    {
        let narrowed = filter.platform_id.is_some()
            || filter.process_status.is_some()
            || filter.order_time_start.is_some()
            || filter.order_time_end.is_some()
            || !filter.tags.is_empty();
        return if need > LIST_WINDOW / 2 || narrowed {
            Route::Fenced
        } else {
            Route::CountFirst
        };
    }
    match share {
        Some(share) if list_sql::per_combination(filter, sort) && share < MERGED_TAG_SHARE => {
            Route::Merged
        }
        Some(share) if share < FENCED_TAG_SHARE => Route::Probed,
        // A shop or a status narrows a range more than a month does (`every filter` by score,
        // a year in it: 5 ms per (status, shop) pair, 30 ms per month).
        _ if list_sql::per_status_and_shop(filter, sort) => Route::StatusShops,
        _ if list_months::parts(filter, sort, Utc::now()).is_some() => Route::Months,
        _ => Route::Plain,
    }
}

/// The first `need` matching ids in the list's order (`id` breaks ties), from the statement
/// [`route`] picks.
pub async fn first_ids(
    conn: &mut AsyncPgConnection,
    stats: &ListStats,
    tenant: TenantId,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    need: i64,
) -> QueryResult<Found> {
    let share = match list_sql::asked_tags(filter) {
        Some(mask) => Some(stats.tag_share(conn, mask).await?),
        None => None,
    };
    let scope = scope(conn, stats, tenant).await?;
    let route = route(filter, sort, need, share);
    if route == Route::Plain
        && list_sql::sort_column(sort.0) == "last_order_time"
        && implies_bounds(filter)
    {
        return bounded_walk(conn, scope, filter, sort, need).await;
    }
    // Every match is read and sorted whatever the limit: take the whole window, which also
    // gives the total.
    let window = need.max(LIST_WINDOW + 1);
    let fenced = || (list_sql::fenced(scope, filter, sort, window), window, None);
    let (statement, asked, counted) = match route {
        Route::Plain => (list_sql::plain(scope, filter, sort, need), need, None),
        Route::Merged => (
            merged_tags(conn, scope, filter, sort, need).await?,
            need,
            None,
        ),
        Route::Fenced => fenced(),
        // The merge reads about as many entries as it returns: the whole window costs less
        // than a count beside a page.
        Route::StatusShops => match status_shops(conn, scope, filter).await? {
            Some(pairs) => (
                list_sql::merged_status_shops(scope, filter, sort, window, &pairs),
                window,
                None,
            ),
            None => (list_sql::plain(scope, filter, sort, need), need, None),
        },
        // As the status merge: the whole window for about its own length in entries.
        Route::Months => match list_months::parts(filter, sort, Utc::now()) {
            Some(parts) => (
                list_months::merged_months(scope, filter, sort, window, &parts),
                window,
                None,
            ),
            None => (list_sql::plain(scope, filter, sort, need), need, None),
        },
        Route::Probed => {
            let request = format!("{tenant}|{need}|{sort:?}|{filter:?}");
            if !stats.probe_missed(&request) {
                let entries = need
                    .saturating_mul(PROBE_ENTRIES_PER_ROW)
                    .min(PROBE_MAX_ENTRIES);
                let probe = list_sql::probe(scope, filter, sort, need, entries);
                let ids = load_ids(conn, &probe).await?;
                if ids.len() as i64 >= need {
                    return Ok(Found {
                        ids,
                        asked: need,
                        counted: None,
                        statement: probe,
                        scope,
                    });
                }
                stats.remember_probe_miss(request);
            }
            fenced()
        }
        Route::CountFirst => {
            let n = count_to_window_end(conn, scope, filter).await?;
            if n > LIST_WINDOW {
                (list_sql::plain(scope, filter, sort, need), need, Some(n))
            } else {
                fenced()
            }
        }
    };
    let ids = load_ids(conn, &statement).await?;
    Ok(Found {
        ids,
        asked,
        counted,
        statement,
        scope,
    })
}

/// Up to this many tag combinations, a deep page's merged route merges its scans lazily
/// ([`list_sql::merged_combinations`]: about `need` entries read, 0.08 ms of planning per
/// combination); beyond, each scan is cut at `need` and all are sorted together
/// ([`list_sql::per_tag_combination`]).
pub const MAX_MERGED_COMBINATIONS: usize = 48;

/// The merged route's statement for `filter`'s tags. Near the list's start (`need` up to half
/// the window) one scan per possible combination, each cut at `need`: a few entries each, and
/// no statement first. Deeper, the combinations the tenant's leads hold are looked up
/// ([`list_sql::present_combinations`], about 1 ms) and their scans merged lazily: the whole
/// window for about its own length in entries, where cut scans would read up to `need` from
/// each.
pub async fn merged_tags(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    need: i64,
) -> QueryResult<Statement> {
    #[derive(QueryableByName)]
    struct Bits {
        #[diesel(sql_type = Integer)]
        bits: i32,
    }
    let mask = list_sql::asked_tags(filter).unwrap_or_default();
    if need <= LIST_WINDOW / 2 {
        let possible = list_sql::combinations(mask);
        return Ok(list_sql::per_tag_combination(
            scope, filter, sort, need, &possible,
        ));
    }
    let present: Vec<i32> = list_sql::present_combinations(scope, mask)
        .query()
        .load::<Bits>(conn)
        .await?
        .into_iter()
        .map(|b| b.bits)
        .collect();
    Ok(if present.len() <= MAX_MERGED_COMBINATIONS {
        list_sql::merged_combinations(scope, filter, sort, need, &present)
    } else {
        list_sql::per_tag_combination(scope, filter, sort, need, &present)
    })
}

/// Up to this many shops, a status alone in order-time or score order is merged per shop
/// ([`Route::StatusShops`]); beyond, the planning of a range per shop outweighs what it saves.
pub const MAX_MERGED_SHOPS: usize = 32;

/// The (status, shop) pairs that hold `filter`'s leads: the asked status and shop, every status
/// of the asked shop, or the asked status in every shop its leads are in (`None` past
/// [`MAX_MERGED_SHOPS`]).
async fn status_shops(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    filter: &LeadFilter,
) -> QueryResult<Option<Vec<(LeadProcessStatus, i64)>>> {
    #[derive(QueryableByName)]
    struct Shop {
        #[diesel(sql_type = BigInt)]
        shop: i64,
    }
    Ok(match (filter.process_status, filter.platform_id) {
        (Some(status), Some(shop)) => Some(vec![(status, shop)]),
        (None, Some(shop)) => Some(
            LeadProcessStatus::ALL
                .iter()
                .map(|status| (*status, shop))
                .collect(),
        ),
        (Some(status), None) => {
            let shops: Vec<Shop> = list_sql::present_shops(scope, status)
                .query()
                .load(conn)
                .await?;
            (shops.len() <= MAX_MERGED_SHOPS)
                .then(|| shops.into_iter().map(|s| (status, s.shop)).collect())
        }
        (None, None) => None,
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

/// From this share of all leads on, a tenant is [`Scope::dominant`]: its contact searches skip
/// the trigram index's tenant column. Narrowing the matches by tenant then saves at most as
/// many heap visits as the other tenants' matches, and reads a posting list as long as the
/// tenant.
pub const DOMINANT_TENANT_SHARE: f64 = 0.5;

/// The tenant and how its statements write it, from the statistics.
async fn scope(
    conn: &mut AsyncPgConnection,
    stats: &ListStats,
    tenant: TenantId,
) -> QueryResult<Scope> {
    let share = stats.tenant_share(conn, tenant).await?;
    Ok(Scope {
        tenant: tenant.get(),
        dominant: share >= DOMINANT_TENANT_SHARE,
    })
}

/// The plain statement walking the lastOrderTime index from where the matches begin
/// ([`implied_last_order`]). The bounds and the ids are read in one read-only repeatable-read
/// transaction: a lead written between two snapshots could lie outside bounds read before it.
async fn bounded_walk(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    need: i64,
) -> QueryResult<Found> {
    use leadgen_db::ScopedFutureExt as _;
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            async move {
                let bounded = implied_last_order(conn, scope, filter, sort.1).await?;
                let statement = list_sql::plain(scope, &bounded, sort, need);
                let ids = load_ids(conn, &statement).await?;
                Ok(Found {
                    ids,
                    asked: need,
                    counted: None,
                    statement,
                    scope,
                })
            }
            .scope_boxed()
        })
        .await
}

#[derive(QueryableByName)]
struct Bounds {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    edge: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    min_us: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    max_us: Option<i64>,
}

/// `filter` with the `last_order_time` range its time range and tags imply, for a walk in
/// `order`. A lead's `order_time` (its latest order's payment or placing) and
/// `last_order_time` (its last placed order) lie close together, but nothing bounds their
/// distance but the data: so the tenant's smallest and largest `order_time - last_order_time`
/// are read (`ix_lead_order_lag`, one descent each), and every lead with `order_time` in
/// `[start, end]` has `last_order_time` in `[start - largest, end - smallest]`. Tags move the
/// end where the walk begins to their matches' edge ([`list_sql::time_bounds`]: `沉睡`, by
/// newest first, begins half a year ago). One statement; the same filter without a time range
/// or tags, or for a tenant without leads.
pub async fn implied_last_order(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    filter: &LeadFilter,
    order: SortOrder,
) -> QueryResult<LeadFilter> {
    let mut bounded = filter.clone();
    if !implies_bounds(filter) {
        return Ok(bounded);
    }
    let mask = list_sql::asked_tags(filter);
    let found: Bounds = list_sql::time_bounds(scope, mask, order)
        .query()
        .get_result(conn)
        .await?;
    // Whole microseconds, as PostgreSQL holds them (and as the filter's own times are bound).
    let micros = |t: Option<DateTime<Utc>>| t.map(|t| t.trunc_subsecs(6));
    let (mut start, mut end) = (
        micros(filter.order_time_start),
        micros(filter.order_time_end),
    );
    if let Some(edge) = found.edge {
        if order == SortOrder::Asc {
            start = start.max(Some(edge));
        } else {
            end = Some(end.map_or(edge, |e| e.min(edge)));
        }
    }
    if let (Some(min_us), Some(max_us)) = (found.min_us, found.max_us)
        && (start.is_some() || end.is_some())
    {
        bounded.implied_last_order = Some(last_order_range(start, end, min_us, max_us));
    }
    Ok(bounded)
}

/// Whether `filter` bounds where its matches lie in time: a time range, or tags.
fn implies_bounds(filter: &LeadFilter) -> bool {
    filter.order_time_start.is_some()
        || filter.order_time_end.is_some()
        || list_sql::asked_tags(filter).is_some()
}

/// `[start - max_lag, end - min_lag]`, lags in microseconds; an end that would overflow is open.
pub fn last_order_range(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    min_lag_us: i64,
    max_lag_us: i64,
) -> TimeRange {
    let minus =
        |t: DateTime<Utc>, us: i64| t.checked_sub_signed(chrono::Duration::microseconds(us));
    (
        start.and_then(|t| minus(t, max_lag_us)),
        end.and_then(|t| minus(t, min_lag_us)),
    )
}

/// How many leads pass `filter`, counted up to one past [`LIST_WINDOW`].
async fn count_to_window_end(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    filter: &LeadFilter,
) -> QueryResult<i64> {
    let count: Count = list_sql::bounded_count(scope, filter, LIST_WINDOW + 1)
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
    stats: &ListStats,
    tenant: TenantId,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> QueryResult<LeadPage> {
    let need = need_of(paging);
    let found = first_ids(conn, stats, tenant, filter, sort, need).await?;
    let offset = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
    let size = usize::try_from(paging.size).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keyword(k: &str) -> LeadFilter {
        LeadFilter {
            contact_keyword: Some(k.into()),
            ..LeadFilter::default()
        }
    }

    #[test]
    fn the_route_follows_the_filter_the_sort_and_the_tags_share() {
        let by_time = ("orderTime", SortOrder::Desc);
        let by_score = ("score", SortOrder::Desc);
        let tags = LeadFilter {
            tags: vec!["沉睡".into()],
            ..LeadFilter::default()
        };
        assert_eq!(route(&tags, by_time, 10, Some(0.3)), Route::Merged);
        assert_eq!(route(&tags, by_time, 10, Some(0.9)), Route::Plain);
        assert_eq!(route(&tags, by_score, 10, Some(0.3)), Route::Plain);
        assert_eq!(route(&tags, by_score, 10, Some(0.01)), Route::Probed);
        assert_eq!(route(&keyword("138"), by_time, 10, None), Route::CountFirst);
        let shop = LeadFilter {
            platform_id: Some(5),
            ..keyword("13")
        };
        assert_eq!(route(&shop, by_time, 2001, None), Route::StatusShops);
        assert_eq!(route(&shop, by_score, 2001, None), Route::StatusShops);
        assert_eq!(
            route(&shop, ("amount", SortOrder::Desc), 2001, None),
            Route::Plain
        );
        let shop_and_common_tag = LeadFilter {
            tags: vec!["购买过".into()],
            ..shop.clone()
        };
        assert_eq!(
            route(&shop_and_common_tag, by_score, 10, Some(0.9)),
            Route::StatusShops
        );
        let shop_and_tag = LeadFilter {
            tags: vec!["沉睡".into()],
            ..shop.clone()
        };
        assert_eq!(route(&shop_and_tag, by_time, 10, Some(0.3)), Route::Merged);
        let shop_and_trigram = LeadFilter {
            contact_keyword: Some("138".into()),
            ..shop.clone()
        };
        assert_eq!(route(&shop_and_trigram, by_time, 10, None), Route::Fenced);
        assert_eq!(route(&keyword("138"), by_time, 2001, None), Route::Fenced);
        assert_eq!(route(&keyword("13"), by_time, 2001, None), Route::Plain);
        let narrowed = LeadFilter {
            process_status: Some(LeadProcessStatus::Pending),
            ..keyword("138")
        };
        assert_eq!(route(&narrowed, by_score, 10, None), Route::Fenced);
        let phone = LeadFilter {
            phone_indexes: Some(vec!["k".into()]),
            ..tags.clone()
        };
        assert_eq!(route(&phone, by_time, 10, Some(0.01)), Route::Plain);
        let rare_tag_and_keyword = LeadFilter {
            contact_keyword: Some("138".into()),
            ..tags.clone()
        };
        for sort in [by_score, by_time] {
            assert_eq!(
                route(&rare_tag_and_keyword, sort, 10, Some(0.01)),
                Route::Fenced
            );
        }
        let rare_tag_and_short_keyword = LeadFilter {
            contact_keyword: Some("13".into()),
            ..tags.clone()
        };
        assert_eq!(
            route(&rare_tag_and_short_keyword, by_score, 10, Some(0.01)),
            Route::Probed
        );
        // A time range in creation order, with a shop too: merged per month; by score the shop's
        // merge narrows more, and alone the months; in another order or without a start, not.
        let by_creation = ("createTime", SortOrder::Asc);
        let recent = LeadFilter {
            order_time_start: Some(Utc::now() - chrono::Duration::days(30)),
            ..shop.clone()
        };
        assert_eq!(route(&recent, by_creation, 10, None), Route::Months);
        assert_eq!(route(&recent, by_score, 10, None), Route::StatusShops);
        let recent_alone = LeadFilter {
            order_time_start: recent.order_time_start,
            ..LeadFilter::default()
        };
        assert_eq!(route(&recent_alone, by_score, 10, None), Route::Months);
        assert_eq!(
            route(&recent, ("amount", SortOrder::Asc), 10, None),
            Route::Plain
        );
        let until = LeadFilter {
            order_time_end: Some(Utc::now()),
            ..LeadFilter::default()
        };
        assert_eq!(route(&until, by_creation, 10, None), Route::Plain);
        // Tags in creation order are merged per combination, a time range or not.
        let recent_and_rare = LeadFilter {
            tags: vec!["沉睡".into()],
            ..recent
        };
        assert_eq!(
            route(&recent_and_rare, by_creation, 10, Some(0.01)),
            Route::Merged
        );
        assert_eq!(route(&tags, by_creation, 10, Some(0.3)), Route::Merged);
        assert_eq!(route(&tags, by_creation, 10, Some(0.9)), Route::Plain);
    }

    #[test]
    fn a_time_range_bounds_the_last_order_by_the_tenants_lags() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        let (start, end) = (t("2026-01-10T00:00:00Z"), t("2026-01-20T00:00:00Z"));
        let hour = 3_600_000_000;
        // Orders paid up to two days after placing, and one placed an hour after its latest
        // payment: last orders from two days before the start to an hour after the end.
        assert_eq!(
            last_order_range(Some(start), Some(end), -hour, 48 * hour),
            (
                Some(t("2026-01-08T00:00:00Z")),
                Some(t("2026-01-20T01:00:00Z"))
            )
        );
        assert_eq!(
            last_order_range(Some(start), None, 0, 0),
            (Some(start), None)
        );
        assert_eq!(last_order_range(None, Some(end), 0, i64::MAX).0, None);
        // A lag beyond the calendar leaves that end open.
        assert_eq!(
            last_order_range(Some(start), Some(end), i64::MIN, i64::MAX),
            (None, None)
        );
    }
}
