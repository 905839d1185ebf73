//! Test-only views of the simulated JD shops (not part of the platform).

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

/// `GET /_sim/jd/orders?app_key=…&seller=…&start=…&end=…`: the `orderId`s of every order (every
/// state) **created** in the inclusive range, i.e. what `enSearch` with `dateType=1` and every
/// `order_state` lists; sorted, as strings. The bounds take ISO 8601 or Beijing
/// `yyyy-MM-dd HH:mm:ss`.
pub async fn orders(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.orders(&req, &state, "order_ids", |query| {
        let shop_orders = orders_for(&state, &query.shop);
        let created = shop_orders
            .orders
            .iter()
            .filter(|o| query.contains(o.created));
        created.map(|o| o.order_id.to_string()).collect()
    })
}

/// `GET /_sim/jd/shop?app_key=…&seller=…`: the shop a seller's consent to the app logs into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.shop(&req, &state, |key| {
        let orders = orders_for(&state, key);
        json!({
            "app_key": orders.shop.app_key,
            "seller": orders.shop.seller,
            "uid": orders.shop.user_id.to_string(),
            "venderId": orders.vender_id.to_string(),
            "shop_name": orders.shop.nick,
            "orders": orders.orders.len(),
            "anchor": state.config.anchor.to_rfc3339(),
        })
    })
}

/// `GET /_sim/jd/contact?app_key=…&seller=…&order_id=…`: what the order's receiver phone really is
/// (the mobile, and the privacy number the decrypt hands out instead, if any).
pub async fn contact(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    contact_view(&req, &state, PLATFORM, |key, order_id| {
        decrypt::truth(&orders_for(&state, key), order_id)
    })
}
