//! Test-only views of the simulated Taobao shops (not part of the platform).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{PLATFORM, decrypt, orders_for};
use crate::admin::{TimeFormat, Views};
use crate::reveal::contact_view;
use crate::state::SimState;

const VIEWS: Views = Views {
    platform: PLATFORM,
    bounds: ["start_created", "end_created"],
    format: TimeFormat::IsoOrBeijing,
    shop_reads_bounds: false,
};

/// `GET /_sim/taobao/orders?app_key=…&seller=…&start_created=…&end_created=…`: the tids of
/// every order (all types, all statuses) of the shop created in the inclusive range, sorted, as
/// strings. `seller` (default: the default seller) and both bounds are optional; the bounds take
/// ISO 8601 or Beijing `yyyy-MM-dd HH:mm:ss`.
pub async fn orders(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.orders(&req, &state, "tids", |query| {
        let shop_orders = orders_for(&state, &query.shop);
        let created = shop_orders
            .trades
            .iter()
            .filter(|t| query.contains(t.created));
        created.map(|t| t.tid.to_string()).collect()
    })
}

/// `GET /_sim/taobao/shop?app_key=…&seller=…`: the shop a seller's consent to the app logs
/// into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.shop(&req, &state, |key| {
        let orders = orders_for(&state, key);
        let shop = &orders.shop;
        json!({
            "app_key": shop.app_key,
            "seller": shop.seller,
            "taobao_user_id": shop.user_id.to_string(),
            "taobao_user_nick": shop.nick,
            "taobao_open_uid": shop.open_uid,
            "orders": orders.trades.len(),
            "anchor": state.config.anchor.to_rfc3339(),
        })
    })
}

/// `GET /_sim/taobao/contact?app_key=…&seller=…&order_id=<tid>`: what the trade's receiver phone
/// really is (the mobile, and the privacy number the decrypt hands out instead, if any).
pub async fn contact(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    contact_view(&req, &state, PLATFORM, |key, tid| {
        decrypt::truth(&orders_for(&state, key), tid)
    })
}
