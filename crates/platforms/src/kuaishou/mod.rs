//! Kuaishou shop (快手小店): OAuth at `open.kwaixiaodian.com`, signed calls to
//! `openapi.kwaixiaodian.com/{method with . → /}`, orders with `open.order.cursor.list`.
//!
//! Documented (README §5): the consent URL (`app_id, redirect_uri, scope, response_type=code,
//! state`); the token exchange `GET oauth2/access_token?app_id&app_secret&grant_type=code&code`
//! and refresh `POST oauth2/refresh_token` (`grant_type=refresh_token, app_id, app_secret,
//! refresh_token`; where they go is not said: sent in the form body, as OAuth 2.0 does), success flag
//! `result=1`; the call parameters `appkey, method, version=1,
//! timestamp (ms), access_token, signMethod, param (JSON), sign` signed with the app's
//! **signSecret** (`authInfo.extra.signSecret`, distinct from `appSecret`, which only OAuth
//! uses); `open.order.cursor.list` with `queryType=1` (create time, 90 days of history) or
//! `queryType=2` (update time; no history limit documented, so the whole range is fetched),
//! `beginTime`/`endTime` in ms within 7 days, `pageSize` ≤ 50, `cursor` from `""` to `"nomore"`.
//!
//! [unverified] — designed here and mirrored by the simulator (`tools/platform-sim/src/kuaishou`):
//! - Calls are `GET` with every parameter in the query string; sign method `MD5`; the `param`
//!   JSON keeps the SDK's field order (`orderViewStatus, pageSize, sort, queryType, beginTime,
//!   endTime, cpsType, cursor`) with `orderViewStatus=1` (all), `sort=1`, `cpsType=0` (all).
//! - The refresh URL is the token URL with its last segment replaced by `refresh_token`.
//! - Token answer: `{"result":1,"access_token","expires_in","refresh_token",
//!   "refresh_token_expires_in","open_id","scopes"}` (seconds); errors `{"result":N,"error",
//!   "error_msg"}`. The seller's `open_id` is our shop id; no shop name is sent.
//! - API answer: `{"result":1,"msg":"success","data":{"pageSize","beginTime","endTime","cursor",
//!   "orderList":[…]}}`; errors `{"result":N,"msg","error_msg"}`; the simulator's N (17 rate
//!   limited, 24 access token expired, 25 access token invalid, 10–16 system parameters /
//!   signature / timestamp, 28 permission, 2001 business parameters, 500, 503) are our design,
//!   so the adapter classifies none of them: every `result` ≠ 1 is `Unknown` (bounded backoff,
//!   one refresh, then reported with its code and text). A token answer is a refused grant
//!   only when its `error` is an OAuth 2.0 refusal (RFC 6749 §5.2).
//! - Orders: one item per order; `orderBaseInfo.status` 10 待付款, 30 已付款, 40 已发货,
//!   50 已收货, 70 交易成功, 80 交易关闭; amounts in fen (`totalFee` = what the buyer paid),
//!   times in ms; `orderAddress` carries `encrypted*` ciphertexts with `desensitise*` masks, or a
//!   privacy number (`17012345678-1234`) in `mobile`; `orderRefundList` non-empty = refund asked.
//! - `endTime` is inclusive: a window's last second is sent as `end_ms + 999`.
//!
//! Revealing a receiver's phone: `open.order.decrypt.batch` (parameters in the query, as the
//! listing's) with the order's
//! `encryptedMobile`, fulfilment only ([`decrypt`]).

pub mod decrypt;
mod parse;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, Utc};
use leadgen_domain::PlatformType;
use serde_json::{Value, json};

use crate::client::{
    AppCredentials, Listing, OrderPage, PageCursor, PlatformClient, PlatformError, TokenSet,
    check_purpose, url_with_query,
};
use crate::registry::Transport;
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact};
use crate::sign::{Params, SignMethod, kuaishou_sign};
use crate::window::{TimeWindow, range_history, split};

pub use parse::{NO_MORE, parse_api_error, parse_cursor_page, parse_order, parse_token_response};

