//! `taobao.top.oaid.decrypt` (OAID解密, developer.alibaba.com apiId 54714), mirrored by
//! `leadgen_platforms::taobao::decrypt`.
//!
//! Documented: `query_list` (JSON, at most 20) of `{oaid, tid, scene, secret_no_days}`; scenes 1001–1007 (shipping), 2001 (客户售后服务), 2002 (客户关怀); the answer
//! `top_oaid_decrypt_response.receiver_list` of `{name, mobile, phone, address_detail, state,
//! city, district, town, country, oaid, tid, matched, privacy_protection,
//! secret_no_expire_time}`, the mobile of a privacy order written `18877771111-123`.
//!
//! Simulator choices:
//! - The list is wrapped as TOP wraps lists (`{"receiver": […]}`) and left out when empty.
//! - The shop is the session's (the seller who consented); another shop's trades are unknown.
//! - A query whose `tid` is not one of the shop's trades, or whose `oaid` is no receiver of the
//!   shop, is left out of the answer (TOP documents no per-item error); an `oaid` of another of
//!   the shop's trades answers `matched: false`.
//! - `--decrypt-denied`: code 11 `isv.permission-api-package-limit`; a scene the app was not
//!   granted (`--taobao-decrypt-scenes`): code 11 `isv.scene-not-authorized`; the daily quota
//!   ([`crate::reveal`]) spent: code 7 `accesscontrol.limited-by-app-api-access-count` with
//!   "This ban will last for N more seconds" until Beijing midnight.
//! - `scene` is required in every query (code 40 `isv.missing-parameter` without it): a decrypt is always
//!   for a stated scene, and one without would pass the app's scene grant unchecked.
//! - `secret_no_days` 1–90, default [`VIRTUAL_NUMBER_DAYS`]: how long a privacy number forwards.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use leadgen_domain::time::format_beijing;
use leadgen_platforms::sign::Params;

use super::api::ApiAnswer;
use super::data::REGIONS;
use super::errors::TopError;
use super::orders::ShopOrders;
use super::{PLATFORM, orders_for};
use crate::http_util::{non_empty, request_id};
use crate::reveal::{ContactTruth, TAOBAO_SCENES, VIRTUAL_NUMBER_DAYS, virtual_expiry};
use crate::shop::ShopKey;
use crate::state::SimState;

pub const METHOD: &str = "taobao.top.oaid.decrypt";
pub const MAX_QUERIES: usize = 20;

/// One validated query.
struct Query {
    oaid: String,
    tid: String,
    scene: String,
    days: i64,
}

fn field(entry: &Value, key: &str) -> Option<String> {
    match entry.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse(params: &Params) -> Result<Vec<Query>, TopError> {
    let text =
        non_empty(params, "query_list").ok_or_else(|| TopError::missing_argument("query_list"))?;
    let list = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(list)) if !list.is_empty() => list,
        _ => {
            let why = "must be a non-empty JSON list of ReceiverQuery";
            return Err(TopError::invalid_argument("query_list", why));
        }
    };
    if list.len() > MAX_QUERIES {
        return Err(TopError::invalid_argument(
            "query_list",
            "at most 20 queries",
        ));
    }
    list.iter()
        .map(|entry| {
            let oaid = field(entry, "oaid").ok_or_else(|| TopError::missing_argument("oaid"))?;
            let tid = field(entry, "tid").ok_or_else(|| TopError::missing_argument("tid"))?;
            let scene = field(entry, "scene").ok_or_else(|| TopError::missing_argument("scene"))?;
            if !TAOBAO_SCENES.contains(&scene.as_str()) {
                return Err(TopError::invalid_argument("scene", "unknown decrypt scene"));
            }
            let days = match field(entry, "secret_no_days") {
                None => VIRTUAL_NUMBER_DAYS,
                Some(d) => d
                    .parse::<i64>()
                    .ok()
                    .filter(|d| (1..=90).contains(d))
                    .ok_or_else(|| {
                        TopError::invalid_argument("secret_no_days", "must be 1 to 90")
                    })?,
            };
            Ok(Query {
                oaid,
                tid,
                scene,
                days,
            })
        })
        .collect()
}

