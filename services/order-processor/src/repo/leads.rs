//! `t_order_lead` (owned by order-processor; lead-api reads it): one row per buyer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Int8;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_order_lead as lead;
use leadgen_domain::{LeadProcessStatus, TenantId, scoring::RankFeatures};

/// Every column order-processor computes for a lead.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = lead)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct LeadRow {
    pub id: i64,
    pub tenant_id: i64,
    pub platform_id: i64,
    pub platform_type: String,
    pub order_id: String,
    pub raw_order_id: i64,
    pub processed_order_id: i64,
    pub contact_info: String,
    pub contact_masked: String,
    pub contact_kind: String,
    /// The raw order whose contact the lead shows (what a reveal decrypts).
    pub contact_raw_order_id: Option<i64>,
    pub product_info: String,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub intention_tags: Vec<String>,
    pub score: i16,
    pub process_status: String,
    pub order_count: i32,
    pub paid_order_count: i32,
    pub paid_total_fen: i64,
    pub last_order_time: DateTime<Utc>,
    pub aggregate: serde_json::Value,
    pub intention: i16,
    pub score_reasons: serde_json::Value,
    pub model_version: String,
    pub scored_by: String,
    pub external_pending: bool,
    pub contact_validity: String,
    pub contact_validity_reason: serde_json::Value,
    pub version: i32,
    /// The day the external scorer's standing intention was asked for (`None` when none was, or
    /// before it was recorded): set by the rescore that gets the answer, kept by a rebuild.
    pub external_as_of: Option<DateTime<Utc>>,
}

/// A locked lead as it was before this unit of work.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct LeadState {
    pub id: i64,
    pub platform_id: i64,
    #[diesel(deserialize_as = String)]
    pub process_status: LeadProcessStatus,
    pub version: i32,
    pub score: i16,
    pub intention: i16,
    pub intention_tags: Vec<String>,
    pub contact_masked: String,
    pub contact_kind: String,
    pub contact_validity: String,
    pub contact_validity_reason: serde_json::Value,
    pub merged_into: Option<i64>,
    pub order_id: String,
    pub order_count: i32,
    pub paid_order_count: i32,
    pub paid_total_fen: i64,
    pub aggregate: serde_json::Value,
    pub score_reasons: serde_json::Value,
    pub model_version: String,
    pub scored_by: String,
    pub external_pending: bool,
}

/// `n` new lead ids.
pub async fn allocate_ids(conn: &mut AsyncPgConnection, n: usize) -> QueryResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Int8)]
        id: i64,
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<Id> = diesel::sql_query(
        "SELECT nextval('t_order_lead_id_seq') AS id FROM generate_series(1, $1)",
    )
    .bind::<Int8, _>(i64::try_from(n).unwrap_or(i64::MAX))
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Locks `ids` in id order (so concurrent units of work never deadlock) and reads their state.
pub async fn lock(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    ids: &[i64],
) -> QueryResult<Vec<LeadState>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    lead::table
        .filter(lead::tenant_id.eq(tenant.get()))
        .filter(lead::id.eq_any(ids))
        .order(lead::id.asc())
        .for_update()
        .select(LeadState::as_select())
        .load(conn)
        .await
}

