//! `t_ecom_order_processed` (owned by order-processor): one row per platform order, linked to its
//! buyer-lead by `user_id`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int8};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_order_processed as processed;
use leadgen_db::shown::ShownOrder;
use leadgen_domain::order::UnknownStatus;
use leadgen_domain::{NeutralStatus, TenantId};

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = processed)]
pub struct ProcessedWrite {
    pub tenant_id: i64,
    pub platform_id: i64,
    pub platform_type: String,
    pub raw_order_id: i64,
    pub order_id: String,
    pub status: String,
    pub platform_status: String,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub product_info: String,
    pub contact_info: Option<String>,
    pub contact_masked: Option<String>,
    pub contact_kind: Option<String>,
    pub region: String,
    pub identity_keys: Vec<String>,
    pub order_created_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub refunded: bool,
    pub partial_refund_fen: Option<i64>,
    /// The buyer-lead the order belongs to.
    pub user_id: Option<i64>,
}

/// The lead each of these orders (shop, platform order id) is linked to, for those already
/// processed once.
pub async fn links(
    conn: &mut AsyncPgConnection,
    orders: &[(i64, String)],
) -> QueryResult<Vec<(i64, String, i64)>> {
    #[derive(QueryableByName)]
    struct Link {
        #[diesel(sql_type = Int8)]
        platform_id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        order_id: String,
        #[diesel(sql_type = Int8)]
        user_id: i64,
    }
    let (shops, ids): (Vec<i64>, Vec<String>) = orders.iter().cloned().unzip();
    let links: Vec<Link> = diesel::sql_query(
        "SELECT p.platform_id, p.order_id, p.user_id FROM t_ecom_order_processed p \
         JOIN unnest($1::int8[], $2::text[]) AS v(platform_id, order_id) \
           ON p.platform_id = v.platform_id AND p.order_id = v.order_id \
         WHERE p.user_id IS NOT NULL",
    )
    .bind::<Array<Int8>, _>(shops)
    .bind::<Array<diesel::sql_types::Text>, _>(ids)
    .load(conn)
    .await?;
    Ok(links
        .into_iter()
        .map(|l| (l.platform_id, l.order_id, l.user_id))
        .collect())
}

/// The leads of the orders in `writes` that a salesperson would see differently once written
/// ([`ShownOrder`]): a new order, or one whose status, amount, refund, product or masked
/// contact changed. Their leads' versions move even when no lead field does (`leads::bump`),
/// so a detail's `ETag` changes whenever its content does.
pub async fn shown_changes(
    conn: &mut AsyncPgConnection,
    writes: &[ProcessedWrite],
) -> QueryResult<std::collections::HashSet<i64>> {
    if writes.is_empty() {
        return Ok(Default::default());
    }
    let shops: Vec<i64> = writes.iter().map(|w| w.platform_id).collect();
    let ids: Vec<&str> = writes.iter().map(|w| w.order_id.as_str()).collect();
    // The pairs joined, as [`links`] does: `platform_id = ANY(…) AND order_id = ANY(…)` got a
    // generic plan made while the table was small (a fresh install's first backlog, before
    // autovacuum's first ANALYZE) that scanned the whole table, testing every row against every
    // id: 15 ms a page at 20,000 orders; the backlog benchmark ran 2,011 orders/s with it and
    // 2,671 without.
    let stored: Vec<ShownOrder> = diesel::sql_query(
        "SELECT p.platform_id, p.platform_type, p.order_id, p.status, p.platform_status, \
                p.amount_fen, p.order_time, p.product_info, p.contact_masked, p.refunded, \
                p.partial_refund_fen \
         FROM t_ecom_order_processed p \
         JOIN unnest($1::int8[], $2::text[]) AS v(platform_id, order_id) \
           ON p.platform_id = v.platform_id AND p.order_id = v.order_id",
    )
    .bind::<Array<Int8>, _>(&shops)
    .bind::<Array<diesel::sql_types::Text>, _>(&ids)
    .load(conn)
    .await?;
    let stored: std::collections::HashMap<(i64, &str), &ShownOrder> = stored
        .iter()
        .map(|s| ((s.platform_id, s.order_id.as_str()), s))
        .collect();
    Ok(writes
        .iter()
        .filter(|w| stored.get(&(w.platform_id, w.order_id.as_str())) != Some(&&w.shown()))
        .filter_map(|w| w.user_id)
        .collect())
}

