//! Taobao / Tmall Open Platform (TOP), served under `/taobao`:
//!
//! - `GET|POST /taobao/authorize`: the seller's consent page and its approval (oauth.taobao.com).
//! - `POST /taobao/token`: code exchange and refresh (oauth.taobao.com/token).
//! - `GET|POST /taobao/router/rest`: the signed API gateway (gw.api.taobao.com/router/rest) with
//!   `taobao.trades.sold.get`, `taobao.trades.sold.increment.get` and `taobao.top.oaid.decrypt`
//!   ([`decrypt`]: scenes, quota, privacy numbers).
//! - `GET /_sim/taobao/orders`, `GET /_sim/taobao/shop`, `GET /_sim/taobao/contact`: admin views
//!   for tests.
//! - `POST /_sim/taobao/orders/change`: a test-only event (REFUND, SHIP, COMPLETE, CLOSE) that
//!   changes a trade's `status` and sets its `modified` ([`change`]).

pub mod admin;
pub mod api;
pub mod buyers;
pub mod change;
pub mod data;
pub mod decrypt;
pub mod errors;
pub mod fields;
pub mod lifecycle;
pub mod oauth;
pub mod orders;
pub mod tokens;
pub mod trades;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use actix_web::web;

use leadgen_domain::PlatformType;

use crate::consent;
use crate::shop::{Shop, ShopKey};
use crate::state::{PlatformState, SimState};
use orders::ShopOrders;
use tokens::TokenStore;

pub const PLATFORM: PlatformType = PlatformType::Taobao;

/// Taobao's mutable state: codes and tokens, and each shop's generated orders.
pub type TaobaoState = PlatformState<TokenStore, ShopOrders>;

/// The shop `key` (an app key and the seller who consented) logs into.
pub fn shop_for(state: &SimState, key: &ShopKey) -> Shop {
    Shop::derive(state.config.seed, PLATFORM, key)
}

/// The shop's orders, generated on first use and kept for the life of the process.
pub fn orders_for(state: &SimState, key: &ShopKey) -> Arc<ShopOrders> {
    let shop = || shop_for(state, key);
    state
        .taobao
        .orders(&state.config, key, shop, orders::generate)
}

/// Mounts the Taobao routes (platform paths under `/taobao`, admin paths under `/_sim/taobao`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/taobao")
            .route("/authorize", web::get().to(consent::page::<oauth::Flow>))
            .route("/authorize", web::post().to(consent::submit::<oauth::Flow>))
            .route("/token", web::post().to(oauth::token))
            .route("/router/rest", web::get().to(api::router_rest))
            .route("/router/rest", web::post().to(api::router_rest)),
    )
    .service(
        web::scope("/_sim/taobao")
            .route("/orders", web::get().to(admin::orders))
            .route("/orders/change", web::post().to(change::change))
            .route("/shop", web::get().to(admin::shop))
            .route("/contact", web::get().to(admin::contact)),
    );
}
