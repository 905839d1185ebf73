//! A time range in creation or score order: one ordered range of `ix_lead_list_month_created` or
//! `ix_lead_list_month_score` (migration 32) per month of the order time the range covers,
//! merged lazily by the planner (a Merge Append). Creation and order time lie far apart for the
//! buyers a range asks for (an old buyer who bought again last week): `last 30 days` by oldest
//! creation found its 100th match 197,000 entries into the creation index; by lowest score it
//! passed 144,000 entries of the score index (recent buyers score high on recency). Per month, each range is in creation order and mostly
//! matches, so the merge reads about as many entries as it returns (`docs/lead-list.md`).

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use leadgen_http::paging::SortOrder;

use super::keyword::Keyword;
use super::merges::merge;
use super::sql::{Bind, Scope, Statement, push_filter, sort_column, visible};
use crate::repo::leads::LeadFilter;

/// Up to this many months a range is merged per month; beyond, the planning of a range per
/// month outweighs what it saves (as [`super::MAX_MERGED_COMBINATIONS`]).
pub const MAX_MERGED_MONTHS: usize = 48;

/// One range of the merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The leads whose order time falls in this month (UTC; the index's key).
    Month(NaiveDate),
    /// The leads ordered from this instant on: past the months up to now, for a range without
    /// an end (none, unless a platform's clock runs ahead; found through the time index).
    From(DateTime<Utc>),
}

/// The ranges that cover `filter`'s time range; `None` when the merge does not serve the
/// request: an order without a (month, sort) index, no start, or more than
/// [`MAX_MERGED_MONTHS`] months.
pub fn parts(
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    now: DateTime<Utc>,
) -> Option<Vec<Part>> {
    if !matches!(sort_column(sort.0), "create_time" | "score") {
        return None;
    }
    let start = filter.order_time_start?;
    let end = filter.order_time_end.unwrap_or(now).max(start);
    let last = month_of(end)?;
    let mut month = month_of(start)?;
    let mut parts = Vec::new();
    while month <= last {
        if parts.len() == MAX_MERGED_MONTHS {
            return None;
        }
        parts.push(Part::Month(month));
        month = month.checked_add_months(Months::new(1))?;
    }
    if filter.order_time_end.is_none() {
        parts.push(Part::From(
            Utc.from_utc_datetime(&month.and_hms_opt(0, 0, 0)?),
        ));
    }
    Some(parts)
}

fn month_of(t: DateTime<Utc>) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(t.year(), t.month(), 1)
}

/// The first `limit` matching ids in creation or score order, from one ordered range per part: about
/// `limit` entries read plus one descent per month. The filter's other conditions (shop, status,
/// tags, a short keyword) are tested in each range.
pub fn merged_months(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
    parts: &[Part],
) -> Statement {
    let scope: Scope = scope.into();
    merge(parts, sort, limit, |s, part| {
        s.push(&format!("SELECT id, {}", sort_column(sort.0)));
        visible(s, scope);
        match part {
            // Written as the index's expression, with a constant the planner matches to it.
            Part::Month(month) => s.push(&format!(
                " AND date_trunc('month', order_time AT TIME ZONE 'UTC') = '{}'::timestamp",
                month.format("%Y-%m-%d")
            )),
            Part::From(t) => s.push(" AND order_time >= ").bind(Bind::Time(*t)),
        };
        push_filter(s, scope.tenant, filter, true, &Keyword::Tested);
        s.order_limit("", sort, limit);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    fn month(y: i32, m: u32) -> Part {
        Part::Month(NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default())
    }

    #[test]
    fn a_range_is_its_months_and_an_open_one_everything_after_them() {
        let now = at("2026-12-03T10:00:00Z");
        let sort = ("createTime", SortOrder::Asc);
        let closed = LeadFilter {
            order_time_start: Some(at("2025-11-30T23:00:00Z")),
            order_time_end: Some(at("2026-01-01T00:00:00Z")),
            ..LeadFilter::default()
        };
        assert_eq!(
            parts(&closed, sort, now),
            Some(vec![month(2025, 11), month(2025, 12), month(2026, 1)])
        );
        let open = LeadFilter {
            order_time_start: Some(at("2026-11-03T10:00:00Z")),
            ..LeadFilter::default()
        };
        assert_eq!(
            parts(&open, sort, now),
            Some(vec![
                month(2026, 11),
                month(2026, 12),
                Part::From(at("2027-01-01T00:00:00Z"))
            ])
        );
        // Another order, no start, or too many months: not this statement.
        assert_eq!(
            parts(&open, ("score", SortOrder::Asc), now).map(|p| p.len()),
            Some(3)
        );
        assert_eq!(parts(&open, ("amount", SortOrder::Asc), now), None);
        let no_start = LeadFilter {
            order_time_end: Some(now),
            ..LeadFilter::default()
        };
        assert_eq!(parts(&no_start, sort, now), None);
        let long = LeadFilter {
            order_time_start: Some(at("2022-12-01T00:00:00Z")),
            order_time_end: Some(at("2026-11-30T00:00:00Z")),
            ..LeadFilter::default()
        };
        assert_eq!(parts(&long, sort, now).map(|p| p.len()), Some(48));
        let longer = LeadFilter {
            order_time_start: Some(at("2022-11-30T00:00:00Z")),
            ..long
        };
        assert_eq!(parts(&longer, sort, now), None);
    }
}
