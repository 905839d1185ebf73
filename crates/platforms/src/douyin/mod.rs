//! Douyin Shop (抖店, doudian): consent at the service market, every call (tokens included)
//! signed through the Open API gateway, orders by creation time with `order.searchList`.
//!
//! - Calls: `POST {api_url}/{method with . → /}` with `app_key, method, access_token,
//!   timestamp, v=2, sign_method, sign` in the query and `param_json` as the JSON body (keys
//!   sorted recursively, compact, raw UTF-8, no HTML escaping). `access_token` and
//!   `sign_method` are not signed ([`crate::sign::douyin_sign`]). Sign method `hmac-sha256`;
//!   `timestamp` is sent as `yyyy-MM-dd HH:mm:ss` Beijing time (doudian==0.6; the Go SDK's unix
//!   seconds are equally accepted). The Go SDK's `x-open-no-old-err-code: 1` header is sent so
//!   errors come in the new envelope.
//! - Consent: `authorize_url?service_id={serviceId}&state=…` (README §4.1: the service-market
//!   id, not the app key; `serviceId` is required in `authInfo`). The service market
//!   redirects to the redirect URL registered with the app; we also pass `redirect_uri`, which
//!   the simulator needs and the real page is expected to ignore [unverified].
//! - Tokens: `token.create` at the configured `token_url` (`…/token/create`) with
//!   `grant_type=authorization_code` (or `authorization_self` + `shop_id` for a self-use app
//!   with `shopId` and no code); `token.refresh` at `{api_url}/token/refresh`. `expires_in` is
//!   relative seconds; the refresh token lives 14 days (token_create_response.go).
//! - Orders: windows of one day [choice]; no history limit is documented, so the whole range is
//!   fetched; `page` from 0, `size` 100. By creation: `order_by=create_time`, `order_asc=true`
//!   (orders arriving during a walk land after the pages already read). By modification:
//!   `update_time_start`/`update_time_end`, `order_by=update_time`, `order_asc=true`, pages
//!   walked from the last backwards: an order modified again during the walk leaves the window
//!   or goes to its end, among the pages already read, and the orders it passed move toward
//!   the pages still to read (newest first, the default, they would move into pages already
//!   read). Both ends of the time range are taken as inclusive [unverified].
//! - Errors by `code`/`sub_code` ([`parse::parse_error`]): 60000 throttled; 40003 (and 30001)
//!   with an access-token or authorization `sub_code` → session expired; 40001/40003 with a
//!   listed signature, app id, token or timestamp `sub_code` → invalid request, with any other
//!   → unknown; 20000/20001 → unavailable; 90000 ("other") →
//!   unknown; 50001 token generation → refused when its reason is the grant's (code or refresh token expired or
//!   invalid), an invalid request when it is our app's (`app-secret-invalid`…).
//! - Orders parse into [`RawOrder`](leadgen_domain::RawOrder): fen amounts, unix-second times,
//!   `encrypt_post_*` ciphertexts with their `mask_post_*` companions, `doudian_open_id`,
//!   privacy numbers (`18400913965-7576`) in `post_tel` as virtual numbers.
//! - Revealing a receiver's phone: `order.batchDecrypt` with the order's `encrypt_post_tel`,
//!   fulfilment only ([`decrypt`]).

pub mod decrypt;
mod parse;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, Utc};
use leadgen_domain::PlatformType;
use leadgen_domain::time::format_beijing;
use serde_json::{Value, json};

use crate::client::{
    AppCredentials, Listing, OrderPage, PageCursor, PageSpan, PlatformClient, PlatformError,
    TokenSet, check_purpose, url_with_query,
};
use crate::registry::Transport;
use crate::resilience::BanScope;
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact};
use crate::sign::{SignMethod, douyin_sign};
use crate::window::{TimeWindow, range_history, split};

pub use parse::{parse_error, parse_order, parse_search_page, parse_token_response};

/// `size` of each `order.searchList` page (the platform's maximum).
pub const PAGE_SIZE: u32 = 100;
pub const SEARCH_LIST: &str = "order.searchList";
pub const TOKEN_CREATE: &str = "token.create";
pub const TOKEN_REFRESH: &str = "token.refresh";

/// One signed call, exactly as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCall {
    pub url: String,
    /// `app_key, method, access_token?, timestamp, v, sign_method, sign`, in this order.
    pub query: Vec<(&'static str, String)>,
    /// `param_json`, the request body.
    pub body: String,
}

/// The Douyin Shop adapter.
pub struct DouyinClient {
    transport: Transport,
    sign_method: SignMethod,
}

