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

    /// Whether a window of `total` orders has some on this page.
    pub fn holds_orders(&self, total: u64) -> bool {
        total > self.offset
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
    /// How many orders the window holds, as this answer says, where the platform says (numbered
    /// listings). A backward walk whose later answers say more than its probe did was joined by
    /// orders mid-walk (a change recorded late), and reads the window again.
    pub total: Option<u64>,
}

/// A platform call's failure, typed so callers can decide what to do. Its text is Chinese, with
/// the platform's own code and message kept as sent: it reaches merchants in sync records and
/// shop statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// Over the platform's quota; retry after the stated time when given. `detail` is the
    /// platform's own code (+ `sub_code`) and message, verbatim ([`platform_text`]); for an
    /// HTTP 429 without a body the platform reads, its status line (`HTTP 429 Too Many
    /// Requests`).
    #[error("电商平台限流{}", platform_said(detail))]
    Throttled {
        retry_after: Option<Duration>,
        detail: String,
    },
    /// The access token is expired or invalid: refresh once, else re-authorize. `detail` is the
    /// platform's own code (+ `sub_code`) and message, verbatim ([`platform_text`]).
    #[error("电商平台会话已失效或过期{}", platform_said(detail))]
    SessionExpired { detail: String },
    /// The OAuth code or refresh token was refused: the merchant's grant is dead or was
    /// denied, and only authorizing again mends it. A refusal that blames our app or request
    /// (a wrong app secret) is [`PlatformError::InvalidRequest`] instead.
    #[error("电商平台拒绝授权：{0}")]
    AuthRefused(String),
    /// Bad signature, app key or parameters: our bug or bad credentials; never retried.
    #[error("电商平台拒绝请求：{0}")]
    InvalidRequest(String),
    /// The platform answered 5xx, timed out or said it is unavailable.
    #[error("电商平台暂不可用：{0}")]
    Unavailable(String),
    /// The platform answered 5xx and said, in `Retry-After`, how long it will be unavailable:
    /// [`PlatformError::Unavailable`] with that wait, which the retries honour like a stated ban
    /// (and give up on past their stated-wait budget, [`crate::resilience::RetryPolicy`]).
    /// Retried sooner, every try would fall inside the wait the server asked for. A variant of
    /// its own, not a field of `Unavailable`, so callers matching `Unavailable(detail)` keep
    /// compiling.
    #[error("电商平台暂不可用（要求 {} 秒后再调用）：{detail}", retry_after.as_secs().max(1))]
    UnavailableFor {
        retry_after: Duration,
        detail: String,
    },
    /// The shared rate gate (the per-app quota kept across replicas, in the database) could not
    /// give the call a slot, so it was not made: retried like a platform that is unavailable.
    /// The cause (a database error) is logged where it happened and kept out of the text, which
    /// reaches merchants: the platform said nothing.
    #[error("限流协调（数据库）暂不可用，本次未调用电商平台，稍后将重试")]
    GateUnavailable(String),
    /// The platform answered something we cannot read.
    #[error("电商平台返回无法解析的内容：{0}")]
    Malformed(String),
    /// An error code the adapter does not know (undocumented, or new). The safe default: retried
    /// with bounded backoff, then once after a token refresh, before it fails; `code` and
    /// `message` are the platform's own and go into the sync record.
    #[error("电商平台返回错误码 {code}：{message}")]
    Unknown { code: String, message: String },
    /// The platform's rules do not permit revealing a contact for this purpose; decided by the
    /// adapter before any call, and never sent as another scene.
    #[error("{platform} 不允许以该用途（{purpose}）解密买家联系方式")]
    PurposeNotPermitted {
        platform: PlatformType,
        purpose: RevealPurpose,
    },
    /// The platform refused to decrypt for this app or shop: the decrypt permission or the scene
    /// was not granted. `code` and `message` are the platform's own.
    #[error("电商平台拒绝解密（错误码 {code}）：{message}")]
    DecryptNotPermitted { code: String, message: String },
    /// The platform's decrypt quota is used up; it renews after `retry_after` when the platform
    /// says (usually at the next day). Not retried: waiting is the caller's decision.
    #[error("电商平台解密额度已用完（错误码 {code}）：{message}")]
    QuotaExhausted {
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The platform could not decrypt this item: the order or the ciphertext is unknown, not this
    /// shop's, or no longer the order's receiver. `code` and `message` are the platform's own.
    #[error("电商平台无法解密该联系方式（错误码 {code}）：{message}")]
    DecryptFailed { code: String, message: String },
}

