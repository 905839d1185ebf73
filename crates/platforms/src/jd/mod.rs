//! JD Open Platform (JOS, 京东宙斯): OAuth at `open-oauth.jd.com`, signed calls to `routerjson`,
//! orders by creation time with `jingdong.pop.order.enSearch`.
//!
//! - Consent: `to_login?app_key&response_type=code&redirect_uri&state&scope=snsapi_base`.
//! - Tokens: `GET oauth2/access_token?app_key&app_secret&grant_type=authorization_code&code`;
//!   refresh is the same URL with the last path segment `access_token` replaced by
//!   `refresh_token` (`grant_type=refresh_token&refresh_token`). The token call carries no
//!   `redirect_uri` (the README's request has none).
//! - API: `POST routerjson` form with `method, app_key, access_token, timestamp, v=2.0,
//!   360buy_param_json, sign`; `timestamp` is `yyyy-MM-dd HH:mm:ss` Beijing time; md5 sign over the
//!   sorted `k+v` (`360buy_param_json` sorts first). `360buy_param_json` is the business
//!   parameters as a JSON object with sorted keys and string values, as the Java SDK builds it.
//! - Orders: `order_state` lists every state (JOS filters strictly), `dateType=1` by creation
//!   time or `dateType=0` by modification (status or waybill change; the signing vector sends
//!   `"0"`), pages of 100 counted against `orderTotal`, windows of one day (JOS allows up to one
//!   month). By modification the pages are walked from the last backwards, so orders modified
//!   during the walk are not skipped. The README documents no history limit: the whole range is
//!   fetched.
//!   `oaid` is among the requested fields: it is what the decrypt API opens.
//! - Revealing a receiver's phone: `jingdong.jos.order.oaid.decrypt` with the order's `oaid`,
//!   fulfilment only ([`decrypt`]).

pub mod decrypt;
mod parse;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use leadgen_domain::PlatformType;
use leadgen_domain::time::format_beijing;

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
    parse_error_response, parse_order, parse_orders_page, parse_token_response, status,
};

/// The listing API.
pub const SEARCH_METHOD: &str = "jingdong.pop.order.enSearch";
/// Its response key (JD's own spelling, `responce`).
pub const SEARCH_RESPONSE: &str = "jingdong_pop_order_enSearch_responce";
/// The keys its answer may come under: the method's own (the `{method, . → _}_responce` rule the
/// gateway follows), the older `jingdong.pop.order.search`'s of the README's sample (§2.3; the
/// two take the same parameters), each also spelt `_response`. Other letter cases are read too
/// ([`crate::json::response_body`]).
pub const SEARCH_RESPONSES: &[&str] = &[
    SEARCH_RESPONSE,
    "jingdong_pop_order_search_responce",
    "jingdong_pop_order_enSearch_response",
    "jingdong_pop_order_search_response",
];

/// Every `order_state` JOS knows: orders in a state not listed are not returned.
pub const ORDER_STATES: &str = "WAIT_SELLER_STOCK_OUT,WAIT_GOODS_RECEIVE_CONFIRM,\
WAIT_SELLER_DELIVERY,PAUSE,FINISHED_L,TRADE_CANCELED,LOCKED,POP_ORDER_PAUSE";

/// The `orderInfo` fields requested (`optional_fields` is required).
pub const OPTIONAL_FIELDS: &str = "orderId,venderId,orderType,payType,orderTotalPrice,\
orderSellerPrice,orderPayment,freightPrice,sellerDiscount,orderState,orderStateRemark,orderRemark,\
venderRemark,orderStartTime,orderEndTime,modified,paymentConfirmTime,consigneeInfo,itemInfoList,\
pin,open_id_buyer,xid_buyer,oaid";

/// JOS's maximum page size.
pub const PAGE_SIZE: u32 = 100;
/// The span of one listing window (JOS accepts up to one month).
pub const WINDOW_DAYS: i64 = 1;

/// The JD adapter.
pub struct JdClient {
    transport: Transport,
}

impl JdClient {
    pub fn new(transport: Transport) -> Self {
        JdClient { transport }
    }