/// The receiver of one query, when the shop has both the trade and the receiver.
fn receiver(orders: &ShopOrders, q: &Query, now: DateTime<Utc>) -> Option<Value> {
    let trade = orders.trades.iter().find(|t| t.tid.to_string() == q.tid)?;
    let r = orders.receivers.get(&q.oaid)?;
    let region = REGIONS.get(r.region);
    let mut v = Map::new();
    v.insert("name".into(), json!(r.name));
    match &r.privacy {
        Some((main, ext)) => {
            v.insert("mobile".into(), json!(format!("{main}-{ext}")));
            let expires = virtual_expiry(now, q.days);
            v.insert(
                "secret_no_expire_time".into(),
                json!(format_beijing(expires)),
            );
        }
        None => {
            v.insert("mobile".into(), json!(r.mobile));
        }
    }
    v.insert("phone".into(), json!(""));
    v.insert("address_detail".into(), json!(r.address_detail));
    v.insert("town".into(), json!(r.town));
    v.insert(
        "district".into(),
        json!(region.map(|r| r.district).unwrap_or_default()),
    );
    v.insert(
        "city".into(),
        json!(region.map(|r| r.city).unwrap_or_default()),
    );
    v.insert(
        "state".into(),
        json!(region.map(|r| r.state).unwrap_or_default()),
    );
    v.insert("country".into(), json!("中国"));
    v.insert("oaid".into(), json!(q.oaid));
    v.insert("tid".into(), json!(q.tid));
    v.insert("matched".into(), json!(trade.oaid == q.oaid));
    v.insert("privacy_protection".into(), json!(r.privacy.is_some()));
    Some(Value::Object(v))
}

/// Runs the decrypt for the shop `shop` (the session's); the quota is its app's.
pub fn answer(
    state: &SimState,
    shop: &ShopKey,
    params: &Params,
    now: DateTime<Utc>,
) -> Result<ApiAnswer, TopError> {
    let queries = parse(params)?;
    let settings = &state.config.decrypt;
    if settings.denied {
        return Err(TopError::insufficient_isv_permissions(METHOD));
    }
    if let Some(scene) = queries
        .iter()
        .map(|q| q.scene.as_str())
        .find(|s| !settings.taobao_scenes.contains(*s))
    {
        return Err(TopError::scene_not_authorized(scene));
    }
    let n = queries.len() as u64;
    state
        .decrypts
        .take(PLATFORM, &shop.app_key, n, settings.daily_quota, now)
        .map_err(|spent| TopError::api_quota_spent(spent.renews_in_seconds))?;
    let orders = orders_for(state, shop);
    let found: Vec<Value> = queries
        .iter()
        .filter_map(|q| receiver(&orders, q, now))
        .collect();
    state
        .stats
        .with(PLATFORM, |s| s.decrypted_items += found.len() as u64);
    let mut inner = Map::new();
    if !found.is_empty() {
        inner.insert("receiver_list".into(), json!({ "receiver": found }));
    }
    inner.insert("request_id".into(), json!(request_id()));
    Ok(ApiAnswer {
        body: json!({ "top_oaid_decrypt_response": inner }),
        is_order_list: false,
    })
}

/// What trade `tid`'s receiver phone really is.
pub fn truth(orders: &ShopOrders, tid: &str) -> Option<ContactTruth> {
    let trade = orders.trades.iter().find(|t| t.tid.to_string() == tid)?;
    let r = orders.receivers.get(&trade.oaid)?;
    Some(ContactTruth {
        mobile: Some(r.mobile.clone()),
        privacy_number: r.privacy.clone(),
    })
}
