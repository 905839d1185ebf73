//! Pinduoduo open platform (PDD): consent at `fuwu.pinduoduo.com/service-market/auth`, tokens
//! from the JSON endpoint `open-api.pinduoduo.com/oauth/token`, signed calls to
//! `gw-api.pinduoduo.com/api/router`, orders by confirm (成交/成团) time with `pdd.order.list.get`.
//!
//! - Tokens: `POST oauth/token` with a JSON body `{client_id, client_secret, grant_type, code}` or
//!   `{…, grant_type: "refresh_token", refresh_token}`. The answer carries the fields of
//!   `pop_auth_token_create_response` unwrapped (as lywzx/pdd-node-sdk reads them); a wrapped
//!   answer is read too. Refusals are `{"error_response":{"error_code","error_msg"}}`.
//! - API: `POST api/router` form with `type, client_id, access_token, timestamp` (unix seconds),
//!   `data_type=JSON, version=V1`, the business parameters flat, and `sign` (md5, upper hex).
//! - Orders: `order_status=5` and `refund_status=5` (all), pages of 100 from page 1, windows of
//!   one day (PDD allows at most 24 h), `use_has_next=false`: the walk counts what it read against
//!   the total (two orders of one second can trade places between two pages' calls, one read
//!   twice and the other never). **The window is on confirm time**, not
//!   creation time: an order is listed once it is confirmed (paid and, for group buys, grouped);
//!   orders still grouping are not listed yet. By modification: `pdd.order.number.list.increment.get`
//!   on `updated_at`, windows of 30 minutes (its limit), pages walked from the last backwards as
//!   PDD asks. The README documents no history limit: the whole range is fetched.
//! - Revealing a receiver's phone: `pdd.open.decrypt.batch` with the order's `receiver_phone`
//!   ciphertext, fulfilment only ([`decrypt`]).

pub mod decrypt;
mod parse;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use leadgen_domain::PlatformType;

use crate::client::{
    AppCredentials, Listing, OrderPage, PageCursor, PageSpan, PlatformClient, PlatformError,
    TokenSet, check_purpose, url_with_query,
};
use crate::registry::Transport;
use crate::resilience::BanScope;
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact};
use crate::sign::{SignMethod, sorted_concat_sign};
use crate::window::{TimeWindow, range_history, split};

pub use parse::{
    ListingPage, parse_error_response, parse_listing, parse_order, parse_orders_page, parse_phone,
    parse_token_response, status,
};

/// The listing API and its response key.
pub const LIST_TYPE: &str = "pdd.order.list.get";
pub const LIST_RESPONSE: &str = "order_list_get_response";

/// PDD's maximum page size.
pub const PAGE_SIZE: u32 = 100;
/// The by-modification listing and its response key.
pub const INCREMENT_TYPE: &str = "pdd.order.number.list.increment.get";
pub const INCREMENT_RESPONSE: &str = "order_sn_increment_get_response";
/// The keys its answer may come under: the README's sample (§3.3, [`INCREMENT_RESPONSE`]) and
/// what the envelope rule of §3.2 (`{api without pdd. and dots→_}_response`) gives for the API.
pub const INCREMENT_RESPONSES: &[&str] = &[
    INCREMENT_RESPONSE,
    "order_number_list_increment_get_response",
];
/// One window: PDD allows `end_confirm_at - start_confirm_at` ≤ 24 h.
pub const WINDOW_SECONDS: i64 = 86_400;
/// One by-modification window: `end_updated_at - start_updated_at` ≤ 30 min.
pub const INCREMENT_WINDOW_SECONDS: i64 = 1_800;

/// The PDD adapter.
pub struct PddClient {
    transport: Transport,
}

impl PddClient {
    pub fn new(transport: Transport) -> Self {
        PddClient { transport }
    }

