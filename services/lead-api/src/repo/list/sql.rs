//! The list's statements, as SQL with their binds: which leads pass a filter, in a sort's
//! order. Several shapes of the same question, because no one index answers every filter and
//! sort at a million leads (`docs/lead-list.md`). Here:
//!
//! - **plain**: `WHERE <filter> ORDER BY <sort> LIMIT n`; the planner picks the sort's covering
//!   index, or a filter's index (tags, status and shop) and a top-n sort;
//! - **fenced**: every match found through the filter's own index, then sorted (a top-n sort);
//!   a contact keyword's matches as disjoint branches, each with its index (`super::keyword`);
//! - **probe**: the head of the sort's order, filtered;
//! - the bounded count, and the loose scans and bounds the other shapes start from.
//!
//! The merged shapes build on these: per tag combination and per (status, shop) pair in
//! [`super::merges`], per month in [`super::months`].
//!
//! The tag filter is written as `tag_bits IN (<every combination containing the asked tags>)`:
//! constants, so the planner estimates it from the column's statistics and the executor hashes
//! the list.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamptz};
use leadgen_domain::IntentionTag;
use leadgen_http::paging::SortOrder;

use super::keyword::{self, Keyword};
use crate::repo::leads::{LeadFilter, PhoneSearch};

/// Whose leads a statement reads, and how the tenant's condition is written.
///
/// The contact keyword's trigram index is `(tenant_id, substr(contact_masked, 2))` (of the masks
/// not shaped like a mobile's), so that a small tenant's search never visits another tenant's
/// matches. For a tenant that holds most of the
/// leads that column costs more than it saves: the index reads the tenant's whole posting list
/// (about 4 ms per million leads) to drop the few matches of the others. For such a
/// `dominant` tenant the condition is written against an `int4` value: the btree indexes, whose
/// operator family compares `int8` with `int4`, still use it; the trigram index's `int8`
/// column (btree_gin's `int8_ops`, no cross-type operators) does not, and the tenant is checked
/// on the matches instead. (`contactInfo=5678`, 94 leads of a million-lead tenant: 8.8 ms → 1.2
/// ms.) A tenant id beyond `int4` is written as `int8` whatever its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub tenant: i64,
    pub dominant: bool,
}

impl From<i64> for Scope {
    fn from(tenant: i64) -> Self {
        Scope {
            tenant,
            dominant: false,
        }
    }
}

/// One bind value.
#[derive(Debug, Clone)]
pub(super) enum Bind {
    Int4(i32),
    Int(i64),
    Time(DateTime<Utc>),
    Text(String),
    Texts(Vec<String>),
}

/// SQL text with `$n` placeholders and their values, in order.
#[derive(Debug, Clone, Default)]
pub struct Statement {
    text: String,
    binds: Vec<Bind>,
}

impl Statement {
    pub(super) fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    pub(super) fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        let n = self.binds.len();
        self.text.push_str(&format!("${n}"));
        self
    }

    /// ` ORDER BY <sort>, id LIMIT <limit>`, the columns qualified by `prefix`.
    pub(super) fn order_limit(
        &mut self,
        prefix: &str,
        sort: (&str, SortOrder),
        limit: i64,
    ) -> &mut Self {
        self.push(&order_by(prefix, sort))
            .push(" LIMIT ")
            .bind(Bind::Int(limit))
    }

    /// The statement, ready to load.
    pub fn query(&self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        self.binds.iter().cloned().fold(
            diesel::sql_query(self.text.clone()).into_boxed(),
            |q, b| match b {
                Bind::Int4(v) => q.bind::<Integer, _>(v),
                Bind::Int(v) => q.bind::<BigInt, _>(v),
                Bind::Time(v) => q.bind::<Timestamptz, _>(v),
                Bind::Text(v) => q.bind::<Text, _>(v),
                Bind::Texts(v) => q.bind::<Array<Text>, _>(v),
            },
        )
    }

    /// `EXPLAIN (FORMAT JSON)` of the statement.
    pub fn explain(&self) -> Statement {
        Statement {
            text: format!("EXPLAIN (FORMAT JSON) {}", self.text),
            binds: self.binds.clone(),
        }
    }
}

