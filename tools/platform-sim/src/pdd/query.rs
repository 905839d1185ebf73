//! What PDD's two order listings, `pdd.order.list.get` ([`super::list`]) and
//! `pdd.order.number.list.increment.get` ([`super::increment`]), share: reading their business
//! parameters (errors are 10002 业务参数错误), the time window, the `order_status` /
//! `refund_status` / `trade_type` filters and paging (`page` from 1, `page_size` ≤ 100, default
//! 100, `use_has_next`).
//!
//! Simulator choices where the README is silent: both window bounds are inclusive; an absent
//! `trade_type` means every type; a page past the end is empty.

use chrono::{DateTime, Utc};
use serde_json::Value;

use leadgen_platforms::sign::Params;

use super::errors::PddError;
use super::orders::PddOrder;

pub const MAX_PAGE_SIZE: u64 = 100;

fn get<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// An optional integer parameter.
pub fn integer(params: &Params, key: &str) -> Result<Option<i64>, PddError> {
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

/// `value` when it is one of `allowed`.
pub fn small(value: i64, allowed: &[i64], key: &str) -> Result<u8, PddError> {
    if allowed.contains(&value) {
        u8::try_from(value).map_err(|_| PddError::business(key))
    } else {
        Err(PddError::business(&format!("{key} 取值不合法：{value}")))
    }
}

/// The window `[start_key, end_key]` (unix seconds), at most `max_seconds` long; `too_long` is
/// the message when it is longer.
pub fn window(
    params: &Params,
    [start_key, end_key]: [&str; 2],
    max_seconds: i64,
    too_long: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>), PddError> {
    let start = unix(params, start_key)?;
    let end = unix(params, end_key)?;
    if end < start {
        let why = format!("{end_key} 不能早于 {start_key}");
        return Err(PddError::business(&why));
    }
    if (end - start).num_seconds() > max_seconds {
        return Err(PddError::business(too_long));
    }
    Ok((start, end))
}

/// `order_status` (1 待发货, 2 已发货待签收, 3 已签收, 5 全部) and `refund_status` (1 无售后或售后关闭,
/// 2 售后处理中, 3 退款中, 4 退款成功, 5 全部), both required.
pub fn statuses(params: &Params) -> Result<(u8, u8), PddError> {
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
    Ok((order_status, refund_status))
}

/// `trade_type` (0 普通, 1 定金; absent: every type).
pub fn trade_type(params: &Params) -> Result<Option<u8>, PddError> {
    integer(params, "trade_type")?
        .map(|t| small(t, &[0, 1], "trade_type"))
        .transpose()
}

/// The status and type filters.
#[derive(Debug, Clone)]
pub struct Filters {
    pub order_status: u8,
    pub refund_status: u8,
    pub trade_type: Option<u8>,
}

impl Filters {
    pub fn matches(&self, o: &PddOrder) -> bool {
        (self.order_status == 5 || o.order_status == self.order_status)
            && (self.refund_status == 5 || o.refund_status == self.refund_status)
            && self.trade_type.is_none_or(|t| t == o.trade_type)
    }
}

/// `page`, `page_size` and `use_has_next`.
#[derive(Debug, Clone)]
pub struct Paging {
    pub page: u64,
    pub page_size: u64,
    pub use_has_next: bool,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page {
    /// The page's orders, every field.
    pub orders: Vec<Value>,
    /// Every matching order on every page.
    pub total: u64,
    /// Whether a later page has orders.
    pub has_next: bool,
}

impl Paging {
    pub fn parse(params: &Params) -> Result<Paging, PddError> {
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
        Ok(Paging {
            page: u64::try_from(page).unwrap_or(1),
            page_size: u64::try_from(page_size).unwrap_or(MAX_PAGE_SIZE),
            use_has_next,
        })
    }

    /// This page of `selected` (already filtered and sorted).
    pub fn page(&self, selected: &[&PddOrder]) -> Page {
        let total = selected.len() as u64;
        let offset = (self.page - 1).saturating_mul(self.page_size);
        let orders = selected
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.page_size).unwrap_or(usize::MAX))
            .map(|o| Value::Object(o.json.clone()))
            .collect();
        Page {
            orders,
            total,
            has_next: offset.saturating_add(self.page_size) < total,
        }
    }
}
