//! A lead as the list and the detail show it: contact masked, never the sealed value.

use chrono::{DateTime, Utc};
use leadgen_domain::{LeadProcessStatus, Money, PlatformType};
use serde::Serialize;

use crate::repo::leads::LeadRow;

/// One lead as sales staff see it: contact masked, never the sealed value.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadView {
    pub lead_id: i64,
    pub order_id: String,
    pub platform_id: i64,
    #[schema(value_type = leadgen_http::openapi::PlatformTypeSchema)]
    pub platform_type: PlatformType,
    pub order_time: DateTime<Utc>,
    pub contact_info: String,
    #[schema(value_type = crate::openapi::ContactTypeSchema)]
    pub contact_type: String,
    pub product_info: String,
    #[schema(pattern = r"^-?[0-9]+\.[0-9]{2}$")]
    pub amount: String,
    #[schema(value_type = Vec<crate::openapi::IntentionTagSchema>)]
    pub intention_tags: Vec<String>,
    pub score: i16,
    #[schema(value_type = crate::openapi::LeadProcessStatusSchema)]
    pub process_status: LeadProcessStatus,
    pub create_time: DateTime<Utc>,
    pub order_count: i32,
    #[schema(pattern = r"^-?[0-9]+\.[0-9]{2}$")]
    pub total_amount: String,
    pub last_order_time: DateTime<Utc>,
    /// `[{code, text}]`: why the score is what it is.
    #[schema(value_type = Vec<crate::openapi::ReasonDoc>)]
    pub score_reasons: serde_json::Value,
    pub model_version: String,
    /// `{validity, code, reason}`: whether the contact reaches the buyer.
    #[schema(value_type = crate::openapi::ValidityDoc)]
    pub contact_validity: serde_json::Value,
    /// Grows with every change of the lead: the `If-Match` of a status change, and the
    /// `lead.version` of its events.
    pub version: i32,
}

impl From<LeadRow> for LeadView {
    fn from(r: LeadRow) -> Self {
        LeadView {
            lead_id: r.id.get(),
            order_id: r.order_id,
            platform_id: r.platform_id,
            platform_type: r.platform_type,
            order_time: r.order_time,
            contact_info: r.contact_masked,
            contact_type: r.contact_kind,
            product_info: r.product_info,
            amount: Money::from_fen(r.amount_fen).to_string(),
            intention_tags: r.intention_tags,
            score: r.score,
            process_status: r.process_status,
            create_time: r.create_time,
            order_count: r.order_count,
            total_amount: Money::from_fen(r.paid_total_fen).to_string(),
            last_order_time: r.last_order_time,
            score_reasons: r.score_reasons,
            model_version: r.model_version,
            contact_validity: r.contact_validity_reason,
            version: r.version,
        }
    }
}