/// The sort's column (`SORT_FIELDS` names; anything else is the order time).
pub fn sort_column(field: &str) -> &'static str {
    match field {
        "createTime" => "create_time",
        "score" => "score",
        "amount" => "amount_fen",
        "totalAmount" => "paid_total_fen",
        "lastOrderTime" => "last_order_time",
        _ => "order_time",
    }
}

fn order_by(prefix: &str, sort: (&str, SortOrder)) -> String {
    let dir = match sort.1 {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    format!(
        " ORDER BY {prefix}{} {dir}, {prefix}id {dir}",
        sort_column(sort.0)
    )
}

/// The tag mask of `filter`: `None` without tags, `Some(None)` when a tag does not exist (no
/// lead matches).
fn tag_mask(filter: &LeadFilter) -> Option<Option<i32>> {
    if filter.tags.is_empty() {
        return None;
    }
    Some(filter.tags.iter().try_fold(0_i32, |mask, label| {
        IntentionTag::from_label(label).map(|tag| mask | tag.bit())
    }))
}

/// Every `tag_bits` value that contains `mask`.
pub fn combinations(mask: i32) -> Vec<i32> {
    let all = (1_i32 << IntentionTag::ALL.len()) - 1;
    (0..=all).filter(|bits| bits & mask == mask).collect()
}

pub(super) fn int_list(values: &[i32]) -> String {
    values
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether the per-combination statement serves this request: tags in order-time or creation
/// order, the two sorts with a (tags, sort) index (`ix_lead_list_tags`,
/// `ix_lead_list_tags_created`).
pub fn per_combination(filter: &LeadFilter, sort: (&str, SortOrder)) -> bool {
    matches!(tag_mask(filter), Some(Some(_)))
        && matches!(sort_column(sort.0), "order_time" | "create_time")
        && filter.phone.is_none()
}

/// Whether the contact indexes can find a keyword: the trigram index needs three characters
/// (a trigram) to look up. A shorter keyword is always `Keyword::Tested`.
pub fn trigram_keyword(keyword: &str) -> bool {
    keyword.chars().count() >= 3
}

/// ` AND <condition>` for each part of `filter` (after the tenant's own conditions), the contact
/// keyword written as `keyword` says. With `tags` false the tag condition is left to the caller.
pub(super) fn push_filter(
    s: &mut Statement,
    tenant: i64,
    filter: &LeadFilter,
    tags: bool,
    keyword: &Keyword,
) {
    if let Some(p) = filter.platform_id {
        s.push(" AND platform_id = ").bind(Bind::Int(p));
    }
    if let Some(t) = filter.order_time_start {
        s.push(" AND order_time >= ").bind(Bind::Time(t));
    }
    if let Some(t) = filter.order_time_end {
        s.push(" AND order_time <= ").bind(Bind::Time(t));
    }
    if let Some((from, to)) = filter.implied_last_order {
        if let Some(t) = from {
            s.push(" AND last_order_time >= ").bind(Bind::Time(t));
        }
        if let Some(t) = to {
            s.push(" AND last_order_time <= ").bind(Bind::Time(t));
        }
    }
    if let Some(PhoneSearch { indexes, .. }) = &filter.phone {
        s.push(" AND id IN (SELECT lead_id FROM t_lead_identity WHERE tenant_id = ")
            .bind(Bind::Int(tenant))
            .push(" AND key_hash = ANY(")
            .bind(Bind::Texts(indexes.clone()))
            .push("))");
    } else if let Some(k) = &filter.contact_keyword {
        keyword::push(s, k, keyword);
    }
    if let Some(status) = &filter.process_status {
        s.push(" AND process_status = ")
            .bind(Bind::Text(status.as_str().to_owned()));
    }
    if tags {
        match tag_mask(filter) {
            None => {}
            Some(Some(mask)) => {
                s.push(&format!(
                    " AND tag_bits IN ({})",
                    int_list(&combinations(mask))
                ));
            }
            Some(None) => {
                s.push(" AND false");
            }
        }
    }
}

pub(super) fn visible(s: &mut Statement, scope: Scope) {
    let tenant = match i32::try_from(scope.tenant) {
        Ok(small) if scope.dominant => Bind::Int4(small),
        _ => Bind::Int(scope.tenant),
    };
    s.push(" FROM t_order_lead WHERE tenant_id = ")
        .bind(tenant)
        .push(" AND merged_into IS NULL");
}

/// The first `limit` matching ids in the sort's order, for the planner to choose how. A contact
/// keyword is tested inside whichever index it scans (`Keyword::Tested`): `plain` serves a
/// keyword only when it is too short for the contact indexes, or so common that its first page
/// lies near the list's start.
pub fn plain(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
) -> Statement {
    let scope: Scope = scope.into();
    let mut s = Statement::default();
    s.push("SELECT id");
    visible(&mut s, scope);
    push_filter(&mut s, scope.tenant, filter, true, &Keyword::Tested);
    s.order_limit("", sort, limit);
    s
}

/// `SELECT <columns>` of every lead passing `filter`, each branch for its own index: a contact
/// keyword the contact indexes can find is disjoint branches under `UNION ALL`
/// ([`keyword::branches`]); written as one `OR`, the planner would visit the heap for every
/// match of each.
fn push_matches(s: &mut Statement, scope: Scope, filter: &LeadFilter, columns: &str) {
    let indexed = filter.phone.is_none()
        && filter
            .contact_keyword
            .as_deref()
            .is_some_and(trigram_keyword);
    let branches = match filter.contact_keyword.as_deref() {
        Some(k) if indexed => keyword::branches(k),
        _ => vec![Keyword::Tested],
    };
    for (i, keyword) in branches.iter().enumerate() {
        if i > 0 {
            s.push(" UNION ALL ");
        }
        s.push(&format!("SELECT {columns}"));
        visible(s, scope);
        push_filter(s, scope.tenant, filter, true, keyword);
    }
}

/// The first `limit` matching ids in the sort's order, sorted after every match is found by
/// the filter's cheapest access (a tag's or a status's covering index, the contact indexes):
/// `OFFSET 0` keeps the planner from scanning the sort's index instead. Bounded by the matches;
/// for a filter whose matches are few or lie at one end of the sort.
pub fn fenced(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
) -> Statement {
    let scope: Scope = scope.into();
    let column = sort_column(sort.0);
    let mut s = Statement::default();
    s.push("SELECT id FROM (");
    push_matches(&mut s, scope, filter, &format!("id, {column}"));
    s.push(" OFFSET 0) AS matches");
    s.order_limit("", sort, limit);
    s
}

/// The first `limit` matching ids among the first `entries` of the sort's order: the sort's
/// covering index read in order for `entries` entries, then filtered. All `limit` of them when
/// the matches are dense at the head of the order; otherwise fewer, and those are the answer's
/// first ones.
pub fn probe(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
    entries: i64,
) -> Statement {
    let scope: Scope = scope.into();
    let column = sort_column(sort.0);
    let mut columns = vec!["id", column];
    for filtered in [
        "platform_id",
        "process_status",
        "order_time",
        "tag_bits",
        "contact_masked",
    ] {
        if !columns.contains(&filtered) {
            columns.push(filtered);
        }
    }
    let mut s = Statement::default();
    s.push(&format!("SELECT id FROM (SELECT {}", columns.join(", ")));
    visible(&mut s, scope);
    s.order_limit("", sort, entries);
    s.push(") AS head WHERE true");
    push_filter(&mut s, scope.tenant, filter, true, &Keyword::Tested);
    s.order_limit("", sort, limit);
    s
}

/// The tag mask `filter` asks for, when it asks for existing tags.
pub fn asked_tags(filter: &LeadFilter) -> Option<i32> {
    tag_mask(filter).flatten()
}

/// The tag combinations (`tag_bits` values) among the tenant's leads that contain `mask`, in
/// a column `bits`: a loose scan of `ix_lead_list_tags`, one index descent per combination
/// present (about 100 at a million leads, 1 ms), whichever of them contain the mask.
pub fn present_combinations(scope: impl Into<Scope>, mask: i32) -> Statement {
    let mut s = Statement::default();
    push_present_combinations(&mut s, scope.into(), mask);
    s
}

fn push_present_combinations(s: &mut Statement, scope: Scope, mask: i32) {
    s.push("WITH RECURSIVE c(bits) AS ((SELECT tag_bits");
    visible(s, scope);
    s.push(" ORDER BY tag_bits LIMIT 1) UNION ALL SELECT (SELECT tag_bits");
    visible(s, scope);
    s.push(" AND tag_bits > c.bits ORDER BY tag_bits LIMIT 1) FROM c WHERE c.bits IS NOT NULL)");
    s.push(&format!(
        " SELECT bits FROM c WHERE bits IS NOT NULL AND bits & {mask} = {mask}"
    ));
}

/// What bounds a lastOrderTime walk, in one statement: the smallest and largest
/// `order_time - last_order_time` of the tenant's visible leads, in microseconds, as `min_us`
/// and `max_us` (two descents of `ix_lead_order_lag`), and, with tags, as `edge`, the order time
/// where their matches begin in `order`: the earliest (ascending) or latest (descending) among
/// the tenant's leads whose tags contain `mask` (the combinations present,
/// [`present_combinations`], then one descent of `ix_lead_list_tags` each). Tags are derived
/// from recency (`沉睡`, `即将复购`), so their matches often span a small part of the time
/// order. Columns are null without such leads.
pub fn time_bounds(scope: impl Into<Scope>, mask: Option<i32>, order: SortOrder) -> Statement {
    let scope: Scope = scope.into();
    let mut s = Statement::default();
    s.push("SELECT ");
    match mask {
        Some(mask) => {
            let end = if order == SortOrder::Asc {
                "min"
            } else {
                "max"
            };
            s.push(&format!("(SELECT {end}(x.t) FROM ("));
            push_present_combinations(&mut s, scope, mask);
            s.push(&format!(") AS p, LATERAL (SELECT {end}(order_time) AS t"));
            visible(&mut s, scope);
            s.push(" AND tag_bits = p.bits) AS x)");
        }
        None => {
            s.push("NULL::timestamptz");
        }
    }
    s.push(
        " AS edge, (extract(epoch FROM min(order_time - last_order_time)) * 1000000)::int8 \
         AS min_us, (extract(epoch FROM max(order_time - last_order_time)) * 1000000)::int8 \
         AS max_us",
    );
    visible(&mut s, scope);
    s
}

/// How many leads pass `filter`, counted up to `bound`.
pub fn bounded_count(scope: impl Into<Scope>, filter: &LeadFilter, bound: i64) -> Statement {
    let scope: Scope = scope.into();
    let mut s = Statement::default();
    s.push("SELECT count(*) AS n FROM (");
    push_matches(&mut s, scope, filter, "1");
    s.push(" LIMIT ")
        .bind(Bind::Int(bound))
        .push(") AS bounded");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_contain_the_mask_and_nothing_else() {
        let repeat_and_dormant = IntentionTag::Repeat.bit() | IntentionTag::Dormant.bit();
        let all = combinations(repeat_and_dormant);
        assert_eq!(all.len(), 1 << (IntentionTag::ALL.len() - 2));
        assert!(
            all.iter()
                .all(|b| b & repeat_and_dormant == repeat_and_dormant)
        );
        assert!(all.contains(&repeat_and_dormant));
        assert!(all.contains(&((1 << IntentionTag::ALL.len()) - 1)));
    }

    #[test]
    fn a_keyword_is_tested_last_in_plain_and_split_by_prefix_where_indexed() {
        let keyword = |k: &str| LeadFilter {
            platform_id: Some(1),
            contact_keyword: Some(k.into()),
            ..LeadFilter::default()
        };
        let by_score = ("score", SortOrder::Desc);
        for k in ["13", "138"] {
            let plain = plain(1, &keyword(k), by_score, 10).text;
            assert!(plain.contains("(contact_masked || '') LIKE"), "{plain}");
            assert!(!plain.contains("UNION"), "{plain}");
        }
        let short = fenced(1, &keyword("13"), by_score, 10);
        assert!(!short.text.contains("UNION"), "{}", short.text);
        // A keyword no mobile's mask can hold after its first character: its prefix and the
        // other masks.
        let long = fenced(1, &keyword("1_8"), by_score, 10);
        assert_eq!(long.text.matches(" UNION ALL ").count(), 1, "{}", long.text);
        assert!(
            long.text.contains(" AND contact_masked LIKE $"),
            "{}",
            long.text
        );
        assert!(
            long.text.contains(" AND NOT contact_masked ~ '^[0-9*]{3}\\*{4}[0-9]{4}$' AND substr(contact_masked, 2) LIKE $"),
            "{}",
            long.text
        );
        let patterns: Vec<&str> = long
            .binds
            .iter()
            .filter_map(|b| match b {
                Bind::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(patterns, ["1\\_8%", "%1\\_8%", "1\\_8%"]);
        // Digits: also the tails of mobiles' masks that hold them.
        let digits = fenced(1, &keyword("5678"), by_score, 10);
        assert_eq!(
            digits.text.matches(" UNION ALL ").count(),
            2,
            "{}",
            digits.text
        );
        assert!(
            digits
                .text
                .contains(" AND contact_masked ~ '^[0-9*]{3}\\*{4}[0-9]{4}$' AND right(contact_masked, 4) = ANY($"),
            "{}",
            digits.text
        );
        assert!(
            digits
                .binds
                .iter()
                .any(|b| matches!(b, Bind::Texts(t) if t == &["5678"])),
            "{:?}",
            digits.binds
        );
        let count = bounded_count(1, &keyword("138"), 2001).text;
        assert!(count.contains(" UNION ALL "), "{count}");
        let phone = LeadFilter {
            phone: Some(PhoneSearch {
                indexes: vec!["k".into()],
                mask: "138****0000".into(),
            }),
            ..keyword("138")
        };
        assert!(!fenced(1, &phone, by_score, 10).text.contains("UNION"));
    }

    #[test]
    fn a_dominant_tenant_is_written_as_int4_when_it_fits() {
        let filter = LeadFilter::default();
        let by_time = ("orderTime", SortOrder::Desc);
        let tenant = |scope: Scope| plain(scope, &filter, by_time, 10).binds[0].clone();
        let dominant = |tenant| Scope {
            tenant,
            dominant: true,
        };
        assert!(matches!(tenant(dominant(7)), Bind::Int4(7)));
        assert!(matches!(tenant(7.into()), Bind::Int(7)));
        let huge = i64::from(i32::MAX) + 1;
        assert!(matches!(tenant(dominant(huge)), Bind::Int(t) if t == huge));
    }

    #[test]
    fn binds_are_numbered_in_order() {
        let filter = LeadFilter {
            platform_id: Some(3),
            contact_keyword: Some("5_%".into()),
            process_status: Some(leadgen_domain::LeadProcessStatus::Pending),
            tags: vec!["复购".into()],
            ..LeadFilter::default()
        };
        let s = plain(7, &filter, ("score", SortOrder::Desc), 10);
        assert_eq!(s.binds.len(), 5);
        let placeholders: Vec<&str> = s
            .text
            .match_indices('$')
            .map(|(i, _)| {
                let digits = s.text[i + 1..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(s.text.len(), |end| i + 1 + end);
                &s.text[i..digits]
            })
            .collect();
        assert_eq!(placeholders, ["$1", "$2", "$3", "$4", "$5"], "{}", s.text);
        assert!(
            s.text.contains("ORDER BY score DESC, id DESC"),
            "{}",
            s.text
        );
        assert!(matches!(&s.binds[2], Bind::Text(k) if k == "%5\\_\\%%"));
        let unknown = LeadFilter {
            tags: vec!["不存在".into()],
            ..LeadFilter::default()
        };
        assert!(
            plain(7, &unknown, ("orderTime", SortOrder::Asc), 10)
                .text
                .contains("AND false")
        );
    }
}
