//! Where a walk of the lastOrderTime index enters it: the `last_order_time` range a time range
//! on the order time, and tags, imply.

use chrono::{DateTime, SubsecRound as _, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_http::paging::SortOrder;

use super::sql::{self, Scope};
use crate::repo::leads::{LeadFilter, TimeRange};

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
/// end where the walk begins to their matches' edge ([`sql::time_bounds`]: `沉睡`, by
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
    let mask = sql::asked_tags(filter);
    let found: Bounds = sql::time_bounds(scope, mask, order)
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
pub(super) fn implies_bounds(filter: &LeadFilter) -> bool {
    filter.order_time_start.is_some()
        || filter.order_time_end.is_some()
        || sql::asked_tags(filter).is_some()
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

#[cfg(test)]
mod tests {
    use super::*;

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
