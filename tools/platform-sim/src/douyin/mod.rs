//! Douyin Shop (抖店, doudian), served under `/douyin`:
//!
//! - `GET|POST /douyin/authorize`: the service-market consent page and its approval.
//! - `POST /douyin/{method with . → /}`: the signed Open API gateway with `token.create`,
//!   `token.refresh`, `order.searchList` and `order.batchDecrypt` ([`decrypt`]).
//! - `GET /_sim/douyin/orders`, `GET /_sim/douyin/shop`, `GET /_sim/douyin/contact`: admin views
//!   for tests.
//! - `POST /_sim/douyin/orders/change`: a test-only event (REFUND, SHIP, COMPLETE, CLOSE) that
//!   changes an order's `order_status` (and its skus' after-sale fields) and sets its
//!   `update_time` ([`change`]).
//!
//! Faults (`faults.rs`): rate limits, delays and error bursts apply to every gateway method,
//! the token methods included (they are calls like any other on Douyin); `token_ttl_calls`
//! applies to `order.searchList` and `order.batchDecrypt`, `malformed_every` to
//! `order.searchList`.
//!
//! The buyers and creation times of [`buyers`] are shared with the Kuaishou simulator.

pub mod admin;
pub mod buyers;
pub mod change;
pub mod decrypt;
pub mod errors;
pub mod gateway;
pub mod oauth;
pub mod order_json;
pub mod orders;
pub mod search;
pub mod tokens;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;

use actix_web::web;

use leadgen_domain::PlatformType;

use crate::consent;
use crate::shop::ShopKey;
use crate::state::{PlatformState, SimState};
use orders::{DyShop, ShopOrders};
use tokens::TokenStore;

pub const PLATFORM: PlatformType = PlatformType::Douyin;

/// Douyin's mutable state: codes and tokens, and each shop's generated orders.
pub type DouyinState = PlatformState<TokenStore, ShopOrders>;

/// The shop `key` (an app key and the seller who consented) logs into.
pub fn shop_for(state: &SimState, key: &ShopKey) -> DyShop {
    DyShop::derive(state.config.seed, key)
}

/// The shop's orders, generated on first use and kept for the life of the process.
pub fn orders_for(state: &SimState, key: &ShopKey) -> Arc<ShopOrders> {
    let shop = || shop_for(state, key);
    state
        .douyin
        .orders(&state.config, key, shop, orders::generate)
}

/// Mounts the Douyin routes (platform paths under `/douyin`, admin paths under `/_sim/douyin`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/douyin")
            .route("/authorize", web::get().to(consent::page::<oauth::Flow>))
            .route("/authorize", web::post().to(consent::submit::<oauth::Flow>))
            .route("/{tail:.*}", web::post().to(gateway::gateway)),
    )
    .service(
        web::scope("/_sim/douyin")
            .route("/orders", web::get().to(admin::orders))
            .route("/orders/change", web::post().to(change::change))
            .route("/shop", web::get().to(admin::shop))
            .route("/contact", web::get().to(admin::contact)),
    );
}
