//! Test-only views of the simulated Kuaishou shops (not part of the platform).

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

/// `GET /_sim/kuaishou/orders?app_key=…&seller=…&start=…&end=…`: the oids of every order created in
/// the inclusive range (at second precision: an order at `end` + 0.5 s counts), sorted, as strings:
/// `{"order_ids":[…],"count":N}`. The bounds take ISO 8601, Beijing `yyyy-MM-dd HH:mm:ss` or unix
/// seconds.
pub async fn orders(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.orders(&req, &state, "order_ids", |query| {
        let (start, end) = (query.start, query.end);
        let in_range = |secs: i64| {
            start.is_none_or(|s| secs >= s.timestamp()) && end.is_none_or(|e| secs <= e.timestamp())
        };
        let shop = orders_for(&state, &query.shop);
        let created = shop.orders.iter();
        let created = created.filter(|o| in_range(o.created_ms.div_euclid(1000)));
        created.map(|o| o.oid.to_string()).collect()
    })
}

/// `GET /_sim/kuaishou/shop?app_key=…&seller=…`: the shop a seller's consent to the app logs into.
pub async fn shop(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    VIEWS.shop(&req, &state, |key| {
        let orders = orders_for(&state, key);
        json!({
            "app_key": orders.shop.app_key,
            "seller": orders.shop.seller,
            "seller_id": orders.shop.seller_id,
            "open_id": orders.shop.open_id,
            "shop_name": orders.shop.nick,
            "orders": orders.orders.len(),
            "anchor": state.config.anchor.to_rfc3339(),
        })
    })
}

/// `GET /_sim/kuaishou/contact?app_key=…&seller=…&order_id=…`: what the order's receiver phone
/// really is (the mobile, and the privacy number the decrypt hands out instead, if any).
pub async fn contact(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    contact_view(&req, &state, PLATFORM, |key, order_id| {
        decrypt::truth(&orders_for(&state, key), order_id)
    })
}
