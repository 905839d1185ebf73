//! Test-only views of the simulated Douyin shops (not part of the platform).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::json;

use leadgen_domain::PlatformType;
use leadgen_platforms::sign::Params;

use super::{PLATFORM, orders_for};
use crate::http_util::{parse_admin_time, request_params};
use crate::state::SimState;

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": message }))
}

/// An admin query: the app key and the inclusive `[start, end]`.
pub struct AdminQuery {
    pub app_key: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Reads `app_key` (a registered app of `platform`) and `start`/`end` (ISO 8601, Beijing
/// `yyyy-MM-dd HH:mm:ss` or unix seconds; both optional); the error is a 400 answer.
pub fn admin_query(
    state: &SimState,
    params: &Params,
    platform: PlatformType,
) -> Result<AdminQuery, String> {
    let Some(app_key) = params.get("app_key").filter(|k| !k.is_empty()) else {
        return Err("app_key is required".into());
    };
    if state.apps.find(platform, app_key).is_none() {
        return Err(format!("app_key is not a registered {platform} app"));
    }
    let mut bounds = [None, None];
    for (slot, key) in bounds.iter_mut().zip(["start", "end"]) {
        if let Some(text) = params.get(key).filter(|v| !v.is_empty()) {
            let parsed = match text.parse::<i64>() {
                Ok(secs) => DateTime::from_timestamp(secs, 0),
                Err(_) => parse_admin_time(text),
            };
            *slot = Some(parsed.ok_or_else(|| {
                format!("{key}: expected ISO 8601, yyyy-MM-dd HH:mm:ss or unix seconds")
            })?);
        }
    }
    let [start, end] = bounds;
    Ok(AdminQuery {
        app_key: app_key.clone(),
        start,
        end,
    })
}

/// `GET /_sim/douyin/orders?app_key=…&start=…&end=…`: the ids of every order created in the
/// inclusive range, sorted, as strings: `{"order_ids":[…],"count":N}`.
pub async fn orders(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    let AdminQuery {
        app_key,
        start,
        end,
    } = match admin_query(&state, &params, PLATFORM) {
        Ok(q) => q,
        Err(message) => return bad_request(&message),
    };
    let shop = orders_for(&state, &app_key);
    let mut ids: Vec<String> = shop
        .orders
        .iter()
        .filter(|o| start.is_none_or(|s| o.created >= s) && end.is_none_or(|e| o.created <= e))
        .map(|o| o.order_id.to_string())
        .collect();
    ids.sort();
    let count = ids.len();
    HttpResponse::Ok().json(json!({ "order_ids": ids, "count": count }))
}

/// `GET /_sim/douyin/shop?app_key=…`: the shop an app key's authorization logs into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    let app_key = match admin_query(&state, &params, PLATFORM) {
        Ok(q) => q.app_key,
        Err(message) => return bad_request(&message),
    };
    let orders = orders_for(&state, &app_key);
    HttpResponse::Ok().json(json!({
        "app_key": orders.shop.app_key,
        "shop_id": orders.shop.shop_id.to_string(),
        "shop_name": orders.shop.shop_name,
        "orders": orders.orders.len(),
        "anchor": state.config.anchor.to_rfc3339(),
    }))
}