impl PlatformError {
    /// The call's `outcome` and the platform's own `code` (empty when none), as metrics label
    /// them (`docs/metrics.md`).
    pub fn metric_labels(&self) -> (&'static str, String) {
        match self {
            PlatformError::Throttled { .. } => ("throttled", String::new()),
            PlatformError::SessionExpired { .. } => ("token_expired", String::new()),
            PlatformError::AuthRefused(_) => ("auth_refused", String::new()),
            PlatformError::InvalidRequest(_) => ("invalid_request", String::new()),
            PlatformError::Unavailable(_) | PlatformError::UnavailableFor { .. } => {
                ("unavailable", String::new())
            }
            PlatformError::GateUnavailable(_) => ("gate_unavailable", String::new()),
            PlatformError::Malformed(_) => ("malformed", String::new()),
            PlatformError::Unknown { code, .. } => ("unknown", code.clone()),
            PlatformError::PurposeNotPermitted { .. } => ("purpose_not_permitted", String::new()),
            PlatformError::DecryptNotPermitted { code, .. } => ("decrypt_refused", code.clone()),
            PlatformError::QuotaExhausted { code, .. } => ("quota_exhausted", code.clone()),
            PlatformError::DecryptFailed { code, .. } => ("decrypt_failed", code.clone()),
        }
    }

    /// The platform's own code and message this error carries, as sent (empty when none).
    pub fn platform_detail(&self) -> String {
        match self {
            PlatformError::Throttled { detail, .. }
            | PlatformError::SessionExpired { detail }
            | PlatformError::AuthRefused(detail)
            | PlatformError::InvalidRequest(detail)
            | PlatformError::Unavailable(detail)
            | PlatformError::UnavailableFor { detail, .. }
            | PlatformError::Malformed(detail) => detail.clone(),
            // Our own failure: the platform said nothing.
            PlatformError::GateUnavailable(_) => String::new(),
            PlatformError::Unknown { code, message }
            | PlatformError::DecryptNotPermitted { code, message }
            | PlatformError::QuotaExhausted { code, message, .. }
            | PlatformError::DecryptFailed { code, message } => platform_text(&[code, message]),
            PlatformError::PurposeNotPermitted { .. } => String::new(),
        }
    }

    /// Whether waiting and retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PlatformError::Throttled { .. }
                | PlatformError::Unavailable(_)
                | PlatformError::UnavailableFor { .. }
                | PlatformError::GateUnavailable(_)
                | PlatformError::Malformed(_)
                | PlatformError::Unknown { .. }
        )
    }

    /// The wait the platform asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PlatformError::Throttled { retry_after, .. }
            | PlatformError::QuotaExhausted { retry_after, .. } => *retry_after,
            PlatformError::UnavailableFor { retry_after, .. } => Some(*retry_after),
            PlatformError::SessionExpired { .. }
            | PlatformError::AuthRefused(_)
            | PlatformError::InvalidRequest(_)
            | PlatformError::Unavailable(_)
            | PlatformError::GateUnavailable(_)
            | PlatformError::Malformed(_)
            | PlatformError::Unknown { .. }
            | PlatformError::PurposeNotPermitted { .. }
            | PlatformError::DecryptNotPermitted { .. }
            | PlatformError::DecryptFailed { .. } => None,
        }
    }
}

/// The token endpoint's errors (RFC 6749 §4.1.2.1, §5.2) that end the merchant's grant: the code
/// or refresh token is dead (`invalid_grant`), or the merchant refused (`access_denied`). Only
/// these are [`PlatformError::AuthRefused`], which a session reports as dead (the merchant must
/// authorize again).
pub const OAUTH_GRANT_REFUSALS: &[&str] = &["invalid_grant", "access_denied"];

/// The token endpoint's errors (RFC 6749 §5.2) that blame the request or the app, not the
/// merchant's grant: a wrong app key or secret (`invalid_client`), an app not allowed the grant
/// type (`unauthorized_client`), or a request we built wrong. Re-authorizing every shop would
/// not mend them, so they are [`PlatformError::InvalidRequest`] (a session reports the
/// platform's error, and leaves the shops as they are).
pub const OAUTH_CLIENT_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// A token endpoint's OAuth 2.0 `error` as a typed error, `said` being the platform's other
/// words (its description, result code…): `"{error}: {said}"`, the OAuth code first so the
/// consent callback can explain it to the merchant. `None` for an error OAuth does not define.
pub fn oauth_error(error: &str, said: &str) -> Option<PlatformError> {
    let text = || {
        if said.trim().is_empty() {
            error.to_owned()
        } else {
            format!("{error}: {}", said.trim())
        }
    };
    if OAUTH_GRANT_REFUSALS.contains(&error) {
        Some(PlatformError::AuthRefused(text()))
    } else if OAUTH_CLIENT_ERRORS.contains(&error) {
        Some(PlatformError::InvalidRequest(text()))
    } else {
        None
    }
}