/// Inserts new leads and rewrites existing ones (one statement, in id order).
pub async fn upsert_many(conn: &mut AsyncPgConnection, rows: &mut [LeadRow]) -> QueryResult<usize> {
    use diesel::upsert::excluded;
    if rows.is_empty() {
        return Ok(0);
    }
    rows.sort_by_key(|r| r.id);
    diesel::insert_into(lead::table)
        .values(&*rows)
        .on_conflict(lead::id)
        .do_update()
        .set((
            lead::platform_id.eq(excluded(lead::platform_id)),
            lead::platform_type.eq(excluded(lead::platform_type)),
            lead::order_id.eq(excluded(lead::order_id)),
            lead::raw_order_id.eq(excluded(lead::raw_order_id)),
            lead::processed_order_id.eq(excluded(lead::processed_order_id)),
            lead::contact_info.eq(excluded(lead::contact_info)),
            lead::contact_masked.eq(excluded(lead::contact_masked)),
            lead::contact_kind.eq(excluded(lead::contact_kind)),
            lead::product_info.eq(excluded(lead::product_info)),
            lead::amount_fen.eq(excluded(lead::amount_fen)),
            lead::order_time.eq(excluded(lead::order_time)),
            lead::intention_tags.eq(excluded(lead::intention_tags)),
            lead::score.eq(excluded(lead::score)),
            lead::process_status.eq(excluded(lead::process_status)),
            lead::order_count.eq(excluded(lead::order_count)),
            lead::paid_order_count.eq(excluded(lead::paid_order_count)),
            lead::paid_total_fen.eq(excluded(lead::paid_total_fen)),
            lead::last_order_time.eq(excluded(lead::last_order_time)),
            lead::aggregate.eq(excluded(lead::aggregate)),
            lead::intention.eq(excluded(lead::intention)),
            lead::score_reasons.eq(excluded(lead::score_reasons)),
            lead::model_version.eq(excluded(lead::model_version)),
            lead::scored_by.eq(excluded(lead::scored_by)),
            lead::external_pending.eq(excluded(lead::external_pending)),
            lead::contact_validity.eq(excluded(lead::contact_validity)),
            lead::contact_validity_reason.eq(excluded(lead::contact_validity_reason)),
            lead::contact_raw_order_id.eq(excluded(lead::contact_raw_order_id)),
            lead::version.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(
                VERSION_IF_CHANGED,
            )),
            lead::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// A rewritten lead's version: the new one when anything a user or a subscriber sees changed,
/// else the one it had: a rebuild that changes nothing visible (a revealed number's identity
/// added to the buyer, a rescore to the same result) is no change. An order whose status
/// moved no lead field still changes the detail: `bump` moves those. The sealed contact is left out: sealed again, the same number never reads
/// the same, and its masked form and kind are compared instead.
const VERSION_IF_CHANGED: &str = "CASE WHEN (\
    t_order_lead.platform_id, t_order_lead.platform_type, t_order_lead.order_id, \
    t_order_lead.raw_order_id, t_order_lead.processed_order_id, t_order_lead.contact_masked, \
    t_order_lead.contact_kind, t_order_lead.product_info, t_order_lead.amount_fen, \
    t_order_lead.order_time, t_order_lead.intention_tags, t_order_lead.score, \
    t_order_lead.process_status, t_order_lead.order_count, t_order_lead.paid_order_count, \
    t_order_lead.paid_total_fen, t_order_lead.last_order_time, t_order_lead.aggregate, \
    t_order_lead.intention, t_order_lead.score_reasons, t_order_lead.model_version, \
    t_order_lead.scored_by, t_order_lead.external_pending, t_order_lead.contact_validity, \
    t_order_lead.contact_validity_reason) IS DISTINCT FROM (\
    excluded.platform_id, excluded.platform_type, excluded.order_id, \
    excluded.raw_order_id, excluded.processed_order_id, excluded.contact_masked, \
    excluded.contact_kind, excluded.product_info, excluded.amount_fen, \
    excluded.order_time, excluded.intention_tags, excluded.score, \
    excluded.process_status, excluded.order_count, excluded.paid_order_count, \
    excluded.paid_total_fen, excluded.last_order_time, excluded.aggregate, \
    excluded.intention, excluded.score_reasons, excluded.model_version, \
    excluded.scored_by, excluded.external_pending, excluded.contact_validity, \
    excluded.contact_validity_reason) \
    THEN excluded.version ELSE t_order_lead.version END";

/// Marks `merged` as merged into `into` (their ids keep resolving), and re-points leads that had
/// merged into them.
pub async fn mark_merged(
    conn: &mut AsyncPgConnection,
    merged: &[i64],
    into: i64,
) -> QueryResult<()> {
    diesel::update(lead::table.filter(lead::id.eq_any(merged)))
        .set((
            lead::merged_into.eq(into),
            lead::version.eq(lead::version + 1),
            lead::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    diesel::update(lead::table.filter(lead::merged_into.eq_any(merged)))
        .set(lead::merged_into.eq(into))
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives each `(lead, version)` that version unless it already has it: a lead whose orders
/// changed as a salesperson sees them (`processed::shown_changes`) though no lead field did.
pub async fn bump(conn: &mut AsyncPgConnection, leads: &[(i64, i32)]) -> QueryResult<()> {
    if leads.is_empty() {
        return Ok(());
    }
    let (ids, versions): (Vec<i64>, Vec<i32>) = leads.iter().copied().unzip();
    diesel::sql_query(
        "UPDATE t_order_lead l SET version = v.version \
         FROM unnest($1::int8[], $2::int4[]) AS v(id, version) \
         WHERE l.id = v.id AND l.version < v.version",
    )
    .bind::<diesel::sql_types::Array<Int8>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Int4>, _>(versions)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that `leads`' process status was just set (by a merge bringing another decision) at
/// their current version: lead-api refuses a status change read at an older one
/// (`status_version`, migration 37).
pub async fn mark_status_set(conn: &mut AsyncPgConnection, leads: &[i64]) -> QueryResult<()> {
    if leads.is_empty() {
        return Ok(());
    }
    diesel::update(lead::table.filter(lead::id.eq_any(leads)))
        .set(lead::status_version.eq(lead::version))
        .execute(conn)
        .await?;
    Ok(())
}

/// The ranked features of one live lead: last payment (or `None`), last order, paid orders and
/// paid total; a shop's distribution is built from these alone.
#[derive(Debug, Clone, QueryableByName)]
pub struct Features {
    /// The lead (to name one whose features do not read).
    #[diesel(sql_type = Int8)]
    pub lead_id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub last_paid_time: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub last_order_time: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub paid_order_count: i32,
    #[diesel(sql_type = Int8)]
    pub paid_total_fen: i64,
}

impl Features {
    /// As the domain ranks them; the last payment is parsed as the aggregate's serde does.
    pub fn into_domain(self) -> Result<RankFeatures, chrono::ParseError> {
        let last_paid = self
            .last_paid_time
            .map(|t| t.parse::<DateTime<Utc>>())
            .transpose()?;
        Ok(RankFeatures {
            last_activity: last_paid.unwrap_or(self.last_order_time),
            paid_order_count: u32::try_from(self.paid_order_count).unwrap_or(0),
            paid_total_fen: self.paid_total_fen,
        })
    }
}

/// The ranked features of every live lead of a shop (a few numbers per buyer, whatever the
/// size of their aggregates).
pub async fn features_of_shop(
    conn: &mut AsyncPgConnection,
    platform_id: i64,
) -> QueryResult<Vec<Features>> {
    diesel::sql_query(
        "SELECT id AS lead_id, aggregate->>'lastPaidTime' AS last_paid_time, last_order_time, \
                paid_order_count, paid_total_fen \
         FROM t_order_lead WHERE platform_id = $1 AND merged_into IS NULL",
    )
    .bind::<Int8, _>(platform_id)
    .load(conn)
    .await
}

/// Up to `limit` live leads of a shop with ids above `after`, in id order (a rescore's chunk).
pub async fn of_shop_after(
    conn: &mut AsyncPgConnection,
    platform_id: i64,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<LeadRow>> {
    lead::table
        .filter(lead::platform_id.eq(platform_id))
        .filter(lead::merged_into.is_null())
        .filter(lead::id.gt(after))
        .order(lead::id.asc())
        .limit(limit)
        .select(LeadRow::as_select())
        .load(conn)
        .await
}

/// Locks the live leads of `ids` in id order and answers their versions.
pub async fn lock_versions(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<Vec<(i64, i32)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    lead::table
        .filter(lead::id.eq_any(ids))
        .filter(lead::merged_into.is_null())
        .order(lead::id.asc())
        .for_update()
        .select((lead::id, lead::version))
        .load(conn)
        .await
}

/// Rewrites the score columns of leads from `updates` (JSON objects with `id`, `score`,
/// `intention`, `tags`, `reasons`, `modelVersion`, `scoredBy`, `externalPending`,
/// `externalAsOf`, `validity`, `validityReason`, and `bump`: 1 when a column a user or subscriber
/// sees changed, else 0) in one statement, moving their versions by `bump`.
pub async fn update_scores(
    conn: &mut AsyncPgConnection,
    updates: Vec<serde_json::Value>,
) -> QueryResult<usize> {
    if updates.is_empty() {
        return Ok(0);
    }
    diesel::sql_query(
        "UPDATE t_order_lead l SET \
           score = (v->>'score')::int2, \
           intention = (v->>'intention')::int2, \
           intention_tags = ARRAY(SELECT jsonb_array_elements_text(v->'tags')), \
           score_reasons = v->'reasons', \
           model_version = v->>'modelVersion', \
           scored_by = v->>'scoredBy', \
           external_pending = (v->>'externalPending')::boolean, \
           external_as_of = (v->>'externalAsOf')::timestamptz, \
           contact_validity = v->>'validity', \
           contact_validity_reason = v->'validityReason', \
           version = l.version + (v->>'bump')::int4, update_time = now() \
         FROM jsonb_array_elements($1) AS v WHERE l.id = (v->>'id')::int8",
    )
    .bind::<diesel::sql_types::Jsonb, _>(serde_json::Value::Array(updates))
    .execute(conn)
    .await
}
