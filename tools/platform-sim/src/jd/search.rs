//! `jingdong.pop.order.enSearch` (and `jingdong.pop.order.search`, same parameters): orders by
//! creation (`dateType=1`) or modification time, filtered by `order_state`, paged.
//!
//! Business parameters come as the JSON object `360buy_param_json`; values may be strings (as the
//! Java SDK sends them) or numbers. Failures are answered inside a normal 200 response with
//! `apiResult.success=false`, `orderTotal: 0` and an empty list.
//!
//! Simulator choices where the README is silent: `page_size` defaults to 20; both bounds are
//! inclusive; "one month" is one calendar month from `start_date` (Beijing time); without
//! `sortType=1` the order is ascending; ties are ordered by `orderId` ascending; unknown
//! `optional_fields` names are ignored; an empty page has `orderInfoList: []`.

use std::collections::BTreeSet;

use chrono::{DateTime, Months, Utc};
use serde_json::{Map, Value, json};

use leadgen_domain::time::{beijing, parse_beijing};

use super::errors::ApiFailure;
use super::orders::JdOrder;

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;

/// Every `order_state` JOS documents.
pub const STATES: &[&str] = &[
    "WAIT_SELLER_STOCK_OUT",
    "WAIT_GOODS_RECEIVE_CONFIRM",
    "WAIT_SELLER_DELIVERY",
    "PAUSE",
    "FINISHED_L",
    "TRADE_CANCELED",
    "LOCKED",
    "POP_ORDER_PAUSE",
];

/// A validated search.
#[derive(Debug, Clone)]
pub struct Search {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub states: BTreeSet<&'static str>,
    pub fields: BTreeSet<String>,
    pub page: u64,
    pub page_size: u64,
    pub descending: bool,
    pub by_created: bool,
}

/// A business parameter as text (strings as they are, numbers in JSON spelling).
fn param(object: &Map<String, Value>, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(object: &Map<String, Value>, key: &str, default: u64) -> Result<u64, ApiFailure> {
    match param(object, key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ApiFailure::invalid_param(key, "必须为整数", "must be an integer")),
    }
}

fn one_month_after(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = t.with_timezone(&beijing());
    local
        .checked_add_months(Months::new(1))
        .map(|l| l.with_timezone(&Utc))
}

/// Reads and checks `360buy_param_json`.
pub fn parse(param_json: Option<&str>, now: DateTime<Utc>) -> Result<Search, ApiFailure> {
    let text = param_json
        .ok_or_else(|| ApiFailure::invalid_param("360buy_param_json", "不能为空", "is required"))?;
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        _ => {
            return Err(ApiFailure::invalid_param(
                "360buy_param_json",
                "不是合法的JSON对象",
                "is not a JSON object",
            ));
        }
    };
    let state_text = param(&object, "order_state")
        .ok_or_else(|| ApiFailure::invalid_param("order_state", "不能为空", "is required"))?;
    let mut states = BTreeSet::new();
    for s in state_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let known = STATES.iter().find(|k| **k == s).ok_or_else(|| {
            ApiFailure::invalid_param("order_state", "包含未知的订单状态", "unknown order state")
        })?;
        states.insert(*known);
    }
    let fields: BTreeSet<String> = param(&object, "optional_fields")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    if fields.is_empty() {
        return Err(ApiFailure::invalid_param(
            "optional_fields",
            "不能为空",
            "is required",
        ));
    }
    let time = |key: &str| -> Result<Option<DateTime<Utc>>, ApiFailure> {
        match param(&object, key) {
            None => Ok(None),
            Some(v) => parse_beijing(&v).map(Some).ok_or_else(|| {
                ApiFailure::invalid_param(key, "格式应为yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss")
            }),
        }
    };
    let (start, end) = match (time("start_date")?, time("end_date")?) {
        (Some(s), Some(e)) => (s, e),
        (None, None) if states.len() == 1 && states.contains("WAIT_SELLER_STOCK_OUT") => {
            let month_ago = now
                .with_timezone(&beijing())
                .checked_sub_months(Months::new(1))
                .map_or(now, |l| l.with_timezone(&Utc));
            (month_ago, now)
        }
        _ => {
            return Err(ApiFailure::invalid_param(
                "start_date/end_date",
                "仅查询等待出库订单时可以不传",
                "may be empty only for WAIT_SELLER_STOCK_OUT",
            ));
        }
    };
    if end < start {
        return Err(ApiFailure::invalid_param(
            "end_date",
            "不能早于start_date",
            "must not be earlier than start_date",
        ));
    }
    if one_month_after(start).is_none_or(|limit| end > limit) {
        return Err(ApiFailure::range_too_long());
    }
    let page = number(&object, "page", 1)?;
    if page < 1 {
        return Err(ApiFailure::invalid_param("page", "从1开始", "starts at 1"));
    }
    let page_size = number(&object, "page_size", DEFAULT_PAGE_SIZE)?;
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(ApiFailure::invalid_param(
            "page_size",
            "取值范围1-100",
            "must be between 1 and 100",
        ));
    }
    Ok(Search {
        start,
        end,
        states,
        fields,
        page,
        page_size,
        descending: param(&object, "sortType").as_deref() == Some("1"),
        by_created: param(&object, "dateType").as_deref() == Some("1"),
    })
}

impl Search {
    /// The order's time this search filters and sorts on.
    fn key(&self, o: &JdOrder) -> DateTime<Utc> {
        if self.by_created {
            o.created
        } else {
            o.modified
        }
    }

    /// The matching orders, sorted as asked.
    pub fn select<'a>(&self, orders: &'a [JdOrder]) -> Vec<&'a JdOrder> {
        let mut selected: Vec<&JdOrder> = orders
            .iter()
            .filter(|o| {
                let t = self.key(o);
                t >= self.start && t <= self.end && self.states.contains(o.state)
            })
            .collect();
        selected.sort_by(|a, b| {
            let by_time = self.key(a).cmp(&self.key(b));
            let by_time = if self.descending {
                by_time.reverse()
            } else {
                by_time
            };
            by_time.then(a.order_id.cmp(&b.order_id))
        });
        selected
    }

    /// The requested fields of one order, in JOS's field order.
    fn project(&self, order: &Map<String, Value>) -> Value {
        Value::Object(
            order
                .iter()
                .filter(|(k, _)| self.fields.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// `searchorderinfo_result` for this search's page.
    pub fn result(&self, orders: &[JdOrder]) -> Value {
        let selected = self.select(orders);
        let offset = (self.page - 1).saturating_mul(self.page_size);
        let page: Vec<Value> = selected
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.page_size).unwrap_or(usize::MAX))
            .map(|o| self.project(&o.json))
            .collect();
        json!({
            "apiResult": { "success": true, "englishErrCode": "", "chineseErrCode": "", "numberCode": 0 },
            "orderTotal": selected.len(),
            "orderInfoList": page,
        })
    }
}

/// The whole answer, `{"<method>_responce": {"code": "0", "searchorderinfo_result": …}}`.
pub fn answer(method: &str, result: Value) -> Value {
    let key = format!("{}_responce", method.replace('.', "_"));
    let mut body = Map::new();
    body.insert(
        key,
        json!({ "code": "0", "searchorderinfo_result": result }),
    );
    Value::Object(body)
}

/// The answer to a failed search: `apiResult.success=false`, nothing listed.
pub fn failure(method: &str, failure: &ApiFailure) -> Value {
    answer(
        method,
        json!({ "apiResult": failure.api_result(), "orderTotal": 0, "orderInfoList": [] }),
    )
}