/// `value` with every object's keys sorted (byte-wise), recursively.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `param_json` as the platform signs it: keys sorted recursively, compact, raw UTF-8, no
/// HTML escaping; `{}` for no parameters.
pub fn param_json(params: &Value) -> String {
    match params {
        Value::Null => "{}".to_owned(),
        other => sorted(other).to_string(),
    }
}

impl DouyinClient {
    pub fn new(transport: Transport) -> Self {
        DouyinClient {
            transport,
            sign_method: SignMethod::HmacSha256,
        }
    }

    /// `{api_url}/{method with . → /}`.
    pub fn method_url(&self, method: &str) -> String {
        format!(
            "{}/{}",
            self.transport.endpoint.api_url.trim_end_matches('/'),
            method.replace('.', "/")
        )
    }

    /// Builds the signed call of `method` with `params` (any JSON object) at `url`.
    pub fn signed_call(
        &self,
        app: &AppCredentials,
        url: String,
        method: &str,
        access_token: Option<&str>,
        params: &Value,
        now: DateTime<Utc>,
    ) -> SignedCall {
        let body = param_json(params);
        let timestamp = format_beijing(now);
        let sign = douyin_sign(
            self.sign_method,
            &app.app_secret,
            &app.app_key,
            method,
            &body,
            &timestamp,
        );
        let mut query = vec![
            ("app_key", app.app_key.clone()),
            ("method", method.to_owned()),
        ];
        if let Some(token) = access_token.filter(|t| !t.is_empty()) {
            query.push(("access_token", token.to_owned()));
        }
        query.extend([
            ("timestamp", timestamp),
            ("v", "2".to_owned()),
            (
                "sign_method",
                self.sign_method.wire_name(PlatformType::Douyin).to_owned(),
            ),
            ("sign", sign),
        ]);
        SignedCall { url, query, body }
    }

    /// Sends the call `sign` builds; the answer's JSON when `code` is 10000, else the typed
    /// error.
    async fn send(
        &self,
        app: &AppCredentials,
        method: &str,
        sign: impl FnOnce() -> SignedCall,
    ) -> Result<Value, PlatformError> {
        self.send_with(app, method, sign, parse_error).await
    }

    /// Waits for the app key's rate limit at `method`, only then builds the call with `sign`
    /// (its timestamp is the moment it leaves, however long the wait), sends it, and answers
    /// the JSON unless `classify` reads an error in it, which the app key's limiter learns
    /// from ([`Transport::learn`]: Douyin documents no ban; 60000 "触发限流" states no wait, and
    /// is taken as the app key's calls of the method).
    async fn send_with(
        &self,
        app: &AppCredentials,
        method: &str,
        sign: impl FnOnce() -> SignedCall,
        classify: fn(&Value) -> Option<PlatformError>,
    ) -> Result<Value, PlatformError> {
        self.transport.limiter.admit(&app.app_key, method).await?;
        let call = sign();
        let request = self
            .transport
            .http
            .post(&call.url)
            .query(&call.query)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-open-no-old-err-code", "1")
            .body(call.body);
        let json =
            crate::registry::read_json(crate::registry::send(request).await, &classify).await?;
        match classify(&json) {
            Some(error) => Err(self
                .transport
                .learn(&app.app_key, method, error, Some(BanScope::Api))
                .await),
            None => {
                self.transport.limiter.answered(&app.app_key, method);
                Ok(json)
            }
        }
    }

    async fn token_call(
        &self,
        app: &AppCredentials,
        url: String,
        method: &str,
        params: Value,
    ) -> Result<TokenSet, PlatformError> {
        let json = self
            .send(app, method, || {
                self.signed_call(app, url, method, None, &params, Utc::now())
            })
            .await?;
        parse_token_response(&json, Utc::now())
    }
}

#[async_trait::async_trait]
impl PlatformClient for DouyinClient {
    fn platform(&self) -> PlatformType {
        PlatformType::Douyin
    }

