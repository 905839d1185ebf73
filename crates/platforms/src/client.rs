//! The platform-client trait and the values that cross it.

use std::fmt;

use chrono::{DateTime, Utc};
use leadgen_domain::{PlatformType, RawOrder};

pub use crate::error::{
    OAUTH_CLIENT_ERRORS, OAUTH_GRANT_REFUSALS, PlatformError, oauth_error, platform_said,
    platform_text, token_error,
};
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact};
use crate::window::TimeWindow;

/// A merchant's app credentials on a platform (`appKey`/`appSecret` of design 2.1), plus the
/// platform-specific values of `authInfo` (e.g. Kuaishou `signSecret`, Douyin `serviceId`).
#[derive(Clone, Default)]
pub struct AppCredentials {
    pub app_key: String,
    pub app_secret: String,
    pub extra: std::collections::BTreeMap<String, String>,
}

impl AppCredentials {
    pub fn new(app_key: impl Into<String>, app_secret: impl Into<String>) -> Self {
        AppCredentials {
            app_key: app_key.into(),
            app_secret: app_secret.into(),
            extra: Default::default(),
        }
    }

    /// A platform-specific value of `authInfo`, if given and not empty.
    pub fn extra(&self, key: &str) -> Option<&str> {
        self.extra
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Reads the sealed `authInfo` document (`{"appSecret": …, "extra": {…}}`).
    pub fn from_auth_info(app_key: &str, doc: &serde_json::Value) -> Self {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        AppCredentials {
            app_key: app_key.to_owned(),
            app_secret: doc
                .get("appSecret")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned(),
            extra: doc
                .get("extra")
                .and_then(|e| e.as_object())
                .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .unwrap_or_default(),
        }
    }
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_key", &self.app_key)
            .finish_non_exhaustive()
    }
}

/// Tokens granted by the platform, with the shop they belong to.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// When the refresh token stops working, if the platform says. After a refresh, `None`
    /// also means "the refresh token and its expiry did not change" (`Session`); a sink keeps
    /// what it stored then.
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub shop_id: Option<String>,
    pub shop_name: Option<String>,
}

impl TokenSet {
    /// Whether the answer says its refresh token cannot be used (none sent, and the refresh
    /// window already over: Taobao's `re_expires_in = 0`), rather than not resending one the
    /// platform keeps.
    pub fn refresh_unusable(&self, now: DateTime<Utc>) -> bool {
        self.refresh_token.is_none() && self.refresh_expires_at.is_some_and(|at| at <= now)
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_at", &self.expires_at)
            .field("shop_id", &self.shop_id)
            .finish_non_exhaustive()
    }
}

/// Where the next page starts: a page number or an opaque cursor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PageCursor {
    Number(u32),
    Token(String),
}

impl PageCursor {
    /// The page a numbered listing asks for: `first` without a cursor; a token cursor is a bug.
    pub fn page_number(
        cursor: Option<&PageCursor>,
        first: u32,
        platform: PlatformType,
    ) -> Result<u32, PlatformError> {
        match cursor {
            None => Ok(first),
            Some(PageCursor::Number(n)) => Ok(*n),
            Some(PageCursor::Token(t)) => Err(PlatformError::InvalidRequest(format!(
                "{platform} 按页码翻页，不接受游标 `{t}`"
            ))),
        }
    }
}

/// Where one page of a numbered listing sits: how many orders come before it, and how many a
/// page holds. What an answer's total says about this page is read from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpan {
    pub offset: u64,
    pub size: u64,
}

impl PageSpan {
    /// Page `page` of pages of `size`, the first page being `first` (0 or 1).
    pub fn numbered(page: u32, first: u32, size: u32) -> Self {
        PageSpan {
            offset: u64::from(page.saturating_sub(first)) * u64::from(size),
            size: u64::from(size),
        }
    }

    /// Whether a window of `total` orders has more after this page.
    pub fn followed(&self, total: u64) -> bool {
        self.offset.saturating_add(self.size) < total
    }

    /// Whether a page says another follows: its `has_next` flag as sent (a bool, a text or
    /// 1/0, `crate::json::flag`), else what its `total` says. `Ok(None)`: neither was sent (the
    /// caller decides what that means); an error when `has_next` was sent but is no flag.
    pub fn has_next(
        &self,
        body: &serde_json::Value,
        total: Option<u64>,
    ) -> Result<Option<bool>, PlatformError> {
        let sent = body.get("has_next").filter(|v| !v.is_null());
        match (crate::json::flag(sent), total) {
            (Some(has_next), _) => Ok(Some(has_next)),
            (None, Some(total)) => Ok(Some(self.followed(total))),
            (None, None) if sent.is_some() => {
                Err(PlatformError::Malformed("字段 has_next 不是布尔值".into()))
            }
            (None, None) => Ok(None),
        }
    }
}

/// Which of an order's times a listing selects by (a rule of the domain: which syncs list by
/// which).
pub use leadgen_domain::sync::Listing;

