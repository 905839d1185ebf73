//! Test-only views of the simulated Kuaishou shops (not part of the platform).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{PLATFORM, orders_for};
use crate::douyin::admin::{AdminQuery, admin_query};
use crate::http_util::request_params;
use crate::state::SimState;

/// `GET /_sim/kuaishou/orders?app_key=…&start=…&end=…`: the oids of every order created in the
/// inclusive range (at second precision: an order at `end` + 0.5 s counts), sorted, as
/// strings: `{"order_ids":[…],"count":N}`.
pub async fn orders(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    let AdminQuery {
        app_key,
        start,
        end,
    } = match admin_query(&state, &params, PLATFORM) {
        Ok(q) => q,
        Err(message) => return HttpResponse::BadRequest().json(json!({ "error": message })),
    };
    let shop = orders_for(&state, &app_key);
    let mut ids: Vec<String> = shop
        .orders
        .iter()
        .filter(|o| {
            let secs = o.created_ms.div_euclid(1000);
            start.is_none_or(|s| secs >= s.timestamp()) && end.is_none_or(|e| secs <= e.timestamp())
        })
        .map(|o| o.oid.to_string())
        .collect();
    ids.sort();
    let count = ids.len();
    HttpResponse::Ok().json(json!({ "order_ids": ids, "count": count }))
}

/// `GET /_sim/kuaishou/shop?app_key=…`: the seller an app key's authorization logs into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let params = request_params(&req, &[]);
    let app_key = match admin_query(&state, &params, PLATFORM) {
        Ok(q) => q.app_key,
        Err(message) => return HttpResponse::BadRequest().json(json!({ "error": message })),
    };
    let orders = orders_for(&state, &app_key);
    HttpResponse::Ok().json(json!({
        "app_key": orders.shop.app_key,
        "seller_id": orders.shop.seller_id,
        "open_id": orders.shop.open_id,
        "shop_name": orders.shop.nick,
        "orders": orders.orders.len(),
        "anchor": state.config.anchor.to_rfc3339(),
    }))
}
