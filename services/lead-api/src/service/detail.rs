//! `GET /leads/{leadId}`: the list's fields, the buyer's orders (masked, newest first, paged),
//! the score's reasons and model, contact validity, and the status history. An id merged into
//! another lead resolves to that lead.

use chrono::{DateTime, Utc};
use leadgen_domain::Money;
use leadgen_domain::buyer::BuyerAggregate;
use leadgen_domain::order::refund_amount;
use leadgen_http::Page;
use leadgen_http::paging::Paging;
use serde::Serialize;

use crate::error::LeadApiError;
use crate::repo::detail::{self, HistoryRow, LeadDetailRow, OrderRow};
use crate::service::view::LeadView;
use crate::startup::AppState;
use leadgen_domain::{LeadId, LeadProcessStatus, TenantId};

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadDetail {
    /// Every field of the list's record.
    #[serde(flatten)]
    pub lead: LeadView,
    /// 0–100, the intention part of the score.
    pub intention: i16,
    #[schema(value_type = crate::openapi::ScoredBySchema)]
    pub scored_by: String,
    /// The buyer's aggregate over all of their orders.
    pub buyer: BuyerView,
    /// Leads that turned out to be this buyer and were merged into this one.
    pub merged_lead_ids: Vec<i64>,
    #[schema(value_type = leadgen_http::openapi::PageOf<OrderView>)]
    pub orders: Page<OrderView>,
    /// The newest 200 status changes, newest first, with those of the leads merged into this
    /// one (the operation log keeps every one).
    pub status_history: Vec<StatusChangeView>,
}

/// The buyer's aggregate as the API shows it: counts, money in yuan, first and last order and
/// payment, the mean gap between payments, and the order ids, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuyerView {
    pub order_count: u32,
    /// Orders paid at some point (refunded ones included).
    pub paid_order_count: u32,
    /// Yuan, two decimals: what the buyer paid and kept (paid orders less refunds: the refunded
    /// lines of a partial refund, else the whole order; orders closed after payment count 0).
    #[schema(pattern = r"^-?[0-9]+\.[0-9]{2}$", example = "128.50")]
    pub paid_total: String,
    /// Orders refunded or closed after payment.
    pub after_sale_count: u32,
    /// Orders placed and still waiting for payment.
    pub unpaid_count: u32,
    /// Orders closed before any payment.
    pub closed_unpaid_count: u32,
    pub first_order_time: DateTime<Utc>,
    pub last_order_time: DateTime<Utc>,
    #[schema(required = true)]
    pub first_paid_time: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub last_paid_time: Option<DateTime<Utc>>,
    /// Mean days between consecutive payments; `null` with fewer than two paid orders.
    #[schema(required = true)]
    pub mean_gap_days: Option<f64>,
    pub last_product: String,
    /// Every order id, newest first.
    pub order_ids: Vec<String>,
}

impl From<BuyerAggregate> for BuyerView {
    fn from(a: BuyerAggregate) -> Self {
        BuyerView {
            order_count: a.order_count,
            paid_order_count: a.paid_order_count,
            paid_total: a.paid_total.to_yuan_string(),
            after_sale_count: a.after_sale_count,
            unpaid_count: a.unpaid_count,
            closed_unpaid_count: a.closed_unpaid_count,
            first_order_time: a.first_order_time,
            last_order_time: a.last_order_time,
            first_paid_time: a.first_paid_time,
            last_paid_time: a.last_paid_time,
            mean_gap_days: a.mean_gap_days,
            last_product: a.last_product,
            order_ids: a.order_ids,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: String,
    pub platform_id: i64,
    #[schema(value_type = leadgen_http::openapi::PlatformTypeSchema)]
    pub platform_type: String,
    pub order_time: DateTime<Utc>,
    #[schema(value_type = crate::openapi::OrderStatusSchema)]
    pub status: String,
    /// The platform's own status.
    pub platform_status: String,
    #[schema(pattern = r"^-?[0-9]+\.[0-9]{2}$")]
    pub amount: String,
    pub product_info: String,
    #[schema(required = true)]
    pub contact_info: Option<String>,
    /// A refund was asked for or made.
    pub refunded: bool,
    /// Yuan refunded or asked back: the refunded lines when only some lines are (a partial
    /// refund), else the whole amount; `null` without a refund.
    #[schema(required = true, example = "59.00", pattern = r"^-?[0-9]+\.[0-9]{2}$")]
    pub refund_amount: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeView {
    pub lead_id: i64,
    #[schema(value_type = crate::openapi::LeadProcessStatusSchema)]
    pub from_status: LeadProcessStatus,
    #[schema(value_type = crate::openapi::LeadProcessStatusSchema)]
    pub to_status: LeadProcessStatus,
    /// The salesperson's note; for a status a merge brought, which leads it came from.
    #[schema(required = true)]
    pub note: Option<String>,
    /// 0 when no one set it by hand: the status came with leads merged into this one.
    pub operator_id: i64,
    /// The name the operator's token carried; `用户 7` (the user's id) for a token without one
    /// (as in the operation log); `null` for the system.
    #[schema(required = true)]
    pub operator_name: Option<String>,
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
            refund_amount: refund_amount(
                Money::from_fen(o.amount_fen),
                o.refunded,
                o.partial_refund_fen.map(Money::from_fen),
            )
            .map(|m| m.to_string()),
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
            operator_name: Some(h.operator_name).filter(|n| !n.trim().is_empty()),
            time: h.occurred_at,
        }
    }
}

/// Follows merges: a merged lead resolves to the lead it merged into (ids are never reused, so a
/// few hops at most).
pub async fn resolve(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: TenantId,
    id: LeadId,
) -> Result<LeadDetailRow, LeadApiError> {
    let mut id = id;
    for _ in 0..8 {
        let row = detail::find(conn, tenant, id)
            .await?
            .ok_or(LeadApiError::NotFound)?;
        match row.merged_into {
            Some(into) => id = LeadId::new(into),
            None => return Ok(row),
        }
    }
    Err(LeadApiError::NotFound)
}

#[tracing::instrument(name = "leads.detail", skip_all, fields(tenant_id = tenant.get(), lead_id = id.get()))]
pub async fn get(
    state: &AppState,
    tenant: TenantId,
    id: LeadId,
    orders_page: Paging,
) -> Result<LeadDetail, LeadApiError> {
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let row = resolve(&mut conn, tenant, id).await?;
    let merged = detail::merged_into(&mut conn, tenant, row.listed.id).await?;
    let (orders, total) = detail::orders(
        &mut conn,
        tenant,
        row.listed.id,
        orders_page.size,
        orders_page.offset(),
    )
    .await?;
    let mut leads = merged.clone();
    leads.push(row.listed.id);
    let history = detail::history(&mut conn, tenant, &leads).await?;
    // Never serde_json's own error: it quotes the value it stumbled on.
    let buyer: BuyerAggregate = leadgen_domain::stored_json::from_value(row.aggregate)
        .map_err(|e| anyhow::anyhow!("lead {} has an unreadable aggregate: {e}", row.listed.id))?;
    Ok(LeadDetail {
        lead: LeadView::from(row.listed),
        intention: row.intention,
        scored_by: row.scored_by,
        buyer: BuyerView::from(buyer),
        merged_lead_ids: merged.iter().map(|l| l.get()).collect(),
        orders: Page::new(
            orders.into_iter().map(OrderView::from).collect(),
            total,
            orders_page,
        ),
        status_history: history.into_iter().map(StatusChangeView::from).collect(),
    })
}
