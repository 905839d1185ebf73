//! The platform-client trait and the values that cross it.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use leadgen_domain::{PlatformType, RawOrder};

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
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub shop_id: Option<String>,
    pub shop_name: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
                "{platform} pages by number, not `{t}`"
            ))),
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

/// One order as fetched: the original JSON, untouched, and its parse.
#[derive(Debug, Clone)]
pub struct FetchedOrder {
    /// The platform's order id, when it could be read at all.
    pub order_id: Option<String>,
    pub raw: serde_json::Value,
    /// The neutral form, or why the order could not be parsed (kept and counted, not dropped).
    pub parsed: Result<RawOrder, String>,
}

/// One page of orders.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<FetchedOrder>,
    /// `None` on the last page of the window.
    pub next: Option<PageCursor>,
}

/// A platform call's failure, typed so callers can decide what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// Over the platform's quota; retry after the stated time when given.
    #[error("throttled by the platform")]
    Throttled { retry_after: Option<Duration> },
    /// The access token is expired or invalid: refresh once, else re-authorize.
    #[error("the platform session is invalid or expired")]
    SessionExpired,
    /// The OAuth code or refresh token was refused.
    #[error("authorization refused: {0}")]
    AuthRefused(String),
    /// Bad signature, app key or parameters: our bug or bad credentials; never retried.
    #[error("the platform rejected the request: {0}")]
    InvalidRequest(String),
    /// The platform answered 5xx, timed out or said it is unavailable.
    #[error("the platform is unavailable: {0}")]
    Unavailable(String),
    /// The platform answered something we cannot read.
    #[error("malformed platform response: {0}")]
    Malformed(String),
    /// The platform's rules do not permit revealing a contact for this purpose; decided by the
    /// adapter before any call, and never sent as another scene.
    #[error("{platform} does not permit revealing a buyer's contact for {purpose}")]
    PurposeNotPermitted {
        platform: PlatformType,
        purpose: RevealPurpose,
    },
    /// The platform refused to decrypt for this app or shop: the decrypt permission or the scene
    /// was not granted. `code` and `message` are the platform's own.
    #[error("the platform refused to decrypt (code {code}): {message}")]
    DecryptNotPermitted { code: String, message: String },
    /// The platform's decrypt quota is used up; it renews after `retry_after` when the platform
    /// says (usually at the next day). Not retried: waiting is the caller's decision.
    #[error("the platform's decrypt quota is used up (code {code}): {message}")]
    QuotaExhausted {
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The platform could not decrypt this item: the order or the ciphertext is unknown, not this
    /// shop's, or no longer the order's receiver. `code` and `message` are the platform's own.
    #[error("the platform could not decrypt this contact (code {code}): {message}")]
    DecryptFailed { code: String, message: String },
}

impl PlatformError {
    /// Whether waiting and retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PlatformError::Throttled { .. }
                | PlatformError::Unavailable(_)
                | PlatformError::Malformed(_)
        )
    }

    /// The wait the platform asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PlatformError::Throttled { retry_after }
            | PlatformError::QuotaExhausted { retry_after, .. } => *retry_after,
            PlatformError::SessionExpired
            | PlatformError::AuthRefused(_)
            | PlatformError::InvalidRequest(_)
            | PlatformError::Unavailable(_)
            | PlatformError::Malformed(_)
            | PlatformError::PurposeNotPermitted { .. }
            | PlatformError::DecryptNotPermitted { .. }
            | PlatformError::DecryptFailed { .. } => None,
        }
    }
}

/// One platform's API, as the services use it.
#[async_trait::async_trait]
pub trait PlatformClient: Send + Sync {
    fn platform(&self) -> PlatformType;

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

    /// Splits `range` into the windows one listing call accepts, in order; the start is clamped
    /// to how far back the platform keeps history.
    fn windows(&self, range: TimeWindow, now: DateTime<Utc>) -> Vec<TimeWindow>;

    /// Lists the orders created within `window` (both ends inclusive), one page.
    async fn list_orders(
        &self,
        app: &AppCredentials,
        access_token: &str,
        window: &TimeWindow,
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
