//! Taobao/Tmall Open Platform (TOP): OAuth at `oauth.taobao.com`, signed calls to
//! `router/rest`, orders by creation time with `taobao.trades.sold.get` and by modification with
//! `taobao.trades.sold.increment.get` (windows of at most a day, pages walked from the last
//! backwards as TOP asks, so that orders modified during the walk are not skipped).
//!
//! - Timestamps are `yyyy-MM-dd HH:mm:ss` in Beijing time; so are order times, converted to UTC.
//! - Sign method `md5` by default (all three methods are implemented in [`crate::sign`]).
//! - `type` is always sent with every trade type: without it TOP returns only five types and
//!   orders go missing.
//! - Windows of one day (the platform serves three months of history); pages of 100 with
//!   `use_has_next=false`: the walk counts what it read against the total (two trades of one
//!   second can trade places between two pages' calls, one read twice and the other never).
//! - Revealing a receiver's phone: `taobao.top.oaid.decrypt` with the trade's `oaid` and the
//!   purpose's scene ([`decrypt`]).

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
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact};
use crate::sign::{SignMethod, sorted_concat_sign};
use crate::window::{TimeWindow, split};

pub use parse::{
    TradesPage, ban_is_app_wide, parse_error_response, parse_token_response, parse_trade,
    parse_trades, parse_trades_page,
};

/// Fields requested from `taobao.trades.sold.get` (receiver name, mobile, address and created
/// together make TOP return `oaid`).
pub const TRADE_FIELDS: &str = "tid,tid_str,status,type,created,pay_time,modified,payment,total_fee,post_fee,\
discount_fee,buyer_nick,buyer_open_uid,receiver_name,receiver_mobile,receiver_phone,receiver_state,\
receiver_city,receiver_district,receiver_town,receiver_address,oaid,orders.oid,orders.title,orders.num,\
orders.price,orders.payment,orders.status,orders.sku_id,orders.outer_sku_id,orders.refund_status";

/// Every trade type, listed explicitly.
pub const TRADE_TYPES: &str = "fixed,auction,guarantee_trade,step,independent_simple_trade,\
independent_shop_trade,auto_delivery,ec,cod,game_equipment,shopex_trade,netcn_trade,external_trade,\
instant_trade,b2c_cod,hotel_trade,super_market_trade,super_market_cod_trade,taohua,waimai,\
o2o_offlinetrade,nopaid,eticket,tmall_i18n,insurance_plus,finance,pre_auth_type";

/// The increment API's window: at most a day, 30 minutes recommended (README §1.3).
pub const INCREMENT_WINDOW_MINUTES: i64 = 30;

pub const PAGE_SIZE: u32 = 100;
/// History TOP serves for `taobao.trades.sold.get`: three calendar months, which are 89 days at
/// the fewest (28 February to 28 May in a common year), less a safety day.
pub const HISTORY_DAYS: i64 = 88;

/// The Taobao adapter.
pub struct TaobaoClient {
    transport: Transport,
    sign_method: SignMethod,
}

impl TaobaoClient {
    pub fn new(transport: Transport) -> Self {
        TaobaoClient {
            transport,
            sign_method: SignMethod::Md5,
        }
    }

