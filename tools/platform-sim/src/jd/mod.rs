//! JD Open Platform (JOS, 京东宙斯), served under `/jd`:
//!
//! - `GET|POST /jd/oauth2/to_login`: the merchant's consent page and its approval.
//! - `GET /jd/oauth2/access_token`, `GET /jd/oauth2/refresh_token`: code exchange and refresh.
//! - `GET|POST /jd/routerjson`: the signed gateway with `jingdong.pop.order.enSearch` (and
//!   `jingdong.pop.order.search`) and `jingdong.jos.order.oaid.decrypt` ([`decrypt`]).
//! - `GET /_sim/jd/orders`, `GET /_sim/jd/shop`, `GET /_sim/jd/contact`: admin views for tests.
//! - `POST /_sim/jd/orders/change`: a test-only event (REFUND, SHIP, COMPLETE, CLOSE) that
//!   changes an order's `orderState` and sets its `modified` ([`change`]).
//!
//! `tokens`, `cipher` and `people` are platform-neutral and reused by the PDD module.

pub mod admin;
pub mod change;
pub mod cipher;
pub mod decrypt;
pub mod errors;
pub mod gateway;
pub mod lifecycle;
pub mod oauth;
pub mod orders;
pub mod people;
pub mod search;
pub mod tokens;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;

use actix_web::web;

use leadgen_domain::PlatformType;

use crate::consent;
use crate::shop::{Shop, ShopKey};
use crate::state::{PlatformState, SimState};
use orders::ShopOrders;
use tokens::TokenStore;

pub const PLATFORM: PlatformType = PlatformType::Jd;

/// JD's mutable state: codes and tokens, and each shop's generated orders.
pub type JdState = PlatformState<TokenStore, ShopOrders>;

/// The shop `key` (an app key and the seller who consented) logs into.
pub fn shop_for(state: &SimState, key: &ShopKey) -> Shop {
    Shop::derive(state.config.seed, PLATFORM, key)
}

/// The shop's orders, generated on first use and kept for the life of the process.
pub fn orders_for(state: &SimState, key: &ShopKey) -> Arc<ShopOrders> {
    let shop = || shop_for(state, key);
    state.jd.orders(&state.config, key, shop, orders::generate)
}

/// Mounts the JD routes (platform paths under `/jd`, admin paths under `/_sim/jd`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/jd")
            .route(
                "/oauth2/to_login",
                web::get().to(consent::page::<oauth::Flow>),
            )
            .route(
                "/oauth2/to_login",
                web::post().to(consent::submit::<oauth::Flow>),
            )
            .route("/oauth2/access_token", web::get().to(oauth::access_token))
            .route("/oauth2/refresh_token", web::get().to(oauth::refresh_token))
            .route("/routerjson", web::get().to(gateway::routerjson))
            .route("/routerjson", web::post().to(gateway::routerjson)),
    )
    .service(
        web::scope("/_sim/jd")
            .route("/orders", web::get().to(admin::orders))
            .route("/orders/change", web::post().to(change::change))
            .route("/shop", web::get().to(admin::shop))
            .route("/contact", web::get().to(admin::contact)),
    );
}
