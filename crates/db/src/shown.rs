//! One order as a salesperson sees it in a lead's detail: lead-api reads it, and order-processor
//! compares it before and after writing an order, so that a lead's version moves whenever its
//! detail would show something else. One definition, so the two never disagree on what "shown"
//! means.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::t_ecom_order_processed as processed;

/// A processed order's shown fields (the contact masked; the sealed value is never read).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = processed)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ShownOrder {
    pub platform_id: i64,
    pub platform_type: String,
    pub order_id: String,
    pub status: String,
    pub platform_status: String,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub product_info: String,
    pub contact_masked: Option<String>,
    pub refunded: bool,
    pub partial_refund_fen: Option<i64>,
}