    /// `serviceId`: the consent page's service; `shopId`: a self-built app's own shop, for
    /// `grant_type=authorization_self`.
    fn auth_info_keys(&self) -> &'static [&'static str] {
        &["serviceId", "shopId"]
    }

    /// `serviceId` is required. README §4.1 does document a self-use app authorized without a
    /// consent page (`authorization_self` with `shop_id`), but an authorization is only ever
    /// completed through the consent page and its code (the callback refuses one without a
    /// code, so [`Self::exchange_code`]'s self-use branch is never reached from it), and that
    /// page takes the service-market `service_id`, which the app key is not. Without it the
    /// merchant would be sent to some other service, or none: refused when the authorization
    /// is added (422), not at the consent page.
    fn required_auth_info_keys(&self) -> &'static [&'static str] {
        &["serviceId"]
    }

    fn authorize_url(&self, app: &AppCredentials, redirect_uri: &str, state: &str) -> String {
        // An authorization stored before `serviceId` was required has none: no `service_id` is
        // sent rather than the app key, so the service market says what is missing instead of
        // asking consent for a service the app key happens to name.
        let service_id = app.extra("serviceId").map(|id| ("service_id", id));
        let pairs: Vec<(&str, &str)> = service_id
            .into_iter()
            .chain([("state", state), ("redirect_uri", redirect_uri)])
            .collect();
        url_with_query(&self.transport.endpoint.authorize_url, &pairs)
    }

    async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &str,
        _redirect_uri: &str,
    ) -> Result<TokenSet, PlatformError> {
        let params = match app.extra("shopId") {
            Some(shop_id) if code.is_empty() => {
                let shop_id: Value = shop_id
                    .parse::<i64>()
                    .map_or_else(|_| json!(shop_id), |n| json!(n));
                json!({"code": "", "grant_type": "authorization_self", "shop_id": shop_id})
            }
            _ => json!({"code": code, "grant_type": "authorization_code"}),
        };
        let url = self.transport.endpoint.token_url.clone();
        self.token_call(app, url, TOKEN_CREATE, params).await
    }

    async fn refresh(
        &self,
        app: &AppCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, PlatformError> {
        let params = json!({"grant_type": "refresh_token", "refresh_token": refresh_token});
        let url = self.method_url(TOKEN_REFRESH);
        let tokens = self.token_call(app, url, TOKEN_REFRESH, params).await?;
        Ok(parse::same_pair_keeps_its_expiry(tokens, refresh_token))
    }

    fn windows(&self, range: TimeWindow, now: DateTime<Utc>, _listing: Listing) -> Vec<TimeWindow> {
        split(range, Duration::days(1), range_history(range, now), now)
    }

    async fn list_orders(
        &self,
        app: &AppCredentials,
        access_token: &str,
        window: &TimeWindow,
        listing: Listing,
        cursor: Option<&PageCursor>,
    ) -> Result<OrderPage, PlatformError> {
        let page = PageCursor::page_number(cursor, 0, PlatformType::Douyin)?;
        let params = search_params(window, listing, page);
        let json = self
            .send(app, SEARCH_LIST, || {
                self.signed_call(
                    app,
                    self.method_url(SEARCH_LIST),
                    SEARCH_LIST,
                    Some(access_token),
                    &params,
                    Utc::now(),
                )
            })
            .await?;
        let span = PageSpan::numbered(page, 0, PAGE_SIZE);
        let (orders, total) = parse_search_page(&json, span)?;
        let next = match listing {
            // A page the total says holds orders carries them ([`parse_search_page`]: an empty
            // one is `Malformed`), so the walk moves on and is never paged for ever.
            Listing::Created => span.followed(total).then(|| PageCursor::Number(page + 1)),
            Listing::Modified => PageCursor::backward_next(cursor, page, 0, total, PAGE_SIZE),
        };
        Ok(OrderPage {
            orders,
            next,
            total: Some(total),
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
        check_purpose(PlatformType::Douyin, decrypt::PURPOSES, request.purpose)?;
        let params = decrypt::decrypt_params(request);
        let sign = || {
            self.signed_call(
                app,
                self.method_url(decrypt::BATCH_DECRYPT),
                decrypt::BATCH_DECRYPT,
                Some(access_token),
                &params,
                Utc::now(),
            )
        };
        let json = self
            .send_with(
                app,
                decrypt::BATCH_DECRYPT,
                sign,
                decrypt::parse_decrypt_error,
            )
            .await?;
        decrypt::parse_decrypt_response(&json, request)
    }
}

/// The `order.searchList` parameters for one page of `window`.
pub fn search_params(window: &TimeWindow, listing: Listing, page: u32) -> Value {
    match listing {
        Listing::Created => json!({
            "create_time_start": window.start.timestamp(),
            "create_time_end": window.end.timestamp(),
            "order_by": "create_time",
            "order_asc": true,
            "page": page,
            "size": PAGE_SIZE,
        }),
        Listing::Modified => json!({
            "update_time_start": window.start.timestamp(),
            "update_time_end": window.end.timestamp(),
            "order_by": "update_time",
            "order_asc": true,
            "page": page,
            "size": PAGE_SIZE,
        }),
    }
}