impl PageCursor {
    /// The next page of a **backward walk** over a numbered listing sorted by a key that changes
    /// while we read it (every by-modification listing): an order modified mid-walk leaves the
    /// window and pulls later items up one slot, so a forward walk skips them and a backward walk
    /// only reads some twice. The walk probes `first` (cursor `None`) for the total, then reads
    /// the last page down to `first` again. `page` is the page just read.
    pub fn backward_next(
        cursor: Option<&PageCursor>,
        page: u32,
        first: u32,
        total: u64,
        page_size: u32,
    ) -> Option<PageCursor> {
        match cursor {
            None => {
                let pages = total.div_ceil(u64::from(page_size.max(1)));
                let last = u64::from(first) + pages.saturating_sub(1);
                let last = u32::try_from(last).unwrap_or(u32::MAX);
                (last > first).then_some(PageCursor::Number(last))
            }
            Some(_) => (page > first).then(|| PageCursor::Number(page - 1)),
        }
    }
}

/// `base` with `pairs` appended as its query string, in order, values URL-encoded (consent URLs).
pub fn url_with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencoding::encode(v)))
        .collect();
    format!("{base}{sep}{}", query.join("&"))
}

/// One order as fetched: the original JSON, untouched, and its parse. Its `Debug` leaves the
/// JSON out (it carries whatever the platform sends in clear: names, phones, addresses).
#[derive(Clone)]
pub struct FetchedOrder {
    /// The platform's order id, when it could be read at all.
    pub order_id: Option<String>,
    pub raw: serde_json::Value,
    /// The neutral form, or why the order could not be parsed (kept and counted, not dropped).
    pub parsed: Result<RawOrder, String>,
}

impl fmt::Debug for FetchedOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchedOrder")
            .field("order_id", &self.order_id)
            .field("raw", &format_args!("<platform JSON>"))
            .field("parsed", &self.parsed)
            .finish()
    }
}

/// One page of orders.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<FetchedOrder>,
    /// `None` on the last page of the window.
    pub next: Option<PageCursor>,
    /// How many orders the window holds, as this answer says, where the platform says (numbered
    /// listings). A backward walk whose later answers say more than its probe did was joined by
    /// orders mid-walk (a change recorded late), and reads the window again.
    pub total: Option<u64>,
}

/// One platform's API, as the services use it.
#[async_trait::async_trait]
pub trait PlatformClient: Send + Sync {
    fn platform(&self) -> PlatformType;

    /// The `authInfo` keys this platform reads beside `appKey`, `appSecret` and `callbackUrl`
    /// (kept sealed in [`AppCredentials::extra`]); any other key is refused when an
    /// authorization is added.
    fn auth_info_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Those of [`Self::auth_info_keys`] every call needs: an authorization without one of them
    /// is refused when it is added (422), never left to fail its first sync.
    fn required_auth_info_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// The consent page URL the merchant's browser is sent to.
    fn authorize_url(&self, app: &AppCredentials, redirect_uri: &str, state: &str) -> String;

    /// Exchanges the code from the consent redirect for tokens.
    async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenSet, PlatformError>;

    /// Refreshes tokens.
    async fn refresh(
        &self,
        app: &AppCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, PlatformError>;

    /// Splits `range` into the windows one `listing` call accepts, in order; the start is
    /// clamped only where the platform documents how far back it serves.
    fn windows(&self, range: TimeWindow, now: DateTime<Utc>, listing: Listing) -> Vec<TimeWindow>;

    /// Lists the orders created (or, for [`Listing::Modified`], last modified) within `window`
    /// (both ends inclusive), one page. By-modification listings walk numbered pages backwards
    /// ([`PageCursor::backward_next`]).
    async fn list_orders(
        &self,
        app: &AppCredentials,
        access_token: &str,
        window: &TimeWindow,
        listing: Listing,
        cursor: Option<&PageCursor>,
    ) -> Result<OrderPage, PlatformError>;

    /// The purposes this platform permits revealing a contact for ([`crate::reveal`]).
    fn reveal_purposes(&self) -> &'static [RevealPurpose];

    /// Reveals the receiver's phone of one order through the platform's decrypt API, for
    /// `request.purpose` mapped to the platform's scene. A purpose the platform does not permit is
    /// [`PlatformError::PurposeNotPermitted`] without any call. The platform's refusals are typed:
    /// throttling [`PlatformError::Throttled`], an expired token
    /// [`PlatformError::SessionExpired`], a permission or scene not granted
    /// [`PlatformError::DecryptNotPermitted`], the decrypt quota
    /// [`PlatformError::QuotaExhausted`], this item not decryptable
    /// [`PlatformError::DecryptFailed`]. The number is never logged.
    async fn decrypt_contact(
        &self,
        app: &AppCredentials,
        access_token: &str,
        request: &DecryptRequest,
    ) -> Result<RevealedContact, PlatformError>;
}

/// [`PlatformError::PurposeNotPermitted`] unless `purpose` is one of `permitted`.
pub fn check_purpose(
    platform: PlatformType,
    permitted: &[RevealPurpose],
    purpose: RevealPurpose,
) -> Result<(), PlatformError> {
    if permitted.contains(&purpose) {
        Ok(())
    } else {
        Err(PlatformError::PurposeNotPermitted { platform, purpose })
    }
}

#[cfg(test)]
mod tests;