    /// The system parameters plus `business`, signed, exactly as sent.
    pub fn signed_params(
        &self,
        app: &AppCredentials,
        access_token: &str,
        api_type: &str,
        business: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> BTreeMap<String, String> {
        let mut params = business;
        params.insert("type".to_owned(), api_type.to_owned());
        params.insert("client_id".to_owned(), app.app_key.clone());
        params.insert("access_token".to_owned(), access_token.to_owned());
        params.insert("timestamp".to_owned(), now.timestamp().to_string());
        params.insert("data_type".to_owned(), "JSON".to_owned());
        params.insert("version".to_owned(), "V1".to_owned());
        params.retain(|_, v| !v.is_empty());
        let sign = sorted_concat_sign(SignMethod::Md5, &app.app_secret, &params);
        params.insert("sign".to_owned(), sign);
        params
    }

    /// The `pdd.order.list.get` business parameters for one page of `window`. No `trade_type`:
    /// the platform's own description of it reads "不传为全部" (left out, every type), where
    /// `0` would leave deposit (定金) orders out (docs/platform-sync.md §2.3).
    pub fn list_params(window: &TimeWindow, page: u32) -> BTreeMap<String, String> {
        [
            ("order_status", "5".to_owned()),
            ("refund_status", "5".to_owned()),
            ("start_confirm_at", window.start.timestamp().to_string()),
            ("end_confirm_at", window.end.timestamp().to_string()),
            ("page", page.to_string()),
            ("page_size", PAGE_SIZE.to_string()),
            ("use_has_next", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The increment listing's parameters: every order (lucky draws included), every status;
    /// `use_has_next=false`, said (the README gives no default), so the answer carries
    /// `total_count` for the backward walk.
    pub fn increment_params(window: &TimeWindow, page: u32) -> BTreeMap<String, String> {
        [
            ("is_lucky_flag", "0".to_owned()),
            ("order_status", "5".to_owned()),
            ("refund_status", "5".to_owned()),
            ("start_updated_at", window.start.timestamp().to_string()),
            ("end_updated_at", window.end.timestamp().to_string()),
            ("page", page.to_string()),
            ("page_size", PAGE_SIZE.to_string()),
            ("use_has_next", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Calls `api` once its rate limit admits it, with `business` signed as it leaves.
    async fn call(
        &self,
        app: &AppCredentials,
        access_token: &str,
        api: &str,
        business: BTreeMap<String, String>,
        platform_error: fn(&serde_json::Value) -> Option<PlatformError>,
    ) -> Result<serde_json::Value, PlatformError> {
        self.transport
            .post_form(
                &app.app_key,
                api,
                || self.signed_params(app, access_token, api, business, Utc::now()),
                platform_error,
                // No ban is documented; any stated wait would be the app key's.
                |_| Some(BanScope::Api),
            )
            .await
    }

    async fn token_request(
        &self,
        app: &AppCredentials,
        body: serde_json::Value,
    ) -> Result<TokenSet, PlatformError> {
        self.transport.limiter.wait(&app.app_key).await?;
        let request = self
            .transport
            .http
            .post(&self.transport.endpoint.token_url)
            .json(&body);
        let json = self
            .transport
            .json(request, &|json| {
                parse_token_response(json, Utc::now()).err()
            })
            .await?;
        parse_token_response(&json, Utc::now())
    }
}

#[async_trait::async_trait]
impl PlatformClient for PddClient {
    fn platform(&self) -> PlatformType {
        PlatformType::Pdd
    }

    fn authorize_url(&self, app: &AppCredentials, redirect_uri: &str, state: &str) -> String {
        url_with_query(
            &self.transport.endpoint.authorize_url,
            &[
                ("response_type", "code"),
                ("client_id", &app.app_key),
                ("redirect_uri", redirect_uri),
                ("state", state),
            ],
        )
    }

    async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &str,
        _redirect_uri: &str,
    ) -> Result<TokenSet, PlatformError> {
        let body = serde_json::json!({
            "client_id": app.app_key,
            "client_secret": app.app_secret,
            "grant_type": "authorization_code",
            "code": code,
        });
        self.token_request(app, body).await
    }

    async fn refresh(
        &self,
        app: &AppCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, PlatformError> {
        let body = serde_json::json!({
            "client_id": app.app_key,
            "client_secret": app.app_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        });
        self.token_request(app, body).await
    }

    fn windows(&self, range: TimeWindow, now: DateTime<Utc>, listing: Listing) -> Vec<TimeWindow> {
        let span = match listing {
            Listing::Created => WINDOW_SECONDS,
            Listing::Modified => INCREMENT_WINDOW_SECONDS,
        };
        split(
            range,
            Duration::seconds(span),
            range_history(range, now),
            now,
        )
    }

    /// One page of the orders **confirmed** (or last updated) within `window` (both ends
    /// inclusive).
    async fn list_orders(
        &self,
        app: &AppCredentials,
        access_token: &str,
        window: &TimeWindow,
        listing: Listing,
        cursor: Option<&PageCursor>,
    ) -> Result<OrderPage, PlatformError> {
        let page = PageCursor::page_number(cursor, 1, PlatformType::Pdd)?;
        let (api, business) = match listing {
            Listing::Created => (LIST_TYPE, Self::list_params(window, page)),
            Listing::Modified => (INCREMENT_TYPE, Self::increment_params(window, page)),
        };
        let json = self
            .call(app, access_token, api, business, parse_error_response)
            .await?;
        let span = PageSpan::numbered(page, 1, PAGE_SIZE);
        let (orders, next, total) = match listing {
            Listing::Created => {
                // A page that says more follow carries orders ([`parse_listing`]: an empty one
                // is `Malformed`), so the walk moves on and is never paged for ever. Asked for
                // its total, read by its `has_next` where an answer sends only that.
                let listed = parse_listing(&json, &[LIST_RESPONSE], "order_list", true, span)?;
                let next = listed.has_next.then(|| PageCursor::Number(page + 1));
                (listed.orders, next, listed.total)
            }
            Listing::Modified => {
                let listed =
                    parse_listing(&json, INCREMENT_RESPONSES, "order_sn_list", false, span)?;
                let total = listed.total.unwrap_or_default();
                let next = PageCursor::backward_next(cursor, page, 1, total, PAGE_SIZE);
                (listed.orders, next, Some(total))
            }
        };
        Ok(OrderPage {
            orders,
            next,
            total,
        })
    }

    fn reveal_purposes(&self) -> &'static [RevealPurpose] {
        decrypt::PURPOSES
    }

    async fn decrypt_contact(
        &self,
        app: &AppCredentials,
        access_token: &str,
        request: &DecryptRequest,
    ) -> Result<RevealedContact, PlatformError> {
        check_purpose(PlatformType::Pdd, decrypt::PURPOSES, request.purpose)?;
        let json = self
            .call(
                app,
                access_token,
                decrypt::DECRYPT_TYPE,
                decrypt::decrypt_params(request),
                decrypt::parse_decrypt_error,
            )
            .await?;
        decrypt::parse_decrypt_response(&json, request)
    }
}

#[cfg(test)]
mod tests;
