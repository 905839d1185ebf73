//! Test-only views of the simulated Douyin shops (not part of the platform).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{PLATFORM, decrypt, orders_for};
use crate::admin::{TimeFormat, Views};
use crate::reveal::contact_view;
use crate::state::SimState;

const VIEWS: Views = Views {
    platform: PLATFORM,
    bounds: ["start", "end"],
    format: TimeFormat::IsoBeijingOrUnix,
    shop_reads_bounds: true,
};

/// `GET /_sim/douyin/orders?app_key=…&seller=…&start=…&end=…`: the ids of every order created in
/// the inclusive range, sorted, as strings: `{"order_ids":[…],"count":N}`. The bounds take ISO
/// 8601, Beijing `yyyy-MM-dd HH:mm:ss` or unix seconds.
pub async fn orders(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.orders(&req, &state, "order_ids", |query| {
        let shop = orders_for(&state, &query.shop);
        let created = shop.orders.iter().filter(|o| query.contains(o.created));
        created.map(|o| o.order_id.to_string()).collect()
    })
}

/// `GET /_sim/douyin/shop?app_key=…&seller=…`: the shop a seller's consent to the app logs into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.shop(&req, &state, |key| {
        let orders = orders_for(&state, key);
        json!({
            "app_key": orders.shop.app_key,
            "seller": orders.shop.seller,
            "shop_id": orders.shop.shop_id.to_string(),
            "shop_name": orders.shop.shop_name,
            "orders": orders.orders.len(),
            "anchor": state.config.anchor.to_rfc3339(),
        })
    })
}

/// `GET /_sim/douyin/contact?app_key=…&seller=…&order_id=…`: what the order's receiver phone really
/// is (the mobile, and the privacy number the decrypt hands out instead, if any).
pub async fn contact(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    contact_view(&req, &state, PLATFORM, |key, order_id| {
        decrypt::truth(&orders_for(&state, key), order_id)
    })
}
