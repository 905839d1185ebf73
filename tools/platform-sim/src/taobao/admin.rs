//! Test-only views of the simulated Taobao shops (not part of the platform).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{PLATFORM, orders_for};
use crate::http_util::{parse_admin_time, request_params};
use crate::state::SimState;

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": message }))
}

/// `GET /_sim/taobao/orders?app_key=…&start_created=…&end_created=…`: the tids of every order
/// (all types, all statuses) created in the inclusive range, sorted, as strings. Both bounds are
/// optional and take ISO 8601 or Beijing `yyyy-MM-dd HH:mm:ss`.
pub async fn orders(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    let Some(app_key) = params.get("app_key").filter(|k| !k.is_empty()) else {
        return bad_request("app_key is required");
    };
    if state.apps.find(PLATFORM, app_key).is_none() {
        return bad_request("app_key is not a registered TAOBAO app");
    }
    let mut bounds = [None, None];
    for (slot, key) in bounds.iter_mut().zip(["start_created", "end_created"]) {
        if let Some(text) = params.get(key).filter(|v| !v.is_empty()) {
            match parse_admin_time(text) {
                Some(t) => *slot = Some(t),
                None => {
                    return bad_request(&format!(
                        "{key}: expected ISO 8601 or yyyy-MM-dd HH:mm:ss"
                    ));
                }
            }
        }
    }
    let [start, end] = bounds;
    let shop_orders = orders_for(&state, app_key);
    let mut tids: Vec<String> = shop_orders
        .trades
        .iter()
        .filter(|t| start.is_none_or(|s| t.created >= s) && end.is_none_or(|e| t.created <= e))
        .map(|t| t.tid.to_string())
        .collect();
    tids.sort();
    let count = tids.len();
    HttpResponse::Ok().json(json!({ "tids": tids, "count": count }))
}

/// `GET /_sim/taobao/shop?app_key=…`: the shop an app key's authorization logs into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    let Some(app_key) = params.get("app_key").filter(|k| !k.is_empty()) else {
        return bad_request("app_key is required");
    };
    if state.apps.find(PLATFORM, app_key).is_none() {
        return bad_request("app_key is not a registered TAOBAO app");
    }
    let orders = orders_for(&state, app_key);
    let shop = &orders.shop;
    HttpResponse::Ok().json(json!({
        "app_key": shop.app_key,
        "taobao_user_id": shop.user_id.to_string(),
        "taobao_user_nick": shop.nick,
        "taobao_open_uid": shop.open_uid,
        "orders": orders.trades.len(),
        "anchor": state.config.anchor.to_rfc3339(),
    }))
}
