//! Pinduoduo open platform (PDD), served under `/pdd`:
//!
//! - `GET|POST /pdd/service-market/auth`: the merchant's consent page and its approval.
//! - `POST /pdd/oauth/token`: code exchange and refresh (JSON body).
//! - `GET|POST /pdd/api/router`: the signed gateway with `pdd.order.list.get` ([`list`], by
//!   confirm time), `pdd.order.number.list.increment.get` ([`increment`], by `updated_at`) and
//!   `pdd.open.decrypt.batch` ([`decrypt`]: permission, quota, per-item errors, privacy numbers).
//! - `GET /_sim/pdd/orders`, `GET /_sim/pdd/shop`, `GET /_sim/pdd/contact`: admin views for tests.
//! - `POST /_sim/pdd/orders/change`: a test-only event (REFUND, SHIP, COMPLETE, CLOSE) that
//!   changes an order's `order_status` / `refund_status` / `after_sales_status` and sets its
//!   `updated_at` ([`change`]).
//!
//! Codes and tokens use the platform-neutral [`crate::jd::tokens::TokenStore`]; receivers come
//! from [`crate::jd::people`].

pub mod admin;
pub mod change;
pub mod decrypt;
pub mod errors;
pub mod gateway;
pub mod increment;
pub mod list;
pub mod oauth;
pub mod orders;
pub mod privacy;
pub mod query;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use actix_web::web;

use leadgen_domain::PlatformType;

use crate::consent;
use crate::jd::tokens::TokenStore;
use crate::shop::{Shop, ShopKey};
use crate::state::{PlatformState, SimState};
use orders::ShopOrders;

pub const PLATFORM: PlatformType = PlatformType::Pdd;

/// PDD's mutable state: codes and tokens, and each shop's generated orders.
pub type PddState = PlatformState<TokenStore, ShopOrders>;

/// The shop `key` (an app key and the seller who consented) logs into.
pub fn shop_for(state: &SimState, key: &ShopKey) -> Shop {
    Shop::derive(state.config.seed, PLATFORM, key)
}

/// The shop's orders, generated on first use and kept for the life of the process.
pub fn orders_for(state: &SimState, key: &ShopKey) -> Arc<ShopOrders> {
    let shop = || shop_for(state, key);
    state.pdd.orders(&state.config, key, shop, orders::generate)
}

/// Mounts the PDD routes (platform paths under `/pdd`, admin paths under `/_sim/pdd`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/pdd")
            .route(
                "/service-market/auth",
                web::get().to(consent::page::<oauth::Flow>),
            )
            .route(
                "/service-market/auth",
                web::post().to(consent::submit::<oauth::Flow>),
            )
            .route("/oauth/token", web::post().to(oauth::token))
            .route("/api/router", web::get().to(gateway::router))
            .route("/api/router", web::post().to(gateway::router)),
    )
    .service(
        web::scope("/_sim/pdd")
            .route("/orders", web::get().to(admin::orders))
            .route("/orders/change", web::post().to(change::change))
            .route("/shop", web::get().to(admin::shop))
            .route("/contact", web::get().to(admin::contact)),
    );
}