pub const CURSOR_LIST: &str = "open.order.cursor.list";
/// `pageSize` of each page (the platform's maximum).
pub const PAGE_SIZE: u32 = 50;
/// `queryType=1` serves 90 days; one safety day less.
pub const HISTORY_DAYS: i64 = 89;
/// The `authInfo.extra` key of the signing secret.
pub const SIGN_SECRET: &str = "signSecret";

/// The Kuaishou adapter.
pub struct KuaishouClient {
    transport: Transport,
    sign_method: SignMethod,
}

impl KuaishouClient {
    pub fn new(transport: Transport) -> Self {
        KuaishouClient {
            transport,
            sign_method: SignMethod::Md5,
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

    /// The refresh endpoint: the token URL with its last path segment replaced.
    pub fn refresh_url(&self) -> String {
        let token_url = &self.transport.endpoint.token_url;
        match token_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/refresh_token"),
            None => format!("{token_url}/refresh_token"),
        }
    }

    /// Every parameter of a call, signed with the app's signSecret, exactly as sent.
    pub fn signed_params(
        &self,
        app: &AppCredentials,
        access_token: &str,
        method: &str,
        param: &Value,
        now: DateTime<Utc>,
    ) -> Result<Params, PlatformError> {
        let secret = app.extra(SIGN_SECRET).ok_or_else(|| {
            PlatformError::InvalidRequest(
                "快手接口需用 signSecret 签名，该授权的 authInfo 中没有 signSecret，请重新授权并填写".into(),
            )
        })?;
        let mut params = Params::new();
        params.insert("appkey".into(), app.app_key.clone());
        params.insert("method".into(), method.into());
        params.insert("version".into(), "1".into());
        params.insert("timestamp".into(), now.timestamp_millis().to_string());
        params.insert("access_token".into(), access_token.into());
        params.insert(
            "signMethod".into(),
            self.sign_method.wire_name(PlatformType::Kuaishou).into(),
        );
        params.insert("param".into(), param.to_string());
        params.retain(|_, v| !v.is_empty());
        let sign = kuaishou_sign(self.sign_method, secret, &params);
        params.insert("sign".into(), sign);
        Ok(params)
    }
}

#[async_trait::async_trait]
impl PlatformClient for KuaishouClient {
    fn platform(&self) -> PlatformType {
        PlatformType::Kuaishou
    }

    /// `signSecret`: the app's signing secret, apart from its OAuth secret.
    fn auth_info_keys(&self) -> &'static [&'static str] {
        &[SIGN_SECRET]
    }

