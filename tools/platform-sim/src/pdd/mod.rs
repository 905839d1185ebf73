//! Pinduoduo open platform (PDD), served under `/pdd`:
//!
//! - `GET|POST /pdd/service-market/auth`: the merchant's consent page and its approval.
//! - `POST /pdd/oauth/token`: code exchange and refresh (JSON body).
//! - `GET|POST /pdd/api/router`: the signed gateway with `pdd.order.list.get` and
//!   `pdd.open.decrypt.batch`.
//! - `GET /_sim/pdd/orders`, `GET /_sim/pdd/shop`: admin views for tests.
//!
//! Codes and tokens use the platform-neutral [`crate::jd::tokens::TokenStore`]; receivers come
//! from [`crate::jd::people`].

pub mod admin;
pub mod decrypt;
pub mod errors;
pub mod gateway;
pub mod list;
pub mod oauth;
pub mod orders;
pub mod privacy;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::web;

use leadgen_domain::PlatformType;

use crate::jd::tokens::TokenStore;
use crate::shop::Shop;
use crate::state::SimState;
use orders::ShopOrders;

pub const PLATFORM: PlatformType = PlatformType::Pdd;

/// PDD's mutable state: codes and tokens, and each shop's generated orders.
#[derive(Debug, Default)]
pub struct PddState {
    tokens: Mutex<TokenStore>,
    orders: Mutex<HashMap<String, Arc<ShopOrders>>>,
}

impl PddState {
    pub fn tokens(&self) -> MutexGuard<'_, TokenStore> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The shop a client id's authorizations log into.
pub fn shop_for(state: &SimState, client_id: &str) -> Shop {
    Shop::derive(state.config.seed, PLATFORM, client_id)
}

/// The shop's orders, generated on first use and kept for the life of the process.
pub fn orders_for(state: &SimState, client_id: &str) -> Arc<ShopOrders> {
    let mut cache = state
        .pdd
        .orders
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    cache
        .entry(client_id.to_owned())
        .or_insert_with(|| {
            let shop = shop_for(state, client_id);
            Arc::new(orders::generate(
                state.config.seed,
                &shop,
                state.config.orders_per_shop,
                state.config.anchor,
            ))
        })
        .clone()
}

/// Mounts the PDD routes (platform paths under `/pdd`, admin paths under `/_sim/pdd`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/pdd")
            .route("/service-market/auth", web::get().to(oauth::authorize_page))
            .route(
                "/service-market/auth",
                web::post().to(oauth::authorize_submit),
            )
            .route("/oauth/token", web::post().to(oauth::token))
            .route("/api/router", web::get().to(gateway::router))
            .route("/api/router", web::post().to(gateway::router)),
    )
    .service(
        web::scope("/_sim/pdd")
            .route("/orders", web::get().to(admin::orders))
            .route("/shop", web::get().to(admin::shop)),
    );
}
