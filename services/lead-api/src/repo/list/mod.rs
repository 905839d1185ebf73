//! How the lead list finds a page's ids at a million leads (`docs/lead-list.md`): no one index
//! answers every filter and sort, so [`route`](route::route) picks the statement that bounds the
//! work for the request ([`first_ids`]), from the planner's statistics ([`stats`]):
//!
//! - [`sql`]: the statements' text and binds, and the plain, fenced and probing shapes;
//! - `keyword`: a contact keyword as disjoint questions, each with its index;
//! - [`merges`]: one ordered scan per tag combination or per (status, shop) pair, merged;
//! - [`months`]: one ordered range per month of a time range, merged;
//! - [`bounds`]: where a lastOrderTime walk enters its index.

pub mod bounds;
mod keyword;
pub mod merges;
pub mod months;
pub mod route;
pub mod sql;
pub mod stats;

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_domain::{LeadProcessStatus, TenantId};
use leadgen_http::paging::SortOrder;

use self::bounds::{implied_last_order, implies_bounds};
use self::route::{PROBE_ENTRIES_PER_ROW, PROBE_MAX_ENTRIES, Route, route};
use self::sql::{Scope, Statement};
use self::stats::ListStats;
use super::leads::{LIST_WINDOW, LeadFilter};

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

/// The first `need` matching ids in the list's order (`id` breaks ties), from the statement
/// [`route::route`] picks.
pub async fn first_ids(
    conn: &mut AsyncPgConnection,
    stats: &ListStats,
    tenant: TenantId,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    need: i64,
) -> QueryResult<Found> {
    let share = match sql::asked_tags(filter) {
        Some(mask) => Some(stats.tag_share(conn, mask).await?),
        None => None,
    };
    let scope = scope(conn, stats, tenant).await?;
    let route = route(filter, sort, need, share);
    if route == Route::Plain
        && sql::sort_column(sort.0) == "last_order_time"
        && implies_bounds(filter)
    {
        return bounded_walk(conn, scope, filter, sort, need).await;
    }
    // Every match is read and sorted whatever the limit: take the whole window, which also
    // gives the total.
    let window = need.max(LIST_WINDOW + 1);
    let fenced = || (sql::fenced(scope, filter, sort, window), window, None);
    let (statement, asked, counted) = match route {
        Route::Plain => (sql::plain(scope, filter, sort, need), need, None),
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
                merges::merged_status_shops(scope, filter, sort, window, &pairs),
                window,
                None,
            ),
            None => (sql::plain(scope, filter, sort, need), need, None),
        },
        // As the status merge: the whole window for about its own length in entries.
        Route::Months => match months::parts(filter, sort, Utc::now()) {
            Some(parts) => (
                months::merged_months(scope, filter, sort, window, &parts),
                window,
                None,
            ),
            None => (sql::plain(scope, filter, sort, need), need, None),
        },
        Route::Probed => {
            let request = format!("{tenant}|{need}|{sort:?}|{filter:?}");
            if !stats.probe_missed(&request) {
                let entries = need
                    .saturating_mul(PROBE_ENTRIES_PER_ROW)
                    .min(PROBE_MAX_ENTRIES);
                let probe = sql::probe(scope, filter, sort, need, entries);
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
                (sql::plain(scope, filter, sort, need), need, Some(n))
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
/// ([`merges::merged_combinations`]: about `need` entries read, 0.08 ms of planning per
/// combination); beyond, each scan is cut at `need` and all are sorted together
/// ([`merges::per_tag_combination`]).
pub const MAX_MERGED_COMBINATIONS: usize = 48;

/// The merged route's statement for `filter`'s tags. Near the list's start (`need` up to half
/// the window) one scan per possible combination, each cut at `need`: a few entries each, and
/// no statement first. Deeper, the combinations the tenant's leads hold are looked up
/// ([`sql::present_combinations`], about 1 ms) and their scans merged lazily: the whole
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
    let mask = sql::asked_tags(filter).unwrap_or_default();
    if need <= LIST_WINDOW / 2 {
        let possible = sql::combinations(mask);
        return Ok(merges::per_tag_combination(
            scope, filter, sort, need, &possible,
        ));
    }
    let present: Vec<i32> = sql::present_combinations(scope, mask)
        .query()
        .load::<Bits>(conn)
        .await?
        .into_iter()
        .map(|b| b.bits)
        .collect();
    Ok(if present.len() <= MAX_MERGED_COMBINATIONS {
        merges::merged_combinations(scope, filter, sort, need, &present)
    } else {
        merges::per_tag_combination(scope, filter, sort, need, &present)
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
            let shops: Vec<Shop> = merges::present_shops(scope, status)
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
pub(crate) async fn scope(
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
                let statement = sql::plain(scope, &bounded, sort, need);
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

/// How many leads pass `filter`, counted up to one past [`LIST_WINDOW`].
pub(crate) async fn count_to_window_end(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    filter: &LeadFilter,
) -> QueryResult<i64> {
    let count: Count = sql::bounded_count(scope, filter, LIST_WINDOW + 1)
        .query()
        .get_result(conn)
        .await?;
    Ok(count.n)
}

/// The ids a statement of [`sql`] finds.
pub async fn load_ids(
    conn: &mut AsyncPgConnection,
    statement: &Statement,
) -> QueryResult<Vec<i64>> {
    let rows: Vec<Id> = statement.query().load(conn).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}
