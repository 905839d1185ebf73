//! Test-only views of the simulated PDD shops (not part of the platform).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{PLATFORM, orders_for};
use crate::jd::admin::{AdminQuery, admin_query, bad_request};
use crate::state::SimState;

/// `GET /_sim/pdd/orders?app_key=…&start=…&end=…`: the `order_sn`s of every order **confirmed**
/// (成交) in the inclusive range, i.e. what `pdd.order.list.get` with `order_status=5` and
/// `refund_status=5` lists; orders still grouping or whose group failed are never listed. Sorted.
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
        .filter(|o| {
            o.confirmed
                .is_some_and(|c| start.is_none_or(|s| c >= s) && end.is_none_or(|e| c <= e))
        })
        .map(|o| o.order_sn.clone())
        .collect();
    ids.sort();
    let count = ids.len();
    HttpResponse::Ok().json(json!({ "order_ids": ids, "count": count }))
}

/// `GET /_sim/pdd/shop?app_key=…`: the shop a client id's authorization logs into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    let app_key = match admin_query(&req, &state, PLATFORM) {
        Ok(q) => q.app_key,
        Err(message) => return bad_request(&message),
    };
    let orders = orders_for(&state, &app_key);
    let unconfirmed = orders
        .orders
        .iter()
        .filter(|o| o.confirmed.is_none())
        .count();
    HttpResponse::Ok().json(json!({
        "client_id": orders.shop.app_key,
        "owner_id": orders.shop.user_id.to_string(),
        "owner_name": orders.shop.nick,
        "orders": orders.orders.len(),
        "unconfirmed_orders": unconfirmed,
        "anchor": state.config.anchor.to_rfc3339(),
    }))
}
