//! The merged shapes of the list's statements: one ordered scan per part, under `UNION ALL`,
//! which the planner merges lazily (a Merge Append), so that a page reads about as many entries
//! as it returns however rare the part. Parts are tag combinations (`ix_lead_list_tags`,
//! `ix_lead_list_tags_created`) and (status, shop) pairs (`ix_lead_list_status_time`,
//! `ix_lead_list_status_score`); months are in [`super::months`].

use leadgen_domain::LeadProcessStatus;
use leadgen_http::paging::SortOrder;

use super::keyword::Keyword;
use super::sql::{
    Bind, Scope, Statement, int_list, push_filter, sort_column, trigram_keyword, visible,
};
use crate::repo::leads::LeadFilter;

/// One ordered scan of `ix_lead_list_tags` (or `ix_lead_list_tags_created`) for the combination
/// `bits`, at most `limit` entries, as `(id, <sort column>)`.
fn push_combination(
    s: &mut Statement,
    scope: Scope,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
    bits: &str,
) {
    s.push(&format!("SELECT id, {}", sort_column(sort.0)));
    visible(s, scope);
    s.push(&format!(" AND tag_bits = {bits}"));
    push_filter(s, scope.tenant, filter, false, &Keyword::Tested);
    s.order_limit("", sort, limit);
}

/// The first `limit` matching ids in order-time (or creation) order, from one ordered scan per combination
/// in `present` (the tag combinations that contain the asked tags and that the tenant's leads
/// hold, [`present_combinations`](super::sql::present_combinations)), under `UNION ALL`: the planner merges them lazily (a Merge
/// Append), so the statement reads about `limit` entries plus one per combination, wherever
/// the matches lie in time. Planning costs about 0.08 ms per combination: for many, see
/// [`per_tag_combination`].
pub fn merged_combinations(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
    present: &[i32],
) -> Statement {
    let scope: Scope = scope.into();
    merge(present, sort, limit, |s, bits| {
        push_combination(s, scope, filter, sort, limit, &bits.to_string());
    })
}

/// `SELECT l.id FROM ((<branch>) UNION ALL (<branch>) …) AS l ORDER BY <sort> LIMIT <limit>`,
/// one branch per item, each ordered by the sort: the planner merges them lazily (a Merge
/// Append). No items, no rows.
pub(super) fn merge<T>(
    items: &[T],
    sort: (&str, SortOrder),
    limit: i64,
    mut branch: impl FnMut(&mut Statement, &T),
) -> Statement {
    let mut s = Statement::default();
    if items.is_empty() {
        s.push("SELECT 0::int8 AS id WHERE false");
        return s;
    }
    s.push("SELECT l.id FROM (");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(" UNION ALL ");
        }
        s.push("(");
        branch(&mut s, item);
        s.push(")");
    }
    s.push(") AS l");
    s.order_limit("l.", sort, limit);
    s
}

/// The first `limit` matching ids in order-time (or creation) order, from one ordered scan of
/// `ix_lead_list_tags` (or `ix_lead_list_tags_created`) per combination in `present` (at most `limit` entries each), sorted
/// together: one statement whatever the number of combinations, but up to `limit` entries read
/// per combination.
pub fn per_tag_combination(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
    present: &[i32],
) -> Statement {
    let scope: Scope = scope.into();
    let mut s = Statement::default();
    s.push(&format!(
        "SELECT l.id FROM unnest('{{{}}}'::int4[]) AS c(bits) CROSS JOIN LATERAL (",
        int_list(present)
    ));
    push_combination(&mut s, scope, filter, sort, limit, "c.bits");
    s.push(") AS l");
    s.order_limit("l.", sort, limit);
    s
}

/// Whether the per-status-and-shop statement serves this request: order-time or score order
/// (the two sorts with a (status, shop) index: `ix_lead_list_status_time`,
/// `ix_lead_list_status_score`), a shop or a status asked, and neither a keyword the contact
/// indexes find nor a full mobile, which bound the work by their own matches. Tags are tested
/// in each range.
pub fn per_status_and_shop(filter: &LeadFilter, sort: (&str, SortOrder)) -> bool {
    matches!(sort_column(sort.0), "order_time" | "score")
        && (filter.platform_id.is_some() || filter.process_status.is_some())
        && filter.phone.is_none()
        && !filter
            .contact_keyword
            .as_deref()
            .is_some_and(trigram_keyword)
}

/// The shops (`platform_id`) among the tenant's leads in `status`, in a column `shop`: a loose
/// scan of `ix_lead_list_status_time`, one index descent per shop.
pub fn present_shops(scope: impl Into<Scope>, status: LeadProcessStatus) -> Statement {
    let scope: Scope = scope.into();
    let mut s = Statement::default();
    for (i, from) in ["", " AND platform_id > c.shop"].iter().enumerate() {
        s.push(if i == 0 {
            "WITH RECURSIVE c(shop) AS ((SELECT platform_id"
        } else {
            " UNION ALL SELECT (SELECT platform_id"
        });
        visible(&mut s, scope);
        s.push(" AND process_status = ")
            .bind(Bind::Text(status.as_str().to_owned()))
            .push(from)
            .push(" ORDER BY platform_id LIMIT 1)");
    }
    s.push(" FROM c WHERE c.shop IS NOT NULL) SELECT shop FROM c WHERE shop IS NOT NULL");
    s
}

/// The first `limit` matching ids in order-time or score order, from one ordered range of
/// `ix_lead_list_status_time` or `ix_lead_list_status_score` per (status, shop) pair in
/// `pairs` (at most `limit` entries each) under `UNION ALL`, merged lazily by the planner (a
/// Merge Append): about `limit` entries read plus one per pair, however rare the shop or
/// status. The filter's other conditions (order time, tags, a short keyword) are tested in
/// each range.
pub fn merged_status_shops(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
    pairs: &[(LeadProcessStatus, i64)],
) -> Statement {
    let scope: Scope = scope.into();
    let rest = LeadFilter {
        platform_id: None,
        process_status: None,
        ..filter.clone()
    };
    merge(pairs, sort, limit, |s, (status, shop)| {
        s.push(&format!("SELECT id, {}", sort_column(sort.0)));
        visible(s, scope);
        s.push(" AND process_status = ")
            .bind(Bind::Text(status.as_str().to_owned()))
            .push(" AND platform_id = ")
            .bind(Bind::Int(*shop));
        push_filter(s, scope.tenant, &rest, true, &Keyword::Tested);
        s.order_limit("", sort, limit);
    })
}
