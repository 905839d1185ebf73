//! The list's statements, as SQL with their binds: which leads pass a filter, in a sort's
//! order. Three shapes of the same question, because no one index answers every filter and sort
//! at a million leads (`docs/lead-list.md`):
//!
//! - **plain**: `WHERE <filter> ORDER BY <sort> LIMIT n`; the planner picks the sort's covering
//!   index, or a filter's index (tags, status and shop, contact trigrams) and a top-n sort. A
//!   variant tests a contact keyword inside the sort's index, out of the trigram index's reach;
//! - **fenced**: every match found through the filter's own index, then sorted (a top-n sort);
//! - **per tag combination**: for a tag filter in order-time order, one ordered scan of
//!   `ix_lead_list_tags` per combination of tags that contains the asked ones, merged. Tags like
//!   `沉睡` (dormant) sit at one end of the time order: an ordered scan of the whole tenant
//!   would pass every recent buyer first.
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

use super::leads::LeadFilter;

/// Whose leads a statement reads, and how the tenant's condition is written.
///
/// The contact keyword's trigram index is `(tenant_id, contact_masked)`, so that a small
/// tenant's search never visits another tenant's matches. For a tenant that holds most of the
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
enum Bind {
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
    fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        let n = self.binds.len();
        self.text.push_str(&format!("${n}"));
        self
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
fn sort_column(field: &str) -> &'static str {
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

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
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
fn combinations(mask: i32) -> Vec<i32> {
    let all = (1_i32 << IntentionTag::ALL.len()) - 1;
    (0..=all).filter(|bits| bits & mask == mask).collect()
}

fn int_list(values: &[i32]) -> String {
    values
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether the per-combination statement serves this request.
pub fn per_combination(filter: &LeadFilter, sort: (&str, SortOrder)) -> bool {
    matches!(tag_mask(filter), Some(Some(_)))
        && sort_column(sort.0) == "order_time"
        && filter.phone_indexes.is_none()
}

/// ` AND <condition>` for each part of `filter` (after the tenant's own conditions). With
/// `tags` false the tag condition is left to the caller.
fn push_filter(s: &mut Statement, tenant: i64, filter: &LeadFilter, tags: bool) {
    push_filter_with(s, tenant, filter, tags, false);
}

/// Whether the trigram index can find a contact keyword: it needs three characters (a
/// trigram) to look up.
pub fn trigram_keyword(keyword: &str) -> bool {
    keyword.chars().count() >= 3
}

/// [`push_filter`]; with `scan_keyword`, or for a keyword the trigram index cannot find, the
/// contact keyword is written as `(contact_masked || '') LIKE`: out of the trigram index's
/// reach, and costed above the one-operator filters, so that an index scan tests it last, on
/// the entries the shop, status, time and tags let through. (Written plainly it was tested
/// first: the planner moves the equalities behind it. For `every filter` at page 20 that was
/// 64,000 `LIKE`s instead of 17,000: 13–16 ms instead of 8.)
fn push_filter_with(
    s: &mut Statement,
    tenant: i64,
    filter: &LeadFilter,
    tags: bool,
    scan_keyword: bool,
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
    if let Some(indexes) = &filter.phone_indexes {
        s.push(" AND id IN (SELECT lead_id FROM t_lead_identity WHERE tenant_id = ")
            .bind(Bind::Int(tenant))
            .push(" AND key_hash = ANY(")
            .bind(Bind::Texts(indexes.clone()))
            .push("))");
    } else if let Some(k) = &filter.contact_keyword {
        s.push(if scan_keyword || !trigram_keyword(k) {
            " AND (contact_masked || '') LIKE "
        } else {
            " AND contact_masked LIKE "
        })
        .bind(Bind::Text(format!("%{}%", escape_like(k))));
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

fn visible(s: &mut Statement, scope: Scope) {
    let tenant = match i32::try_from(scope.tenant) {
        Ok(small) if scope.dominant => Bind::Int4(small),
        _ => Bind::Int(scope.tenant),
    };
    s.push(" FROM t_order_lead WHERE tenant_id = ")
        .bind(tenant)
        .push(" AND merged_into IS NULL");
}

/// The first `limit` matching ids in the sort's order.
pub fn plain(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
) -> Statement {
    plain_with(scope.into(), filter, sort, limit, false)
}

/// [`plain`], the contact keyword tested inside the sort's index rather than looked up in the
/// trigram index: for a keyword so common that its first page lies near the list's start.
pub fn plain_scanning_keyword(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
) -> Statement {
    plain_with(scope.into(), filter, sort, limit, true)
}

fn plain_with(
    scope: Scope,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
    scan_keyword: bool,
) -> Statement {
    let mut s = Statement::default();
    s.push("SELECT id");
    visible(&mut s, scope);
    push_filter_with(&mut s, scope.tenant, filter, true, scan_keyword);
    s.push(&order_by("", sort));
    s.push(" LIMIT ").bind(Bind::Int(limit));
    s
}

/// The first `limit` matching ids in the sort's order, sorted after every match is found by
/// the filter's cheapest access (a tag's or a status's covering index, contact trigrams):
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
    s.push(&format!("SELECT id FROM (SELECT id, {column}"));
    visible(&mut s, scope);
    push_filter(&mut s, scope.tenant, filter, true);
    s.push(" OFFSET 0) AS matches");
    s.push(&order_by("", sort));
    s.push(" LIMIT ").bind(Bind::Int(limit));
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
    s.push(&order_by("", sort));
    s.push(" LIMIT ").bind(Bind::Int(entries));
    s.push(") AS head WHERE true");
    push_filter(&mut s, scope.tenant, filter, true);
    s.push(&order_by("", sort));
    s.push(" LIMIT ").bind(Bind::Int(limit));
    s
}

/// The tag mask `filter` asks for, when it asks for existing tags.
pub fn asked_tags(filter: &LeadFilter) -> Option<i32> {
    tag_mask(filter).flatten()
}

/// The first `limit` matching ids in order-time order, from one ordered scan per tag
/// combination (at most `limit` entries each), merged.
pub fn per_tag_combination(
    scope: impl Into<Scope>,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    limit: i64,
) -> Statement {
    let scope: Scope = scope.into();
    let mask = tag_mask(filter).flatten().unwrap_or_default();
    let mut s = Statement::default();
    s.push(&format!(
        "SELECT l.id FROM unnest('{{{}}}'::int4[]) AS c(bits) CROSS JOIN LATERAL (SELECT id, order_time",
        int_list(&combinations(mask))
    ));
    visible(&mut s, scope);
    s.push(" AND tag_bits = c.bits");
    push_filter(&mut s, scope.tenant, filter, false);
    s.push(&order_by("", sort));
    s.push(" LIMIT ").bind(Bind::Int(limit)).push(") AS l");
    s.push(&order_by("l.", sort));
    s.push(" LIMIT ").bind(Bind::Int(limit));
    s
}

/// How many leads pass `filter`, counted up to `bound`.
pub fn bounded_count(scope: impl Into<Scope>, filter: &LeadFilter, bound: i64) -> Statement {
    let scope: Scope = scope.into();
    let mut s = Statement::default();
    s.push("SELECT count(*) AS n FROM (SELECT 1");
    visible(&mut s, scope);
    push_filter(&mut s, scope.tenant, filter, true);
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
    fn a_keyword_the_trigram_index_cannot_find_is_tested_last() {
        let keyword = |k: &str| LeadFilter {
            platform_id: Some(1),
            contact_keyword: Some(k.into()),
            ..LeadFilter::default()
        };
        let by_score = ("score", SortOrder::Desc);
        let short = plain(1, &keyword("13"), by_score, 10).text;
        assert!(short.contains("(contact_masked || '') LIKE"), "{short}");
        let long = plain(1, &keyword("138"), by_score, 10).text;
        assert!(long.contains(" AND contact_masked LIKE"), "{long}");
        let scanning = plain_scanning_keyword(1, &keyword("138"), by_score, 10).text;
        assert!(
            scanning.contains("(contact_masked || '') LIKE"),
            "{scanning}"
        );
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