    /// Every call is signed with it.
    fn required_auth_info_keys(&self) -> &'static [&'static str] {
        &[SIGN_SECRET]
    }

    fn authorize_url(&self, app: &AppCredentials, redirect_uri: &str, state: &str) -> String {
        url_with_query(
            &self.transport.endpoint.authorize_url,
            &[
                ("app_id", app.app_key.as_str()),
                ("redirect_uri", redirect_uri),
                ("scope", "merchant_order"),
                ("response_type", "code"),
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
        let query = [
            ("app_id", app.app_key.as_str()),
            ("app_secret", app.app_secret.as_str()),
            ("grant_type", "code"),
            ("code", code),
        ];
        self.transport.limiter.wait(&app.app_key).await?;
        let request = self
            .transport
            .http
            .get(&self.transport.endpoint.token_url)
            .query(&query);
        token_answer(request).await
    }

    /// `POST oauth2/refresh_token` with its parameters (README §5: `grant_type=refresh_token,
    /// app_id, app_secret, refresh_token`) in the form body, where OAuth 2.0 puts a POST's
    /// (RFC 6749 §6). The README says not where they go. Sent once, in one place: a gateway
    /// that merges query and form would read a parameter sent in both as two values (Spring
    /// binds them as `a,a`), and the secret stays out of URLs that proxies log.
    async fn refresh(
        &self,
        app: &AppCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, PlatformError> {
        let params = [
            ("grant_type", "refresh_token"),
            ("app_id", app.app_key.as_str()),
            ("app_secret", app.app_secret.as_str()),
            ("refresh_token", refresh_token),
        ];
        self.transport.limiter.wait(&app.app_key).await?;
        let request = self.transport.http.post(self.refresh_url()).form(&params);
        token_answer(request).await
    }

    fn windows(&self, range: TimeWindow, now: DateTime<Utc>, listing: Listing) -> Vec<TimeWindow> {
        let history = match listing {
            Listing::Created => Duration::days(HISTORY_DAYS),
            Listing::Modified => range_history(range, now),
        };
        split(range, Duration::days(1), history, now)
    }

    async fn list_orders(
        &self,
        app: &AppCredentials,
        access_token: &str,
        window: &TimeWindow,
        listing: Listing,
        cursor: Option<&PageCursor>,
    ) -> Result<OrderPage, PlatformError> {
        let cursor = match cursor {
            None => "",
            Some(PageCursor::Token(t)) => t.as_str(),
            Some(PageCursor::Number(n)) => {
                return Err(PlatformError::InvalidRequest(format!(
                    "快手按游标翻页，不接受页码 {n}"
                )));
            }
        };
        let param = cursor_param(window, listing, cursor);
        // Signed once the rate limit admits the call: its timestamp is when it leaves.
        self.transport.limiter.wait(&app.app_key).await?;
        let params = self.signed_params(app, access_token, CURSOR_LIST, &param, Utc::now())?;
        let request = self
            .transport
            .http
            .get(self.method_url(CURSOR_LIST))
            .query(&params);
        let json =
            crate::registry::read_json(crate::registry::send(request).await, &parse_api_error)
                .await?;
        if let Some(error) = parse_api_error(&json) {
            return Err(error);
        }
        let (orders, next) = parse_cursor_page(&json)?;
        // `"nomore"` ends the window. No cursor at all, or an empty one (the start again), is
        // not how the platform documents its last page: an answer we cannot trust to end the
        // window (retried), never read as its end; nor one that would not move the walk forward.
        let next = match next.as_deref() {
            Some(NO_MORE) => None,
            None | Some("") => {
                return Err(PlatformError::Malformed(
                    "响应缺少 cursor（最后一页应为 \"nomore\"）".into(),
                ));
            }
            Some(_) => next,
        };
        if next.as_deref() == Some(cursor) {
            return Err(PlatformError::Malformed(format!(
                "游标未前进，仍为 `{cursor}`"
            )));
        }
        Ok(OrderPage {
            orders,
            next: next.map(PageCursor::Token),
            total: None,
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
        check_purpose(PlatformType::Kuaishou, decrypt::PURPOSES, request.purpose)?;
        let param = decrypt::decrypt_param(request);
        self.transport.limiter.wait(&app.app_key).await?;
        let params = self.signed_params(
            app,
            access_token,
            decrypt::DECRYPT_BATCH,
            &param,
            Utc::now(),
        )?;
        // As every Kuaishou call is documented (README §5): the parameters in the query.
        let request_builder = self
            .transport
            .http
            .get(self.method_url(decrypt::DECRYPT_BATCH))
            .query(&params);
        let json = crate::registry::read_json(
            crate::registry::send(request_builder).await,
            &decrypt::parse_decrypt_error,
        )
        .await?;
        if let Some(error) = decrypt::parse_decrypt_error(&json) {
            return Err(error);
        }
        decrypt::parse_decrypt_response(&json, request)
    }
}

/// Sends a token request and reads its answer: the tokens, or the error it carries (read so
/// too on a 401 or 403, [`crate::registry::read_json`]).
async fn token_answer(request: reqwest::RequestBuilder) -> Result<TokenSet, PlatformError> {
    let json = crate::registry::read_json(crate::registry::send(request).await, &|json| {
        parse_token_response(json, Utc::now()).err()
    })
    .await?;
    parse_token_response(&json, Utc::now())
}

/// The `open.order.cursor.list` parameter for `window` from `cursor`, in the SDK's field
/// order. `endTime` covers the window's whole last second.
pub fn cursor_param(window: &TimeWindow, listing: Listing, cursor: &str) -> Value {
    let query_type = match listing {
        Listing::Created => 1,
        Listing::Modified => 2,
    };
    json!({
        "orderViewStatus": 1,
        "pageSize": PAGE_SIZE,
        "sort": 1,
        "queryType": query_type,
        "beginTime": window.start.timestamp_millis(),
        "endTime": window.end.timestamp_millis() + 999,
        "cpsType": 0,
        "cursor": cursor,
    })
}
