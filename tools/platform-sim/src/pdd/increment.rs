//! `pdd.order.number.list.increment.get` (README §3.3, docs/platform-sync.md §2.3): orders by
//! modification time, `updated_at`.
//!
//! Parameters: `start_updated_at`, `end_updated_at` (unix seconds, required; at most 30 minutes
//! apart, else 10002 "开始时间结束时间间距不超过 30 分钟"), `is_lucky_flag` (0 全部, the default;
//! 1 非抽奖; 2 抽奖), `order_status` and `refund_status` (required), `trade_type`, `page`,
//! `page_size`, `use_has_next`, read as [`super::query`] reads them for `pdd.order.list.get`.
//!
//! Answer, as the README's sample: `{"order_sn_increment_get_response": {"has_next",
//! "total_count", "order_sn_list": [order, …]}}`, each element the whole order as
//! `pdd.order.list.get` lists it; with `use_has_next=true` there is no `total_count` ("has_next
//! instead of total_count").
//!
//! Simulator choices where the README is silent: orders are sorted by `updated_at`
//! **descending** (newest first, as TOP's increment API does), then `order_sn` ascending, so a
//! client must page backwards from the last page not to miss orders modified during its walk;
//! only confirmed (成交) orders are listed, as by `pdd.order.list.get` (a group still filling or
//! failed is not the merchant's order yet); no history limit; no `request_id` (the sample has
//! none).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use leadgen_platforms::sign::Params;

use super::errors::PddError;
use super::orders::PddOrder;
use super::query::{self, Filters, Paging};

pub const TYPE: &str = "pdd.order.number.list.increment.get";
pub const RESPONSE: &str = "order_sn_increment_get_response";
/// `end_updated_at - start_updated_at` may not exceed 30 minutes.
pub const MAX_WINDOW_SECONDS: i64 = 1_800;

/// A validated increment listing.
#[derive(Debug, Clone)]
pub struct Increment {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// 0 every order, 1 no lucky draws, 2 lucky draws only.
    pub lucky: u8,
    pub filters: Filters,
    pub paging: Paging,
}

/// Reads and checks the business parameters.
pub fn parse(params: &Params) -> Result<Increment, PddError> {
    let (start, end) = query::window(
        params,
        ["start_updated_at", "end_updated_at"],
        MAX_WINDOW_SECONDS,
        "开始时间结束时间间距不超过 30 分钟",
    )?;
    let lucky = query::integer(params, "is_lucky_flag")?
        .map(|f| query::small(f, &[0, 1, 2], "is_lucky_flag"))
        .transpose()?
        .unwrap_or(0);
    let (order_status, refund_status) = query::statuses(params)?;
    let filters = Filters {
        order_status,
        refund_status,
        trade_type: query::trade_type(params)?,
    };
    Ok(Increment {
        start,
        end,
        lucky,
        filters,
        paging: Paging::parse(params)?,
    })
}

impl Increment {
    /// The matching orders, by `updated_at` descending, then `order_sn` ascending.
    pub fn select<'a>(&self, orders: &'a [PddOrder]) -> Vec<&'a PddOrder> {
        let mut selected: Vec<&PddOrder> = orders
            .iter()
            .filter(|o| {
                o.confirmed.is_some()
                    && o.updated >= self.start
                    && o.updated <= self.end
                    && (self.lucky == 0 || o.json.get("is_lucky_flag") == Some(&json!(self.lucky)))
                    && self.filters.matches(o)
            })
            .collect();
        selected.sort_by(|a, b| b.updated.cmp(&a.updated).then(a.order_sn.cmp(&b.order_sn)));
        selected
    }

    /// `{"order_sn_increment_get_response": {…}}` for this listing's page.
    pub fn answer(&self, orders: &[PddOrder]) -> Value {
        let page = self.paging.page(&self.select(orders));
        let mut body = json!({ "has_next": page.has_next });
        if !self.paging.use_has_next {
            body["total_count"] = json!(page.total);
        }
        body["order_sn_list"] = Value::Array(page.orders);
        json!({ RESPONSE: body })
    }
}
