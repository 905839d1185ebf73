//! Test-only views of the simulated JD shops (not part of the platform).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{PLATFORM, orders_for};
use crate::http_util::{parse_admin_time, request_params};
use crate::state::SimState;

pub fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": message }))
}

/// An admin query: a registered app key and optional inclusive bounds.
pub struct AdminQuery {
    pub app_key: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Reads `app_key` (registered on `platform`) and the optional `start`/`end` bounds (ISO 8601 or
/// Beijing `yyyy-MM-dd HH:mm:ss`); the error is the message for a 400 answer.
pub fn admin_query(
    req: &HttpRequest,
    state: &SimState,
    platform: leadgen_domain::PlatformType,
) -> Result<AdminQuery, String> {
    let params = request_params(req, &[]);
    let Some(app_key) = params.get("app_key").filter(|k| !k.is_empty()) else {
        return Err("app_key is required".into());
    };
    if state.apps.find(platform, app_key).is_none() {
        return Err(format!("app_key is not a registered {platform} app"));
    }
    let mut bounds = [None, None];
    for (slot, key) in bounds.iter_mut().zip(["start", "end"]) {
        if let Some(text) = params.get(key).filter(|v| !v.is_empty()) {
            *slot = Some(
                parse_admin_time(text)
                    .ok_or_else(|| format!("{key}: expected ISO 8601 or yyyy-MM-dd HH:mm:ss"))?,
            );
        }
    }
    let [start, end] = bounds;
    Ok(AdminQuery {
        app_key: app_key.clone(),
        start,
        end,
    })
}

/// `GET /_sim/jd/orders?app_key=…&start=…&end=…`: the `orderId`s of every order (every state)
/// **created** in the inclusive range, i.e. what `enSearch` with `dateType=1` and every
/// `order_state` lists; sorted, as strings.
pub async fn orders(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let AdminQuery {
        app_key,
        start,
        end,
    } = match admin_query(&req, &state, PLATFORM) {
        Ok(q) => q,
        Err(message) => return bad_request(&message),
    };
    let shop_orders = orders_for(&state, &app_key);
    let mut ids: Vec<String> = shop_orders
        .orders
        .iter()
        .filter(|o| start.is_none_or(|s| o.created >= s) && end.is_none_or(|e| o.created <= e))
        .map(|o| o.order_id.to_string())
        .collect();
    ids.sort();
    let count = ids.len();
    HttpResponse::Ok().json(json!({ "order_ids": ids, "count": count }))
}

/// `GET /_sim/jd/shop?app_key=…`: the shop an app key's authorization logs into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let app_key = match admin_query(&req, &state, PLATFORM) {
        Ok(q) => q.app_key,
        Err(message) => return bad_request(&message),
    };
    let orders = orders_for(&state, &app_key);
    HttpResponse::Ok().json(json!({
        "app_key": orders.shop.app_key,
        "uid": orders.shop.user_id.to_string(),
        "venderId": orders.vender_id.to_string(),
        "shop_name": orders.shop.nick,
        "orders": orders.orders.len(),
        "anchor": state.config.anchor.to_rfc3339(),
    }))
}
