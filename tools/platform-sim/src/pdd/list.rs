//! `pdd.order.list.get`: orders by confirm (成交) time, filtered by `order_status` and
//! `refund_status`, paged.
//!
//! Simulator choices where the README is silent: both bounds are inclusive; orders are sorted by
//! `confirm_time` ascending, then `order_sn`; an absent `trade_type` means every type; an empty
//! page has `order_list: []`; the answer carries `request_id`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use leadgen_platforms::sign::Params;

use super::errors::{PddError, request_id};
use super::orders::PddOrder;

pub const MAX_PAGE_SIZE: u64 = 100;
/// `end_confirm_at - start_confirm_at` may not exceed 24 h.
pub const MAX_WINDOW_SECONDS: i64 = 86_400;

/// A validated listing.
#[derive(Debug, Clone)]
pub struct Listing {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub order_status: u8,
    pub refund_status: u8,
    pub trade_type: Option<u8>,
    pub page: u64,
    pub page_size: u64,
    pub use_has_next: bool,
}

fn get<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn integer(params: &Params, key: &str) -> Result<Option<i64>, PddError> {
    get(params, key)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| PddError::business(&format!("{key} 必须为整数")))
        })
        .transpose()
}

fn required(params: &Params, key: &str) -> Result<i64, PddError> {
    integer(params, key)?.ok_or_else(|| PddError::business(&format!("{key} 不能为空")))
}

fn unix(params: &Params, key: &str) -> Result<DateTime<Utc>, PddError> {
    let s = required(params, key)?;
    DateTime::from_timestamp(s, 0)
        .filter(|_| (0..100_000_000_000).contains(&s))
        .ok_or_else(|| PddError::business(&format!("{key} 必须为秒级时间戳")))
}

fn small(value: i64, allowed: &[i64], key: &str) -> Result<u8, PddError> {
    if allowed.contains(&value) {
        u8::try_from(value).map_err(|_| PddError::business(key))
    } else {
        Err(PddError::business(&format!("{key} 取值不合法：{value}")))
    }
}

/// Reads and checks the business parameters.
pub fn parse(params: &Params) -> Result<Listing, PddError> {
    let order_status = small(
        required(params, "order_status")?,
        &[1, 2, 3, 5],
        "order_status",
    )?;
    let refund_status = small(
        required(params, "refund_status")?,
        &[1, 2, 3, 4, 5],
        "refund_status",
    )?;
    let start = unix(params, "start_confirm_at")?;
    let end = unix(params, "end_confirm_at")?;
    if end < start {
        return Err(PddError::business(
            "end_confirm_at 不能早于 start_confirm_at",
        ));
    }
    if (end - start).num_seconds() > MAX_WINDOW_SECONDS {
        return Err(PddError::business("开始时间结束时间间距不超过 24 小时"));
    }
    let trade_type = integer(params, "trade_type")?
        .map(|t| small(t, &[0, 1], "trade_type"))
        .transpose()?;
    let page = integer(params, "page")?.unwrap_or(1);
    if page < 1 {
        return Err(PddError::business("page 从 1 开始"));
    }
    let page_size = integer(params, "page_size")?.unwrap_or(100);
    if !(1..=100).contains(&page_size) {
        return Err(PddError::business("page_size 最大 100"));
    }
    let use_has_next = match get(params, "use_has_next") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(PddError::business("use_has_next 必须为 true 或 false")),
    };
    Ok(Listing {
        start,
        end,
        order_status,
        refund_status,
        trade_type,
        page: u64::try_from(page).unwrap_or(1),
        page_size: u64::try_from(page_size).unwrap_or(MAX_PAGE_SIZE),
        use_has_next,
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
                    && (self.order_status == 5 || o.order_status == self.order_status)
                    && (self.refund_status == 5 || o.refund_status == self.refund_status)
                    && self.trade_type.is_none_or(|t| t == o.trade_type)
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
        let selected = self.select(orders);
        let total = selected.len() as u64;
        let offset = (self.page - 1).saturating_mul(self.page_size);
        let page: Vec<Value> = selected
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.page_size).unwrap_or(usize::MAX))
            .map(|o| Value::Object(o.json.clone()))
            .collect();
        let mut body = json!({ "order_list": page, "request_id": request_id() });
        if self.use_has_next {
            let shown = offset.saturating_add(self.page_size).min(total);
            body["has_next"] = json!(shown < total);
        } else {
            body["total_count"] = json!(total);
        }
        json!({ "order_list_get_response": body })
    }
}
