//! The documented read-only coupling to order-processor's `t_order_lead`: one row per buyer.
//! Every query is scoped by tenant and leaves out leads merged into another; the sealed contact
//! column is never read here.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::fragments::BoundedCount;
use leadgen_db::schema::{t_lead_identity as identity, t_order_lead as lead};
use leadgen_domain::IntentionTag;
use leadgen_http::paging::{Paging, SortOrder};

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

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

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

type Boxed<'a> = lead::BoxedQuery<'a, diesel::pg::Pg>;
/// A boxed query of lead ids.
pub type IdQuery<'a> = lead::BoxedQuery<'a, diesel::pg::Pg, diesel::sql_types::BigInt>;

/// The tenant's visible leads that pass `filter`.
fn filtered(tenant: i64, filter: &LeadFilter) -> Boxed<'static> {
    let mut q = lead::table
        .filter(lead::tenant_id.eq(tenant))
        .filter(lead::merged_into.is_null())
        .into_boxed();
    if let Some(p) = filter.platform_id {
        q = q.filter(lead::platform_id.eq(p));
    }
    if let Some(t) = filter.order_time_start {
        q = q.filter(lead::order_time.ge(t));
    }
    if let Some(t) = filter.order_time_end {
        q = q.filter(lead::order_time.le(t));
    }
    if let Some(indexes) = &filter.phone_indexes {
        let owners = identity::table
            .filter(identity::tenant_id.eq(tenant))
            .filter(identity::key_hash.eq_any(indexes.clone()))
            .select(identity::lead_id);
        q = q.filter(lead::id.eq_any(owners));
    } else if let Some(k) = &filter.contact_keyword {
        q = q.filter(lead::contact_masked.like(format!("%{}%", escape_like(k))));
    }
    if let Some(s) = &filter.process_status {
        q = q.filter(lead::process_status.eq(s.clone()));
    }
    if !filter.tags.is_empty() {
        // Every tag asked for, as bits of the generated `tag_bits` column (an integer test
        // inside the sort's covering index). A tag that does not exist matches no lead.
        let mask = filter.tags.iter().try_fold(0_i32, |mask, label| {
            IntentionTag::from_label(label).map(|tag| mask | tag.bit())
        });
        q = match mask {
            Some(mask) => q.filter(
                sql::<Bool>("(tag_bits & ")
                    .bind::<Integer, _>(mask)
                    .sql(") = ")
                    .bind::<Integer, _>(mask),
            ),
            None => q.filter(sql::<Bool>("false")),
        };
    }
    q
}

/// The ids of one page, in the list's order (`id` breaks ties): an index-only scan of the
/// sort's covering index.
pub fn page_ids(
    tenant: i64,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> IdQuery<'static> {
    let q = filtered(tenant, filter);
    let q = match sort {
        ("createTime", SortOrder::Asc) => q.order(lead::create_time.asc()),
        ("createTime", SortOrder::Desc) => q.order(lead::create_time.desc()),
        ("score", SortOrder::Asc) => q.order(lead::score.asc()),
        ("score", SortOrder::Desc) => q.order(lead::score.desc()),
        ("amount", SortOrder::Asc) => q.order(lead::amount_fen.asc()),
        ("amount", SortOrder::Desc) => q.order(lead::amount_fen.desc()),
        ("totalAmount", SortOrder::Asc) => q.order(lead::paid_total_fen.asc()),
        ("totalAmount", SortOrder::Desc) => q.order(lead::paid_total_fen.desc()),
        ("lastOrderTime", SortOrder::Asc) => q.order(lead::last_order_time.asc()),
        ("lastOrderTime", SortOrder::Desc) => q.order(lead::last_order_time.desc()),
        (_, SortOrder::Asc) => q.order(lead::order_time.asc()),
        (_, SortOrder::Desc) => q.order(lead::order_time.desc()),
    };
    let q = match sort.1 {
        SortOrder::Asc => q.then_order_by(lead::id.asc()),
        SortOrder::Desc => q.then_order_by(lead::id.desc()),
    };
    q.select(lead::id)
        .limit(paging.size)
        .offset(paging.offset())
}

/// The total of `filter`, counted up to one past [`LIST_WINDOW`].
pub fn bounded_total(tenant: i64, filter: &LeadFilter) -> BoundedCount<IdQuery<'static>> {
    BoundedCount::new(
        filtered(tenant, filter)
            .select(lead::id)
            .limit(LIST_WINDOW + 1),
    )
}

/// A page in three index-driven statements: the page's ids ([`page_ids`]), those rows by
/// primary key, then the total ([`bounded_total`]), skipped when the page itself shows where
/// the list ends.
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    filter: &LeadFilter,
    sort: (&str, SortOrder),
    paging: Paging,
) -> QueryResult<LeadPage> {
    let ids: Vec<i64> = page_ids(tenant, filter, sort, paging).load(conn).await?;
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
    let shown = ids.len() as i64;
    if (shown > 0 && shown < paging.size) || (shown == 0 && paging.page == 1) {
        // This page shows where the list ends: the total needs no count.
        return Ok(LeadPage {
            rows,
            total: paging.offset() + shown,
            exact: true,
        });
    }
    let counted: i64 = bounded_total(tenant, filter).get_result(conn).await?;
    Ok(LeadPage {
        rows,
        total: counted.min(LIST_WINDOW),
        exact: counted <= LIST_WINDOW,
    })
}
