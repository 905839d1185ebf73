//! Which statement finds a page's ids ([`Route`]), from the filter, the sort, the depth and the
//! asked tags' share of all leads.

use chrono::Utc;
use leadgen_http::paging::SortOrder;

use super::{merges, months, sql};
use crate::repo::leads::{LIST_WINDOW, LeadFilter};

/// Below this share of all leads, a tag filter's matches are found through the tags' index and
/// sorted ([`sql::fenced`]): at a million leads, 25,000 index entries, about 10 ms.
pub const FENCED_TAG_SHARE: f64 = 0.025;

/// A rare tag in an order other than order time first probes the head of the sort's order:
/// `need` × this many entries, at most [`PROBE_MAX_ENTRIES`] ([`sql::probe`]). Tags are
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

/// Which statement finds a page's ids ([`super::sql`]; `docs/lead-list.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The planner's choice; by last order, with a time range or tags, entered where the
    /// matches begin ([`implied_last_order`](super::bounds::implied_last_order), `bounded_walk`).
    Plain,
    /// One ordered scan per tag combination, merged.
    Merged,
    /// One ordered range per (status, shop) pair, merged ([`merges::merged_status_shops`]).
    StatusShops,
    /// A time range in creation or score order: one ordered range per month of the order time, merged
    /// ([`months::merged_months`]).
    Months,
    /// Every match through the filter's own index, sorted; the whole window at once.
    Fenced,
    /// The head of the sort's order probed first ([`sql::probe`]); fenced when the
    /// matches are not dense there, and at once while the same request's probe came back short
    /// within the last minute ([`ListStats::probe_missed`](super::stats::ListStats::probe_missed)).
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
///   the status spans more than [`MAX_MERGED_SHOPS`](super::MAX_MERGED_SHOPS) shops;
/// - a time range with a start in creation or score order, up to
///   [`months::MAX_MERGED_MONTHS`] months: merged per month;
/// - else plain.
pub fn route(filter: &LeadFilter, sort: (&str, SortOrder), need: i64, share: Option<f64>) -> Route {
    if filter.phone.is_some() {
        return Route::Plain;
    }
    if filter
        .contact_keyword
        .as_deref()
        .is_some_and(sql::trigram_keyword)
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
        Some(share) if sql::per_combination(filter, sort) && share < MERGED_TAG_SHARE => {
            Route::Merged
        }
        Some(share) if share < FENCED_TAG_SHARE => Route::Probed,
        // A shop or a status narrows a range more than a month does (`every filter` by score,
        // a year in it: 5 ms per (status, shop) pair, 30 ms per month).
        _ if merges::per_status_and_shop(filter, sort) => Route::StatusShops,
        _ if months::parts(filter, sort, Utc::now()).is_some() => Route::Months,
        _ => Route::Plain,
    }
}

#[cfg(test)]
mod tests {
    use leadgen_domain::LeadProcessStatus;

    use crate::repo::leads::PhoneSearch;

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
            phone: Some(PhoneSearch {
                indexes: vec!["k".into()],
                mask: "138****0000".into(),
            }),
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
}