    /// The system parameters plus `business`, signed, exactly as sent.
    pub fn signed_params(
        &self,
        app: &AppCredentials,
        session: &str,
        method: &str,
        business: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> BTreeMap<String, String> {
        let mut params = business;
        params.insert("method".into(), method.into());
        params.insert("app_key".into(), app.app_key.clone());
        params.insert("session".into(), session.into());
        params.insert("timestamp".into(), format_beijing(now));
        params.insert("v".into(), "2.0".into());
        params.insert("format".into(), "json".into());
        params.insert(
            "sign_method".into(),
            self.sign_method.wire_name(PlatformType::Taobao).into(),
        );
        params.retain(|_, v| !v.is_empty());
        let sign = sorted_concat_sign(self.sign_method, &app.app_secret, &params);
        params.insert("sign".into(), sign);
        params
    }

    /// Calls `method` once its rate limit admits it, with `business` signed as it leaves.
    async fn call(
        &self,
        app: &AppCredentials,
        session: &str,
        method: &str,
        business: BTreeMap<String, String>,
        platform_error: fn(&serde_json::Value) -> Option<PlatformError>,
    ) -> Result<serde_json::Value, PlatformError> {
        self.transport
            .post_form(
                &app.app_key,
                method,
                || self.signed_params(app, session, method, business, Utc::now()),
                platform_error,
                ban_is_app_wide,
            )
            .await
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenSet, PlatformError> {
        let json = self
            .transport
            .json(
                self.transport
                    .http
                    .post(&self.transport.endpoint.token_url)
                    .form(form),
                &|json| parse_token_response(json, Utc::now()).err(),
            )
            .await?;
        parse_token_response(&json, Utc::now())
    }
}

#[async_trait::async_trait]
impl PlatformClient for TaobaoClient {
    fn platform(&self) -> PlatformType {
        PlatformType::Taobao
    }

    fn authorize_url(&self, app: &AppCredentials, redirect_uri: &str, state: &str) -> String {
        url_with_query(
            &self.transport.endpoint.authorize_url,
            &[
                ("response_type", "code"),
                ("client_id", &app.app_key),
                ("redirect_uri", redirect_uri),
                ("state", state),
                ("view", "web"),
            ],
        )
    }

    async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenSet, PlatformError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", &app.app_key),
            ("client_secret", &app.app_secret),
            ("redirect_uri", redirect_uri),
            ("view", "web"),
        ])
        .await
    }

    async fn refresh(
        &self,
        app: &AppCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, PlatformError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &app.app_key),
            ("client_secret", &app.app_secret),
        ])
        .await
    }

    fn windows(&self, range: TimeWindow, now: DateTime<Utc>, listing: Listing) -> Vec<TimeWindow> {
        match listing {
            Listing::Created => split(range, Duration::days(1), Duration::days(HISTORY_DAYS), now),
            // ≤ 1 day per call, 30 minutes recommended (README §1.3): the recommendation is
            // followed, since a short window shifts less while its pages are read. No history
            // limit is documented for the increment API; it is read no further back than
            // `sold.get` serves (the safe assumption: a shop paused for three months catches up
            // what it can, with a warning, rather than fail).
            Listing::Modified => split(
                range,
                Duration::minutes(INCREMENT_WINDOW_MINUTES),
                Duration::days(HISTORY_DAYS),
                now,
            ),
        }
    }

    async fn list_orders(
        &self,
        app: &AppCredentials,
        access_token: &str,
        window: &TimeWindow,
        listing: Listing,
        cursor: Option<&PageCursor>,
    ) -> Result<OrderPage, PlatformError> {
        let page_no = PageCursor::page_number(cursor, 1, PlatformType::Taobao)?;
        let (method, key, start, end) = match listing {
            Listing::Created => (
                "taobao.trades.sold.get",
                "trades_sold_get_response",
                "start_created",
                "end_created",
            ),
            Listing::Modified => (
                "taobao.trades.sold.increment.get",
                "trades_sold_increment_get_response",
                "start_modified",
                "end_modified",
            ),
        };
        let mut business = BTreeMap::new();
        business.insert("fields".to_owned(), TRADE_FIELDS.to_owned());
        business.insert(start.to_owned(), format_beijing(window.start));
        business.insert(end.to_owned(), format_beijing(window.end));
        business.insert("type".to_owned(), TRADE_TYPES.to_owned());
        business.insert("page_no".to_owned(), page_no.to_string());
        business.insert("page_size".to_owned(), PAGE_SIZE.to_string());
        // Said: the README gives no default. The backward walk by modification needs the total
        // `use_has_next=true` would drop, and the walk by creation counts what it read against it.
        business.insert("use_has_next".to_owned(), "false".to_owned());
        let json = self
            .call(app, access_token, method, business, parse_error_response)
            .await?;
        // By creation, an answer sending `has_next` instead of the total is read by it.
        let span = PageSpan::numbered(page_no, 1, PAGE_SIZE);
        let page = parse_trades(&json, key, listing == Listing::Created, span)?;
        let next = match listing {
            // A page that says more follow carries trades ([`parse_trades`]: an empty one is
            // `Malformed`), so the walk moves on and cannot be paged for ever on empty pages.
            Listing::Created => page.has_next.then(|| PageCursor::Number(page_no + 1)),
            Listing::Modified => {
                // The backward walk needs the total from its first call: an answer with orders
                // and none cannot say where the pages end, and ending the walk there would lose
                // orders silently. Later pages walk on from the cursor.
                let total = match page.total {
                    Some(total) => total,
                    None if page.orders.is_empty() || cursor.is_some() => 0,
                    None => {
                        return Err(PlatformError::Malformed(
                            "增量接口返回了订单但缺少 total_results".into(),
                        ));
                    }
                };
                PageCursor::backward_next(cursor, page_no, 1, total, PAGE_SIZE)
            }
        };
        Ok(OrderPage {
            orders: page.orders,
            next,
            total: page.total,
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
        check_purpose(PlatformType::Taobao, decrypt::PURPOSES, request.purpose)?;
        let json = self
            .call(
                app,
                access_token,
                decrypt::DECRYPT_METHOD,
                decrypt::decrypt_params(request),
                decrypt::parse_decrypt_error,
            )
            .await?;
        decrypt::parse_decrypt_response(&json, request)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::registry::Endpoint;

    /// Changes are listed in the increment API's recommended 30-minute windows, orders by
    /// creation in windows of a day.
    #[test]
    fn changes_are_listed_in_windows_of_thirty_minutes() {
        let client = TaobaoClient::new(
            Transport::new(Endpoint {
                api_url: "https://eco.taobao.com/router/rest".into(),
                authorize_url: "https://oauth.taobao.com/authorize".into(),
                token_url: "https://oauth.taobao.com/token".into(),
                qps: 10,
                timeout: std::time::Duration::from_secs(5),
            })
            .expect("transport"),
        );
        let now = Utc.with_ymd_and_hms(2024, 6, 30, 0, 0, 0).unwrap();
        // A day, both ends inclusive.
        let day = TimeWindow::new(now - Duration::days(1), now - Duration::seconds(1));
        let changes = client.windows(day, now, Listing::Modified);
        // 30 minutes less a second each, every one starting on the second the last ended.
        assert_eq!(changes.len(), 49);
        assert_eq!(changes.first().map(|w| w.start), Some(day.start));
        assert_eq!(changes.last().map(|w| w.end), Some(day.end));
        assert!(
            changes
                .iter()
                .all(|w| w.end - w.start < Duration::minutes(INCREMENT_WINDOW_MINUTES))
        );
        assert_eq!(client.windows(day, now, Listing::Created).len(), 1);
    }
}
