//! `taobao.trades.sold.get` (by creation time) and `taobao.trades.sold.increment.get` (by
//! modification time).
//!
//! An empty page carries no `trades` key at all (TOP leaves empty lists out): e.g.
//! `{"trades_sold_get_response":{"total_results":0,"request_id":"…"}}`.

use chrono::{DateTime, Duration, Months, Utc};
use serde_json::{Map, Value, json};

use leadgen_domain::time::parse_beijing;
use leadgen_platforms::sign::Params;

use super::api::ApiAnswer;
use super::errors::TopError;
use super::fields::FieldSelection;
use super::orders::TradeRecord;
use super::orders_for;
use crate::http_util::request_id;
use crate::shop::ShopKey;
use crate::state::SimState;

/// The types listed when `type` is absent.
pub const DEFAULT_TYPES: &[&str] = &["guarantee_trade", "auto_delivery", "ec", "cod", "step"];

/// Statuses `status` accepts, with TOP's two composite values.
const STATUSES: &[&str] = &[
    "TRADE_NO_CREATE_PAY",
    "WAIT_BUYER_PAY",
    "SELLER_CONSIGNED_PART",
    "WAIT_SELLER_SEND_GOODS",
    "WAIT_BUYER_CONFIRM_GOODS",
    "TRADE_BUYER_SIGNED",
    "TRADE_FINISHED",
    "TRADE_CLOSED",
    "TRADE_CLOSED_BY_TAOBAO",
    "PAY_PENDING",
    "WAIT_PRE_AUTH_CONFIRM",
    "PAID_FORBID_CONSIGN",
];

pub const DEFAULT_PAGE_SIZE: u64 = 40;
pub const MAX_PAGE_SIZE: u64 = 100;

/// The filters and paging both list methods share.
struct ListQuery {
    fields: FieldSelection,
    statuses: Option<Vec<&'static str>>,
    types: Vec<String>,
    buyer_nick: Option<String>,
    buyer_open_id: Option<String>,
    page_no: u64,
    page_size: u64,
    use_has_next: bool,
}

fn get<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn parse_u64(params: &Params, key: &str, default: u64) -> Result<u64, TopError> {
    match get(params, key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| TopError::invalid_argument(key, "must be an integer")),
    }
}

fn parse_list_query(params: &Params) -> Result<ListQuery, TopError> {
    let fields_text = get(params, "fields").ok_or_else(|| TopError::missing_argument("fields"))?;
    let fields =
        FieldSelection::parse(fields_text).ok_or_else(|| TopError::missing_argument("fields"))?;
    let statuses = match get(params, "status") {
        None => None,
        Some("ALL_WAIT_PAY") => Some(vec!["WAIT_BUYER_PAY", "TRADE_NO_CREATE_PAY"]),
        Some("ALL_CLOSED") => Some(vec!["TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"]),
        Some(s) => match STATUSES.iter().find(|k| **k == s) {
            Some(k) => Some(vec![*k]),
            None => return Err(TopError::invalid_argument("status", "unknown trade status")),
        },
    };
    let types: Vec<String> = match get(params, "type") {
        None => DEFAULT_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        Some(list) => {
            let types: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            let well_formed = |t: &String| {
                t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            };
            if types.is_empty() || !types.iter().all(well_formed) {
                return Err(TopError::invalid_argument(
                    "type",
                    "comma-separated trade types",
                ));
            }
            types
        }
    };
    let page_no = parse_u64(params, "page_no", 1)?;
    if page_no < 1 {
        return Err(TopError::invalid_argument("page_no", "must be at least 1"));
    }
    let page_size = parse_u64(params, "page_size", DEFAULT_PAGE_SIZE)?;
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(TopError::invalid_argument(
            "page_size",
            "must be between 1 and 100",
        ));
    }
    let use_has_next = match get(params, "use_has_next") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(TopError::invalid_argument(
                "use_has_next",
                "must be true or false",
            ));
        }
    };
    Ok(ListQuery {
        fields,
        statuses,
        types,
        buyer_nick: get(params, "buyer_nick").map(str::to_owned),
        buyer_open_id: get(params, "buyer_open_id").map(str::to_owned),
        page_no,
        page_size,
        use_has_next,
    })
}