/// What a token endpoint answered instead of tokens, as a typed error keeping the platform's
/// words; `None` when the body carries no error (success-shaped: without an `access_token` that
/// one is `Malformed`, the only case that is). `has_token`: the body carries an `access_token`.
///
/// - An OAuth 2.0 `error` (with `error_description`): a dead or denied grant is refused, a
///   client-configuration error is ours to mend ([`oauth_error`]); any other is
///   [`PlatformError::Unknown`] with its name and text. An `error` object is unknown, its text kept.
/// - An `error_response` envelope: `envelope` reads it by the platform's own code table. A
///   session error there ([`PlatformError::SessionExpired`]) is documented for an API call's
///   access token, not for the token endpoint (which is sent none): unknown, so the shop is not
///   declared dead on a guess. An envelope the platform's table does not read is unknown.
/// - Without a token, a body that says a `code`, `error_code`, `msg`, `sub_msg`… is unknown with
///   that text, never `Malformed` (retried, it would resend the same refresh token).
pub fn token_error(
    json: &serde_json::Value,
    has_token: bool,
    envelope: &dyn Fn(&serde_json::Value) -> Option<PlatformError>,
) -> Option<PlatformError> {
    use serde_json::Value;
    let said = |v: &Value, keys: &[&str]| {
        let parts: Vec<String> = keys.iter().filter_map(|k| text_of(v.get(*k))).collect();
        platform_text(&parts.iter().map(String::as_str).collect::<Vec<_>>())
    };
    const WORDS: &[&str] = &[
        "error_description",
        "msg",
        "message",
        "error_msg",
        "sub_msg",
        "zh_desc",
        "en_desc",
    ];
    match json.get("error") {
        Some(Value::String(error)) if !error.trim().is_empty() => {
            let error = error.trim();
            let description = said(json, WORDS);
            return Some(oauth_error(error, &description).unwrap_or_else(|| {
                PlatformError::Unknown {
                    code: error.to_owned(),
                    message: description,
                }
            }));
        }
        Some(object @ Value::Object(_)) => {
            return Some(PlatformError::Unknown {
                code: code_of(object),
                message: said(
                    object,
                    &[
                        "error",
                        "description",
                        "error_description",
                        "msg",
                        "message",
                    ],
                ),
            });
        }
        _ => {}
    }
    if let Some(e) = json.get("error_response").filter(|e| !e.is_null()) {
        let unknown = || PlatformError::Unknown {
            code: code_of(e),
            message: said(e, WORDS),
        };
        return Some(match envelope(json) {
            Some(PlatformError::SessionExpired { .. }) | None => unknown(),
            Some(error) => error,
        });
    }
    if has_token {
        return None;
    }
    let code = code_of(json);
    let message = said(json, WORDS);
    let says_something = !message.is_empty() || !matches!(code.as_str(), "" | "0");
    says_something.then_some(PlatformError::Unknown { code, message })
}