    /// The system parameters plus `business` as `360buy_param_json`, signed, exactly as sent.
    pub fn signed_params(
        &self,
        app: &AppCredentials,
        access_token: &str,
        method: &str,
        business: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> BTreeMap<String, String> {
        self.signed_json_params(app, access_token, method, param_json(business), now)
    }

    /// The system parameters plus `param_json` (any JSON object text) as `360buy_param_json`,
    /// signed, exactly as sent.
    pub fn signed_json_params(
        &self,
        app: &AppCredentials,
        access_token: &str,
        method: &str,
        param_json: String,
        now: DateTime<Utc>,
    ) -> BTreeMap<String, String> {
        let mut params = BTreeMap::new();
        params.insert("method".to_owned(), method.to_owned());
        params.insert("app_key".to_owned(), app.app_key.clone());
        params.insert("access_token".to_owned(), access_token.to_owned());
        params.insert("timestamp".to_owned(), format_beijing(now));
        params.insert("v".to_owned(), "2.0".to_owned());
        params.insert("360buy_param_json".to_owned(), param_json);
        params.retain(|_, v| !v.is_empty());
        let sign = sorted_concat_sign(SignMethod::Md5, &app.app_secret, &params);
        params.insert("sign".to_owned(), sign);
        params
    }

    /// The `enSearch` business parameters for one page of `window`.
    pub fn search_params(
        window: &TimeWindow,
        listing: Listing,
        page: u32,
    ) -> BTreeMap<String, String> {
        let date_type = match listing {
            Listing::Created => "1",
            Listing::Modified => "0",
        };
        [
            ("start_date", format_beijing(window.start)),
            ("end_date", format_beijing(window.end)),
            ("order_state", ORDER_STATES.to_owned()),
            ("optional_fields", OPTIONAL_FIELDS.to_owned()),
            ("page", page.to_string()),
            ("page_size", PAGE_SIZE.to_string()),
            ("dateType", date_type.to_owned()),
            // Oldest first, said: the README gives `1` descending and "otherwise ascending", and
            // no default. The walk's reasoning about where a moved order goes (and the
            // simulator's) is for oldest first; a default that changed would reverse it silently.
            ("sortType", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Calls `method` once its rate limit admits it, with `param_json` signed as it leaves.
    async fn call(
        &self,
        app: &AppCredentials,
        access_token: &str,
        method: &str,
        param_json: String,
    ) -> Result<serde_json::Value, PlatformError> {
        self.call_reading(app, access_token, method, param_json, parse_error_response)
            .await
    }

    /// [`JdClient::call`] with the method's own reading of the gateway's errors.
    async fn call_reading(
        &self,
        app: &AppCredentials,
        access_token: &str,
        method: &str,
        param_json: String,
        platform_error: fn(&serde_json::Value) -> Option<PlatformError>,
    ) -> Result<serde_json::Value, PlatformError> {
        self.transport
            .post_form(
                &app.app_key,
                method,
                || self.signed_json_params(app, access_token, method, param_json, Utc::now()),
                platform_error,
                // No ban is documented; any stated wait would be the app key's.
                |_| Some(BanScope::Api),
            )
            .await
    }

    async fn token_request(
        &self,
        app: &AppCredentials,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<TokenSet, PlatformError> {
        self.transport.limiter.wait(&app.app_key).await?;
        let request = self.transport.http.get(url).query(query);
        let json = self
            .transport
            .json(request, &|json| {
                parse_token_response(json, Utc::now()).err()
            })
            .await?;
        parse_token_response(&json, Utc::now())
    }
}

/// `360buy_param_json`: the business parameters as one JSON object, keys sorted.
pub fn param_json(business: &BTreeMap<String, String>) -> String {
    let object: serde_json::Map<String, serde_json::Value> = business
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// The refresh URL: the token URL with its last segment `access_token` → `refresh_token`.
pub fn refresh_url(token_url: &str) -> String {
    match token_url.strip_suffix("access_token") {
        Some(base) => format!("{base}refresh_token"),
        None => token_url.to_owned(),
    }
}

#[async_trait::async_trait]
impl PlatformClient for JdClient {
    fn platform(&self) -> PlatformType {
        PlatformType::Jd
    }

    fn authorize_url(&self, app: &AppCredentials, redirect_uri: &str, state: &str) -> String {
        url_with_query(
            &self.transport.endpoint.authorize_url,
            &[
                ("app_key", app.app_key.as_str()),
                ("response_type", "code"),
                ("redirect_uri", redirect_uri),
                ("state", state),
                ("scope", "snsapi_base"),
            ],
        )
    }

    async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &str,
        _redirect_uri: &str,
    ) -> Result<TokenSet, PlatformError> {
        let url = self.transport.endpoint.token_url.clone();
        let query = [
            ("app_key", app.app_key.as_str()),
            ("app_secret", app.app_secret.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code),
        ];
        self.token_request(app, &url, &query).await
    }

    async fn refresh(
        &self,
        app: &AppCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, PlatformError> {
        let url = refresh_url(&self.transport.endpoint.token_url);
        let query = [
            ("app_key", app.app_key.as_str()),
            ("app_secret", app.app_secret.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.token_request(app, &url, &query).await
    }

    fn windows(&self, range: TimeWindow, now: DateTime<Utc>, _listing: Listing) -> Vec<TimeWindow> {
        split(
            range,
            Duration::days(WINDOW_DAYS),
            range_history(range, now),
            now,
        )
    }

    async fn list_orders(
        &self,
        app: &AppCredentials,
        access_token: &str,
        window: &TimeWindow,
        listing: Listing,
        cursor: Option<&PageCursor>,
    ) -> Result<OrderPage, PlatformError> {
        let page = PageCursor::page_number(cursor, 1, PlatformType::Jd)?;
        let business = Self::search_params(window, listing, page);
        let json = self
            .call(app, access_token, SEARCH_METHOD, param_json(&business))
            .await?;
        let span = PageSpan::numbered(page, 1, PAGE_SIZE);
        let (orders, total) = parse_orders_page(&json, span)?;
        let next = match listing {
            // A page `orderTotal` says others follow carries orders ([`parse_orders_page`]: an
            // empty one is `Malformed`), so the walk moves on and is never paged for ever; the
            // last page by the total ends it, however many it carried (an empty one where the
            // total counts an order never listed would ask one more page for nothing).
            Listing::Created => span.followed(total).then(|| PageCursor::Number(page + 1)),
            Listing::Modified => PageCursor::backward_next(cursor, page, 1, total, PAGE_SIZE),
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
        check_purpose(PlatformType::Jd, decrypt::PURPOSES, request.purpose)?;
        let param_json = decrypt::decrypt_param_json(request)?;
        let json = self
            .call_reading(
                app,
                access_token,
                decrypt::DECRYPT_METHOD,
                param_json,
                decrypt::parse_decrypt_error,
            )
            .await?;
        decrypt::parse_decrypt_response(&json, request)
    }
}

#[cfg(test)]
mod tests;
