//! `pdd.order.list.get`: orders by confirm (成交) time, filtered by `order_status` and
//! `refund_status`, paged; parameters, filters and paging as [`super::query`] reads them.
//!
//! Simulator choices where the README is silent: orders are sorted by `confirm_time`
//! ascending, then `order_sn`; an empty page has `order_list: []`; the answer carries
//! `request_id`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use leadgen_platforms::sign::Params;

use super::errors::{PddError, request_id};
use super::orders::PddOrder;
use super::query::{self, Filters, Paging};

/// `end_confirm_at - start_confirm_at` may not exceed 24 h.
pub const MAX_WINDOW_SECONDS: i64 = 86_400;

/// A validated listing.
#[derive(Debug, Clone)]
pub struct Listing {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub filters: Filters,
    pub paging: Paging,
}

/// Reads and checks the business parameters.
pub fn parse(params: &Params) -> Result<Listing, PddError> {
    let (order_status, refund_status) = query::statuses(params)?;
    let (start, end) = query::window(
        params,
        ["start_confirm_at", "end_confirm_at"],
        MAX_WINDOW_SECONDS,
        "开始时间结束时间间距不超过 24 小时",
    )?;
    let filters = Filters {
        order_status,
        refund_status,
        trade_type: query::trade_type(params)?,
    };
    Ok(Listing {
        start,
        end,
        filters,
        paging: Paging::parse(params)?,
    })
}

impl Listing {
    /// The matching orders, by confirm time ascending, then `order_sn`.
    pub fn select<'a>(&self, orders: &'a [PddOrder]) -> Vec<&'a PddOrder> {
        let mut selected: Vec<&PddOrder> = orders
            .iter()
            .filter(|o| {
                o.confirmed
                    .is_some_and(|c| c >= self.start && c <= self.end)
                    && self.filters.matches(o)
            })
            .collect();
        selected.sort_by(|a, b| {
            a.confirmed
                .cmp(&b.confirmed)
                .then(a.order_sn.cmp(&b.order_sn))
        });
        selected
    }

    /// `{"order_list_get_response": {…}}` for this listing's page.
    pub fn answer(&self, orders: &[PddOrder]) -> Value {
        let page = self.paging.page(&self.select(orders));
        let mut body = json!({ "order_list": page.orders, "request_id": request_id() });
        if self.paging.use_has_next {
            body["has_next"] = json!(page.has_next);
        } else {
            body["total_count"] = json!(page.total);
        }
        json!({ "order_list_get_response": body })
    }
}
