//! `order.searchList`: orders by creation or update time, `page` from 0, `size` ≤ 100.
//!
//! Choices where the reference is silent [unverified]: time bounds are inclusive unix seconds
//! (numbers or digit strings); `size` defaults to 10 and `page` to 0; ties on the sort time are
//! ordered by `order_id` ascending; `combine_status` filters on `order_status` (a comma list
//! allowed); an empty page has `"shop_order_list": []`; the other filters are accepted and
//! ignored.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::errors::{DyError, success};
use super::gateway::{ApiAnswer, Call};
use super::orders::DyOrder;
use super::orders_for;
use crate::shop::ShopKey;
use crate::state::SimState;

pub const MAX_SIZE: i64 = 100;
pub const DEFAULT_SIZE: i64 = 10;

fn int_param(params: &Value, key: &str) -> Result<Option<i64>, DyError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| DyError::bad_param(key, "必须是整数")),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| DyError::bad_param(key, "必须是整数")),
        Some(_) => Err(DyError::bad_param(key, "必须是整数")),
    }
}

fn time_param(params: &Value, key: &str) -> Result<Option<DateTime<Utc>>, DyError> {
    match int_param(params, key)? {
        None => Ok(None),
        Some(s) if s >= 0 => DateTime::from_timestamp(s, 0)
            .map(Some)
            .ok_or_else(|| DyError::bad_param(key, "不是有效的unix时间（秒）")),
        Some(_) => Err(DyError::bad_param(key, "不是有效的unix时间（秒）")),
    }
}

fn statuses(params: &Value) -> Result<Option<Vec<i64>>, DyError> {
    let Some(list) = params.get("combine_status").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = || DyError::bad_param("combine_status", "应为[{\"order_status\":\"…\"}]");
    let items = list.as_array().ok_or_else(bad)?;
    let mut out = Vec::new();
    for item in items {
        let text = match item.get("order_status") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad()),
        };
        for code in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            out.push(code.parse().map_err(|_| bad())?);
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Runs `order.searchList` on the orders of `shop` (the access token's).
pub fn search_list(
    state: &SimState,
    call: &Call<'_>,
    shop: &ShopKey,
) -> Result<ApiAnswer, DyError> {
    let p = call.params;
    let bounds = [
        time_param(p, "create_time_start")?,
        time_param(p, "create_time_end")?,
        time_param(p, "update_time_start")?,
        time_param(p, "update_time_end")?,
    ];
    if let [Some(s), Some(e), ..] = bounds
        && e < s
    {
        return Err(DyError::bad_param(
            "create_time_end",
            "不能早于create_time_start",
        ));
    }
    if let [_, _, Some(s), Some(e)] = bounds
        && e < s
    {
        return Err(DyError::bad_param(
            "update_time_end",
            "不能早于update_time_start",
        ));
    }
    let page = int_param(p, "page")?.unwrap_or(0);
    if page < 0 {
        return Err(DyError::bad_param("page", "从0开始"));
    }
    let size = int_param(p, "size")?.unwrap_or(DEFAULT_SIZE);
    if !(1..=MAX_SIZE).contains(&size) {
        return Err(DyError::bad_param("size", "取值范围1-100"));
    }
    let by_update = match p.get("order_by").and_then(Value::as_str) {
        None | Some("" | "create_time") => false,
        Some("update_time") => true,
        Some(_) => {
            return Err(DyError::bad_param(
                "order_by",
                "只能是create_time或update_time",
            ));
        }
    };
    let asc = match p.get("order_asc") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        Some(_) => return Err(DyError::bad_param("order_asc", "应为布尔值")),
    };
    let statuses = statuses(p)?;
    let within = |t: DateTime<Utc>, lo: Option<DateTime<Utc>>, hi: Option<DateTime<Utc>>| {
        lo.is_none_or(|lo| t >= lo) && hi.is_none_or(|hi| t <= hi)
    };
    let shop = orders_for(state, shop);
    let mut selected: Vec<&DyOrder> = shop
        .orders
        .iter()
        .filter(|o| {
            within(o.created, bounds[0], bounds[1])
                && within(o.updated, bounds[2], bounds[3])
                && statuses.as_ref().is_none_or(|s| s.contains(&o.status))
        })
        .collect();
    let key = |o: &DyOrder| if by_update { o.updated } else { o.created };
    selected.sort_by(|a, b| {
        let by_time = if asc {
            key(a).cmp(&key(b))
        } else {
            key(b).cmp(&key(a))
        };
        by_time.then(a.order_id.cmp(&b.order_id))
    });
    let total = selected.len();
    let offset = usize::try_from(page.saturating_mul(size)).unwrap_or(usize::MAX);
    let list: Vec<Value> = selected
        .iter()
        .skip(offset)
        .take(usize::try_from(size).unwrap_or(0))
        .map(|o| Value::Object(o.json.clone()))
        .collect();
    Ok(ApiAnswer {
        body: success(json!({"page": page, "size": size, "total": total, "shop_order_list": list})),
        is_order_list: true,
    })
}
