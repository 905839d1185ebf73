//! Test-only views of the simulated PDD shops (not part of the platform).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{PLATFORM, decrypt, orders_for};
use crate::admin::{TimeFormat, Views};
use crate::reveal::contact_view;
use crate::state::SimState;

const VIEWS: Views = Views {
    platform: PLATFORM,
    bounds: ["start", "end"],
    format: TimeFormat::IsoOrBeijing,
    shop_reads_bounds: true,
};

/// `GET /_sim/pdd/orders?app_key=…&seller=…&start=…&end=…`: the `order_sn`s of every order
/// **confirmed** (成交) in the inclusive range, i.e. what `pdd.order.list.get` with `order_status=5`
/// and `refund_status=5` lists; orders still grouping or whose group failed are never listed.
/// Sorted.
pub async fn orders(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.orders(&req, &state, "order_ids", |query| {
        let shop_orders = orders_for(&state, &query.shop);
        let confirmed = shop_orders.orders.iter();
        let confirmed = confirmed.filter(|o| o.confirmed.is_some_and(|c| query.contains(c)));
        confirmed.map(|o| o.order_sn.clone()).collect()
    })
}

/// `GET /_sim/pdd/shop?app_key=…&seller=…`: the shop a seller's consent to the client id logs into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.shop(&req, &state, |key| {
        let orders = orders_for(&state, key);
        let unconfirmed = orders
            .orders
            .iter()
            .filter(|o| o.confirmed.is_none())
            .count();
        json!({
            "client_id": orders.shop.app_key,
            "seller": orders.shop.seller,
            "owner_id": orders.shop.user_id.to_string(),
            "owner_name": orders.shop.nick,
            "orders": orders.orders.len(),
            "unconfirmed_orders": unconfirmed,
            "anchor": state.config.anchor.to_rfc3339(),
        })
    })
}

/// `GET /_sim/pdd/contact?app_key=…&seller=…&order_id=…`: what the order's receiver phone really is
/// (the mobile, and the privacy number the decrypt hands out instead, if any).
pub async fn contact(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    contact_view(&req, &state, PLATFORM, |key, order_id| {
        decrypt::truth(&orders_for(&state, key), order_id)
    })
}
