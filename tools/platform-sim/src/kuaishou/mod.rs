//! Kuaishou shop (快手小店), served under `/kuaishou`:
//!
//! - `GET|POST /kuaishou/oauth/authorize`: the consent page (open.kwaixiaodian.com) and its
//!   approval, redirecting to `redirect_uri?code=…&state=…`.
//! - `GET /kuaishou/oauth2/access_token` (`app_id, app_secret, grant_type=code, code`) and
//!   `POST /kuaishou/oauth2/refresh_token` (`grant_type=refresh_token, app_id, app_secret,
//!   refresh_token`).
//! - `GET|POST /kuaishou/{method with . → /}`: the signed API (openapi.kwaixiaodian.com) with
//!   `open.order.cursor.list` and `open.order.decrypt.batch` ([`decrypt`]).
//! - `GET /_sim/kuaishou/orders`, `GET /_sim/kuaishou/shop`, `GET /_sim/kuaishou/contact`: admin
//!   views for tests.
//! - `POST /_sim/kuaishou/orders/change`: a test-only event (REFUND, SHIP, COMPLETE, CLOSE) that
//!   changes an order's `orderBaseInfo.status` and sets its `updateTime` ([`change`]).
//!
//! Faults apply to the API only (as Taobao's apply to `router/rest`), not to OAuth.
//!
//! Apps: `--app KUAISHOU=appKey:appSecret[:signSecret]`; the app secret must not contain `:`
//! (real ones are alphanumeric); without a signSecret the app secret signs too. What README §5
//! leaves open is designed here and marked [unverified] where it is decided.

pub mod admin;
pub mod change;
pub mod cursor;
pub mod decrypt;
pub mod errors;
pub mod gateway;
pub mod oauth;
pub mod orders;
pub mod tokens;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use actix_web::web;

use leadgen_domain::PlatformType;

use crate::consent;
use crate::shop::ShopKey;
use crate::state::{AppCredentials, PlatformState, SimState};
use orders::{KsShop, ShopOrders};
use tokens::TokenStore;

pub const PLATFORM: PlatformType = PlatformType::Kuaishou;

/// Kuaishou's mutable state: codes and tokens, and each shop's generated orders.
pub type KuaishouState = PlatformState<TokenStore, ShopOrders>;

/// A registered Kuaishou app's two secrets: `(appSecret, signSecret)`.
pub fn secrets(app: &AppCredentials) -> (&str, &str) {
    match app.secret.split_once(':') {
        Some((app_secret, sign_secret)) if !sign_secret.is_empty() => (app_secret, sign_secret),
        Some((app_secret, _)) => (app_secret, app_secret),
        None => (&app.secret, &app.secret),
    }
}

/// The shop `key` (an app key and the seller who consented) logs into.
pub fn shop_for(state: &SimState, key: &ShopKey) -> KsShop {
    KsShop::derive(state.config.seed, key)
}

/// The shop's orders, generated on first use and kept for the life of the process.
pub fn orders_for(state: &SimState, key: &ShopKey) -> Arc<ShopOrders> {
    let shop = || shop_for(state, key);
    state
        .kuaishou
        .orders(&state.config, key, shop, orders::generate)
}

/// Mounts the Kuaishou routes (platform paths under `/kuaishou`, admin under `/_sim/kuaishou`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/kuaishou")
            .route(
                "/oauth/authorize",
                web::get().to(consent::page::<oauth::Flow>),
            )
            .route(
                "/oauth/authorize",
                web::post().to(consent::submit::<oauth::Flow>),
            )
            .route("/oauth2/access_token", web::get().to(oauth::access_token))
            .route(
                "/oauth2/refresh_token",
                web::post().to(oauth::refresh_token),
            )
            .route("/{tail:.*}", web::get().to(gateway::gateway))
            .route("/{tail:.*}", web::post().to(gateway::gateway)),
    )
    .service(
        web::scope("/_sim/kuaishou")
            .route("/orders", web::get().to(admin::orders))
            .route("/orders/change", web::post().to(change::change))
            .route("/shop", web::get().to(admin::shop))
            .route("/contact", web::get().to(admin::contact)),
    );
}