impl ListQuery {
    fn matches(&self, t: &TradeRecord) -> bool {
        self.statuses.as_ref().is_none_or(|s| s.contains(&t.status))
            && self.types.iter().any(|ty| ty == t.trade_type)
            && self.buyer_nick.as_ref().is_none_or(|n| *n == t.buyer_nick)
            && self
                .buyer_open_id
                .as_ref()
                .is_none_or(|o| *o == t.buyer_open_uid)
    }
}

fn parse_time(params: &Params, key: &str) -> Result<Option<DateTime<Utc>>, TopError> {
    match get(params, key) {
        None => Ok(None),
        Some(v) => parse_beijing(v)
            .map(Some)
            .ok_or_else(|| TopError::invalid_argument(key, "must be yyyy-MM-dd HH:mm:ss")),
    }
}

fn three_months_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_sub_months(Months::new(3))
        .unwrap_or(now - Duration::days(92))
}

/// Checks `start ≤ end` and that `start` lies within the last 3 months.
fn check_window(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    names: (&str, &str),
) -> Result<(), TopError> {
    if start < three_months_before(now) {
        return Err(TopError::invalid_argument(
            names.0,
            "only the last 3 months can be queried",
        ));
    }
    if end < start {
        let detail = format!("must not be earlier than {}", names.0);
        return Err(TopError::invalid_argument(names.1, &detail));
    }
    Ok(())
}

/// Runs one of the list methods on the orders of `shop` (the session's).
pub fn dispatch(
    state: &SimState,
    method: &str,
    shop: &ShopKey,
    params: &Params,
    now: DateTime<Utc>,
) -> Result<ApiAnswer, TopError> {
    match method {
        "taobao.trades.sold.get" => {
            let start =
                parse_time(params, "start_created")?.unwrap_or_else(|| three_months_before(now));
            let end = parse_time(params, "end_created")?.unwrap_or(now);
            check_window(start, end, now, ("start_created", "end_created"))?;
            let query = parse_list_query(params)?;
            let orders = orders_for(state, shop);
            let selected: Vec<&TradeRecord> = orders
                .trades
                .iter()
                .filter(|t| t.created >= start && t.created <= end && query.matches(t))
                .collect();
            Ok(page_answer("trades_sold_get_response", &query, &selected))
        }
        "taobao.trades.sold.increment.get" => {
            let start = parse_time(params, "start_modified")?
                .ok_or_else(|| TopError::missing_argument("start_modified"))?;
            let end = parse_time(params, "end_modified")?
                .ok_or_else(|| TopError::missing_argument("end_modified"))?;
            check_window(start, end, now, ("start_modified", "end_modified"))?;
            if end - start > Duration::days(1) {
                let detail = "the window from start_modified must not exceed 1 day";
                return Err(TopError::invalid_argument("end_modified", detail));
            }
            let query = parse_list_query(params)?;
            let orders = orders_for(state, shop);
            let mut selected: Vec<&TradeRecord> = orders
                .trades
                .iter()
                .filter(|t| t.modified >= start && t.modified <= end && query.matches(t))
                .collect();
            selected.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.tid.cmp(&b.tid)));
            Ok(page_answer(
                "trades_sold_increment_get_response",
                &query,
                &selected,
            ))
        }
        other => Err(TopError::invalid_method(other)),
    }
}

fn page_answer(key: &str, query: &ListQuery, selected: &[&TradeRecord]) -> ApiAnswer {
    let total = selected.len() as u64;
    let offset = (query.page_no - 1).saturating_mul(query.page_size);
    let page: Vec<Value> = selected
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(query.page_size).unwrap_or(usize::MAX))
        .map(|t| Value::Object(query.fields.project(&t.json)))
        .collect();
    let mut inner = Map::new();
    if query.use_has_next {
        let has_next = offset.saturating_add(page.len() as u64) < total;
        inner.insert("has_next".into(), json!(has_next));
    } else {
        inner.insert("total_results".into(), json!(total));
    }
    if !page.is_empty() {
        inner.insert("trades".into(), json!({ "trade": page }));
    }
    inner.insert("request_id".into(), json!(request_id()));
    let mut body = Map::new();
    body.insert(key.to_owned(), Value::Object(inner));
    ApiAnswer {
        body: Value::Object(body),
        is_order_list: true,
    }
}