impl ProcessedWrite {
    /// The order as a lead's detail will show it once written.
    fn shown(&self) -> ShownOrder {
        ShownOrder {
            platform_id: self.platform_id,
            platform_type: self.platform_type.clone(),
            order_id: self.order_id.clone(),
            status: self.status.clone(),
            platform_status: self.platform_status.clone(),
            amount_fen: self.amount_fen,
            order_time: self.order_time,
            product_info: self.product_info.clone(),
            contact_masked: self.contact_masked.clone(),
            refunded: self.refunded,
            partial_refund_fen: self.partial_refund_fen,
        }
    }
}

/// Inserts or refreshes the processed form of every order, linked to its lead (one
/// statement: the rows are written once, not inserted and then linked).
pub async fn upsert_many(
    conn: &mut AsyncPgConnection,
    rows: &[ProcessedWrite],
) -> QueryResult<usize> {
    use diesel::upsert::excluded;
    if rows.is_empty() {
        return Ok(0);
    }
    diesel::insert_into(processed::table)
        .values(rows)
        .on_conflict((processed::platform_id, processed::order_id))
        .do_update()
        .set((
            processed::raw_order_id.eq(excluded(processed::raw_order_id)),
            processed::status.eq(excluded(processed::status)),
            processed::platform_status.eq(excluded(processed::platform_status)),
            processed::amount_fen.eq(excluded(processed::amount_fen)),
            processed::order_time.eq(excluded(processed::order_time)),
            processed::product_info.eq(excluded(processed::product_info)),
            processed::contact_info.eq(excluded(processed::contact_info)),
            processed::contact_masked.eq(excluded(processed::contact_masked)),
            processed::contact_kind.eq(excluded(processed::contact_kind)),
            processed::region.eq(excluded(processed::region)),
            processed::identity_keys.eq(excluded(processed::identity_keys)),
            processed::order_created_at.eq(excluded(processed::order_created_at)),
            processed::paid_at.eq(excluded(processed::paid_at)),
            processed::refunded.eq(excluded(processed::refunded)),
            processed::partial_refund_fen.eq(excluded(processed::partial_refund_fen)),
            processed::user_id.eq(excluded(processed::user_id)),
            processed::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// A buyer's order as the aggregate needs it.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = processed)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct BuyerOrder {
    pub id: i64,
    pub user_id: Option<i64>,
    pub platform_id: i64,
    pub platform_type: String,
    pub raw_order_id: i64,
    pub order_id: String,
    #[diesel(deserialize_as = String)]
    pub status: StoredStatus,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub order_created_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub refunded: bool,
    pub partial_refund_fen: Option<i64>,
    pub product_info: String,
    pub contact_info: Option<String>,
}

/// A processed order's status as stored: read one by one, so that an order whose status this
/// build does not know is left out of its buyer's aggregate instead of failing every read of
/// the buyer (and every later order of theirs with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStatus(pub Result<NeutralStatus, UnknownStatus>);

impl From<String> for StoredStatus {
    fn from(text: String) -> Self {
        StoredStatus(NeutralStatus::try_from(text))
    }
}

/// Every order of `leads`: per lead, its orders through the lead index (a lookup
/// per key, [`crate::repo`]).
pub async fn of_leads(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    leads: &[i64],
) -> QueryResult<Vec<BuyerOrder>> {
    diesel::sql_query(
        "SELECT p.id, p.user_id, p.platform_id, p.platform_type, p.raw_order_id, p.order_id, \
                p.status, p.amount_fen, p.order_time, p.order_created_at, p.paid_at, \
                p.refunded, p.partial_refund_fen, p.product_info, p.contact_info \
         FROM unnest($2::int8[]) AS l(user_id) \
         CROSS JOIN LATERAL (SELECT * FROM t_ecom_order_processed p \
                             WHERE p.user_id = l.user_id OFFSET 0) p \
         WHERE p.tenant_id = $1",
    )
    .bind::<Int8, _>(tenant.get())
    .bind::<Array<Int8>, _>(leads)
    .load(conn)
    .await
}

/// Moves the orders of merged leads to the lead they merged into.
pub async fn relink(conn: &mut AsyncPgConnection, from: &[i64], to: i64) -> QueryResult<usize> {
    diesel::update(processed::table.filter(processed::user_id.eq_any(from)))
        .set(processed::user_id.eq(to))
        .execute(conn)
        .await
}