/// A value as text: a non-empty string (trimmed) or a number.
fn text_of(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An error's `code` (or `error_code`), with its `sub_code` when it has one: `27/invalid-sessionkey`.
fn code_of(e: &serde_json::Value) -> String {
    let code = text_of(e.get("code")).or_else(|| text_of(e.get("error_code")));
    match (code, text_of(e.get("sub_code"))) {
        (Some(code), Some(sub)) => format!("{code}/{sub}"),
        (Some(code), None) => code,
        (None, _) => String::new(),
    }
}

/// The platform's own words as an error carries them: the non-empty `parts` (code, `sub_code`,
/// message, `sub_msg`…) in order, each as sent (trimmed), separated by single spaces.
pub fn platform_text(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `（平台返回：…）` after a Chinese sentence, or nothing when the platform said nothing.
pub fn platform_said(detail: &str) -> String {
    if detail.trim().is_empty() {
        String::new()
    } else {
        format!("（平台返回：{}）", detail.trim())
    }
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
mod tests {
    use super::*;

    /// Every page a backward walk reads, from the probe on.
    fn walk(first: u32, total: u64, size: u32) -> Vec<u32> {
        let mut read = vec![first];
        let mut next = PageCursor::backward_next(None, first, first, total, size);
        while let Some(PageCursor::Number(page)) = next {
            read.push(page);
            next = PageCursor::backward_next(
                Some(&PageCursor::Number(page)),
                page,
                first,
                total,
                size,
            );
        }
        read
    }

    #[test]
    fn a_backward_walk_probes_then_reads_the_last_page_down_to_the_first() {
        assert_eq!(walk(1, 0, 100), vec![1]);
        assert_eq!(walk(1, 100, 100), vec![1]);
        assert_eq!(walk(1, 101, 100), vec![1, 2, 1]);
        assert_eq!(walk(1, 350, 100), vec![1, 4, 3, 2, 1]);
        // Douyin pages from 0.
        assert_eq!(walk(0, 250, 100), vec![0, 2, 1, 0]);
    }

    #[test]
    fn only_a_dead_or_denied_grant_is_an_oauth_refusal() {
        for error in ["invalid_grant", "access_denied"] {
            assert_eq!(
                oauth_error(error, " code expired "),
                Some(PlatformError::AuthRefused(format!("{error}: code expired")))
            );
        }
        // Our app's or request's fault: re-authorizing the shops would not mend it.
        for error in OAUTH_CLIENT_ERRORS {
            assert_eq!(
                oauth_error(error, "x"),
                Some(PlatformError::InvalidRequest(format!("{error}: x"))),
                "{error}"
            );
        }
        assert_eq!(
            oauth_error("invalid_client", ""),
            Some(PlatformError::InvalidRequest("invalid_client".into()))
        );
        assert_eq!(oauth_error("server_busy", "稍后再试"), None);
    }

    #[test]
    fn a_token_answer_carrying_an_error_keeps_the_platforms_words() {
        use serde_json::json;
        let none = |_: &serde_json::Value| None;
        assert_eq!(
            token_error(
                &json!({"error": "invalid_grant", "error_description": "dead"}),
                false,
                &none
            ),
            Some(PlatformError::AuthRefused("invalid_grant: dead".into()))
        );
        assert_eq!(
            token_error(&json!({"error": "invalid_client"}), false, &none),
            Some(PlatformError::InvalidRequest("invalid_client".into()))
        );
        assert_eq!(
            token_error(&json!({"error": "slow_down", "msg": "稍后"}), true, &none),
            Some(PlatformError::Unknown {
                code: "slow_down".into(),
                message: "稍后".into()
            })
        );
        assert_eq!(
            token_error(&json!({"error": {"code": 7, "message": "m"}}), false, &none),
            Some(PlatformError::Unknown {
                code: "7".into(),
                message: "m".into()
            })
        );
        // The envelope by the platform's table; a session error there, or none read, is unknown.
        let envelope =
            json!({"error_response": {"code": 27, "sub_code": "s", "msg": "Invalid session"}});
        let session = |_: &serde_json::Value| {
            Some(PlatformError::SessionExpired {
                detail: "27".into(),
            })
        };
        for classify in [
            &session as &dyn Fn(&serde_json::Value) -> Option<PlatformError>,
            &none,
        ] {
            assert_eq!(
                token_error(&envelope, false, classify),
                Some(PlatformError::Unknown {
                    code: "27/s".into(),
                    message: "Invalid session".into()
                })
            );
        }
        let throttled = |_: &serde_json::Value| {
            Some(PlatformError::Throttled {
                retry_after: None,
                detail: "7".into(),
            })
        };
        assert!(matches!(
            token_error(&envelope, false, &throttled),
            Some(PlatformError::Throttled { .. })
        ));
        // Bare words without a token: unknown. With a token, or saying nothing: no error.
        assert_eq!(
            token_error(
                &json!({"code": 15, "msg": "m", "sub_msg": "s"}),
                false,
                &none
            ),
            Some(PlatformError::Unknown {
                code: "15".into(),
                message: "m s".into()
            })
        );
        assert_eq!(
            token_error(&json!({"code": 15, "msg": "m"}), true, &none),
            None
        );
        assert_eq!(
            token_error(&json!({"code": 0, "expires_in": 1}), false, &none),
            None
        );
        assert_eq!(token_error(&json!({"error": ""}), false, &none), None);
    }

    #[test]
    fn a_page_span_says_what_a_total_leaves_for_it() {
        let third = PageSpan::numbered(3, 1, 100);
        assert_eq!(
            third,
            PageSpan {
                offset: 200,
                size: 100
            }
        );
        assert!(!third.holds_orders(200) && third.holds_orders(201));
        assert!(!third.followed(300) && third.followed(301));
        assert_eq!(PageSpan::numbered(0, 0, 100).offset, 0);
        assert_eq!(PageSpan::numbered(2, 0, 100).offset, 200);
    }
}
