//! `GET /leads/{leadId}`: the list's fields, the buyer's orders (masked, newest first, paged),
//! the score's reasons and model, contact validity, and the status history. An id merged into
//! another lead resolves to that lead.

use chrono::{DateTime, Utc};
use leadgen_domain::Money;
use leadgen_http::Page;
use leadgen_http::paging::Paging;
use serde::Serialize;

use crate::error::LeadApiError;
use crate::repo::detail::{self, HistoryRow, LeadDetailRow, OrderRow};
use crate::startup::AppState;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadDetail {
    pub lead_id: i64,
    pub order_id: String,
    pub platform_id: i64,
    pub platform_type: String,
    pub order_time: DateTime<Utc>,
    pub contact_info: String,
    pub contact_type: String,
    pub product_info: String,
    pub amount: String,
    pub intention_tags: Vec<String>,
    pub score: i16,
    pub process_status: String,
    pub create_time: DateTime<Utc>,
    pub order_count: i32,
    pub total_amount: String,
    pub last_order_time: DateTime<Utc>,
    #[schema(value_type = Vec<crate::openapi::ReasonDoc>)]
    pub score_reasons: serde_json::Value,
    pub model_version: String,
    #[schema(value_type = crate::openapi::ValidityDoc)]
    pub contact_validity: serde_json::Value,
    /// 0–100, the intention part of the score.
    pub intention: i16,
    /// `BUILTIN` or `EXTERNAL`.
    pub scored_by: String,
    /// The buyer's aggregate (counts, first and last order and payment, mean gap, order ids).
    #[schema(value_type = Object)]
    pub buyer: serde_json::Value,
    /// Leads that turned out to be this buyer and were merged into this one.
    pub merged_lead_ids: Vec<i64>,
    #[schema(value_type = leadgen_http::openapi::PageOf<OrderView>)]
    pub orders: Page<OrderView>,
    pub status_history: Vec<StatusChangeView>,
    /// Send it back in `If-Match` to change the status.
    pub version: i32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: String,
    pub platform_id: i64,
    pub platform_type: String,
    pub order_time: DateTime<Utc>,
    /// `UNPAID`, `PAID`, `SHIPPED`, `COMPLETED`, `CLOSED`.
    pub status: String,
    /// The platform's own status.
    pub platform_status: String,
    pub amount: String,
    pub product_info: String,
    pub contact_info: Option<String>,
    pub refunded: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeView {
    pub lead_id: i64,
    pub from_status: String,
    pub to_status: String,
    pub note: Option<String>,
    pub operator_id: i64,
    pub operator_name: String,
    pub time: DateTime<Utc>,
}

impl From<OrderRow> for OrderView {
    fn from(o: OrderRow) -> Self {
        OrderView {
            order_id: o.order_id,
            platform_id: o.platform_id,
            platform_type: o.platform_type,
            order_time: o.order_time,
            status: o.status,
            platform_status: o.platform_status,
            amount: Money::from_fen(o.amount_fen).to_string(),
            product_info: o.product_info,
            contact_info: o.contact_masked,
            refunded: o.refunded,
        }
    }
}

impl From<HistoryRow> for StatusChangeView {
    fn from(h: HistoryRow) -> Self {
        StatusChangeView {
            lead_id: h.lead_id,
            from_status: h.from_status,
            to_status: h.to_status,
            note: h.note,
            operator_id: h.operator_id,
            operator_name: h.operator_name,
            time: h.occurred_at,
        }
    }
}

/// Follows merges: a merged lead resolves to the lead it merged into (ids are never reused, so a
/// few hops at most).
pub async fn resolve(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: i64,
    id: i64,
) -> Result<LeadDetailRow, LeadApiError> {
    let mut id = id;
    for _ in 0..8 {
        let row = detail::find(conn, tenant, id)
            .await?
            .ok_or(LeadApiError::NotFound)?;
        match row.merged_into {
            Some(into) => id = into,
            None => return Ok(row),
        }
    }
    Err(LeadApiError::NotFound)
}

pub async fn get(
    state: &AppState,
    tenant: i64,
    id: i64,
    orders_page: Paging,
) -> Result<LeadDetail, LeadApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let row = resolve(&mut conn, tenant, id).await?;
    let merged = detail::merged_into(&mut conn, tenant, row.id).await?;
    let (orders, total) = detail::orders(
        &mut conn,
        tenant,
        row.id,
        orders_page.size,
        orders_page.offset(),
    )
    .await?;
    let mut leads = merged.clone();
    leads.push(row.id);
    let history = detail::history(&mut conn, tenant, &leads).await?;
    Ok(LeadDetail {
        lead_id: row.id,
        order_id: row.order_id,
        platform_id: row.platform_id,
        platform_type: row.platform_type,
        order_time: row.order_time,
        contact_info: row.contact_masked,
        contact_type: row.contact_kind,
        product_info: row.product_info,
        amount: Money::from_fen(row.amount_fen).to_string(),
        intention_tags: row.intention_tags,
        score: row.score,
        process_status: row.process_status,
        create_time: row.create_time,
        order_count: row.order_count,
        total_amount: Money::from_fen(row.paid_total_fen).to_string(),
        last_order_time: row.last_order_time,
        score_reasons: row.score_reasons,
        model_version: row.model_version,
        contact_validity: row.contact_validity_reason,
        intention: row.intention,
        scored_by: row.scored_by,
        buyer: row.aggregate,
        merged_lead_ids: merged,
        orders: Page::new(
            orders.into_iter().map(OrderView::from).collect(),
            total,
            orders_page,
        ),
        status_history: history.into_iter().map(StatusChangeView::from).collect(),
        version: row.version,
    })
}
