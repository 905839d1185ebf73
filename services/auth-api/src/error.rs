//! auth-api's errors and their one mapping to the envelope.

use leadgen_http::{ApiError, FieldError, codes};

/// What a merchant can do when the platform did not exchange a consent's code
/// ([`AuthApiError::CodeExchange`]; also the record's `statusReason`, with the platform's words).
pub const CODE_EXCHANGE_UNFINISHED: &str =
    "授权码换取令牌未成功，可刷新回调页重试；若仍失败，请检查 appKey、appSecret 后重新发起授权";

/// Why a re-authorization approved by another seller is refused (the merchant reads it).
pub const SHOP_MISMATCH: &str = "重新授权时登录的店铺与该授权记录的店铺不一致（或电商平台未告知登录的店铺），请使用原店铺账号重新授权";

/// Why a consent for a shop another account has connected through the same app is refused.
pub const SHOP_CONNECTED_ELSEWHERE: &str = "该店铺已由另一个账号通过同一应用授权并连接，同一应用下一个店铺只能连接到一个账号；请先在原账号中解除该店铺的授权";

/// Why a consent completed in another browser than the one that asked is refused.
pub const FOREIGN_BROWSER: &str =
    "授权须在发起授权的同一浏览器中完成，本次授权已作废：请在添加授权的浏览器中重新发起授权";

/// What can go wrong in auth-api's use cases.
#[derive(Debug, thiserror::Error)]
pub enum AuthApiError {
    #[error("platform authorization not found")]
    PlatformNotFound,
    #[error("the platform authorization is not ACTIVE")]
    NotActive,
    #[error("a sync is already running for this platform")]
    SyncRunning,
    #[error("the shop is disabled")]
    ShopDisabled,
    #[error("sync record not found")]
    SyncNotFound,
    #[error("the sync task already ended")]
    SyncFinished,
    #[error("invalid request: {0:?}")]
    Invalid(Vec<FieldError>),
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A page past the records window, more records matching.
    #[error("the page lies beyond the records window")]
    PageBeyondWindow,
    #[error("platform {0} is not supported yet")]
    PlatformNotSupported(String),
    #[error("sync window invalid: {0}")]
    SyncWindow(String),
    #[error("OAuth state unknown, used or expired")]
    OAuthState,
    #[error("the platform refused the authorization: {0}")]
    OAuthExchange(String),
    /// The callback came from a browser without the consent's cookie (`routes::consent`).
    #[error("the consent was completed in another browser than the one that asked")]
    ForeignBrowser,
    /// A re-authorization approved by another seller than the shop's own, or answered without
    /// naming the shop.
    #[error("the re-authorization was approved for another shop")]
    ShopMismatch,
    /// Too many of the tenant's new authorizations wait for their consent; the oldest lapses
    /// after `retry_after`.
    #[error("too many authorizations wait for their consent")]
    TooManyPending { retry_after: std::time::Duration },
    /// The shop is connected by another tenant through the same app.
    #[error("the shop is connected by another account through the same app")]
    ShopConnectedElsewhere,
    #[error("the platform failed: {0}")]
    Platform(String),
    /// The platform failed to exchange a consent's code, or answered what it documents nowhere
    /// (a wrong app secret, on JD or PDD): the consent may be tried again, and the answer says
    /// what the merchant can do ([`CODE_EXCHANGE_UNFINISHED`]).
    #[error("the platform did not exchange the authorization code: {0}")]
    CodeExchange(String),
    /// The database cannot serve the request now (no connection free in time, or it does not
    /// answer): 503, try again.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AuthApiError {
    /// The envelope this error answers with (the one mapping; nothing logged).
    fn to_api(&self) -> ApiError {
        match self {
            AuthApiError::PlatformNotFound => ApiError::not_found("平台授权"),
            AuthApiError::NotActive => ApiError::business(codes::PLATFORM_NOT_ACTIVE),
            AuthApiError::SyncRunning => ApiError::business(codes::SYNC_ALREADY_RUNNING),
            AuthApiError::SyncNotFound => ApiError::not_found("同步记录"),
            AuthApiError::ShopDisabled => ApiError::business(codes::SHOP_DISABLED),
            AuthApiError::SyncFinished => ApiError::business(codes::SYNC_ALREADY_FINISHED),
            AuthApiError::Invalid(errors) => ApiError::validation(errors.clone()),
            AuthApiError::PageBeyondWindow => leadgen_http::paging::BeyondWindow.into(),
            AuthApiError::BadRequest(message) => ApiError::bad_request(message.clone()),
            AuthApiError::PlatformNotSupported(p) => ApiError::business_with(
                codes::PLATFORM_NOT_SUPPORTED,
                format!("暂不支持该电商平台：{p}"),
            ),
            AuthApiError::SyncWindow(message) => {
                ApiError::business_with(codes::SYNC_WINDOW_INVALID, message.clone())
            }
            AuthApiError::OAuthState => ApiError::business(codes::OAUTH_STATE_INVALID),
            // What the refusal means when the platform named an OAuth error; its own words are
            // for the operation log, not for whoever holds the callback link.
            AuthApiError::OAuthExchange(cause) => match refusal_meaning(cause) {
                Some(meaning) => ApiError::business_with(codes::OAUTH_EXCHANGE_FAILED, meaning),
                None => ApiError::business(codes::OAUTH_EXCHANGE_FAILED),
            },
            AuthApiError::ForeignBrowser => {
                ApiError::business_with(codes::OAUTH_STATE_INVALID, FOREIGN_BROWSER)
            }
            AuthApiError::ShopMismatch => {
                ApiError::business_with(codes::OAUTH_EXCHANGE_FAILED, SHOP_MISMATCH)
            }
            AuthApiError::ShopConnectedElsewhere => {
                ApiError::business_with(codes::OAUTH_EXCHANGE_FAILED, SHOP_CONNECTED_ELSEWHERE)
            }
            AuthApiError::TooManyPending { retry_after } => {
                ApiError::business(codes::PENDING_AUTH_LIMIT).with_retry_after(*retry_after)
            }
            AuthApiError::Platform(_) => ApiError::business(codes::PLATFORM_API_FAILED),
            AuthApiError::CodeExchange(_) => {
                ApiError::business_with(codes::PLATFORM_API_FAILED, CODE_EXCHANGE_UNFINISHED)
            }
            AuthApiError::Unavailable(cause) => ApiError::unavailable(cause),
            AuthApiError::Unexpected(cause) => ApiError::internal(format!("{cause:#}")),
        }
    }

    /// Whether the same work may succeed if tried again at once: the database had no connection
    /// free, or failed for a passing reason ([`leadgen_db::worth_retrying`]).
    pub fn worth_retrying(&self) -> bool {
        match self {
            AuthApiError::Unavailable(_) => true,
            AuthApiError::Unexpected(e) => leadgen_db::chain_worth_retrying(e.as_ref()),
            _ => false,
        }
    }

    /// Whether the consent stays usable after this failure of its callback (the platform's
    /// side or ours failed, not the consent): its cookie is kept for another try.
    pub fn keeps_consent(&self) -> bool {
        matches!(
            self,
            AuthApiError::Platform(_)
                | AuthApiError::CodeExchange(_)
                | AuthApiError::Unavailable(_)
                | AuthApiError::Unexpected(_)
        )
    }

    /// What the operation log records for a refused request: the code and the message the
    /// caller was answered with, plus the platform's own text where a platform refused or
    /// failed (the cause of an internal error stays in the service's log).
    pub fn audit(&self) -> (u32, String) {
        let api = self.to_api();
        let message = match self {
            AuthApiError::OAuthExchange(cause)
            | AuthApiError::Platform(cause)
            | AuthApiError::CodeExchange(cause) => {
                format!("{}（平台返回：{cause}）", api.message())
            }
            AuthApiError::Invalid(errors) => {
                let fields: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}：{}", e.field, e.message))
                    .collect();
                format!("{}（{}）", api.message(), fields.join("；"))
            }
            _ => api.message().to_owned(),
        };
        (api.code(), message)
    }
}

/// What a platform's refusal means to the merchant, when it starts with one of the OAuth 2.0
/// error codes (RFC 6749 §4.1.2.1 and §5.2).
pub fn refusal_meaning(raw: &str) -> Option<&'static str> {
    let code = raw
        .split(|c: char| c == ':' || c.is_whitespace())
        .next()
        .unwrap_or_default();
    Some(match code {
        "access_denied" => "商家在授权页取消或拒绝了授权，可重新发起授权",
        "invalid_client" | "unauthorized_client" => {
            "电商平台不认可应用的 appKey 或 appSecret，请检查后重新发起授权"
        }
        "invalid_grant" => "授权码无效或已过期，请重新发起授权",
        "invalid_scope" => "申请的权限范围不被电商平台接受，请检查应用的权限配置",
        "server_error" | "temporarily_unavailable" => {
            "电商平台暂时无法完成授权，请稍后重新发起授权"
        }
        _ => return None,
    })
}

impl From<AuthApiError> for ApiError {
    fn from(e: AuthApiError) -> Self {
        if let AuthApiError::Platform(cause) | AuthApiError::CodeExchange(cause) = &e {
            tracing::warn!(error.cause = %cause, "Platform call failed");
        }
        e.to_api()
    }
}

impl From<leadgen_http::paging::BeyondWindow> for AuthApiError {
    fn from(_: leadgen_http::paging::BeyondWindow) -> Self {
        AuthApiError::PageBeyondWindow
    }
}

impl From<diesel::result::Error> for AuthApiError {
    fn from(e: diesel::result::Error) -> Self {
        AuthApiError::Unexpected(e.into())
    }
}

impl From<leadgen_db::DbError> for AuthApiError {
    fn from(e: leadgen_db::DbError) -> Self {
        match e {
            leadgen_db::DbError::Checkout(cause) => AuthApiError::Unavailable(cause),
            other => AuthApiError::Unexpected(other.into()),
        }
    }
}

impl From<leadgen_outbox::OutboxError> for AuthApiError {
    fn from(e: leadgen_outbox::OutboxError) -> Self {
        AuthApiError::Unexpected(e.into())
    }
}

impl From<leadgen_crypto::CryptoError> for AuthApiError {
    fn from(e: leadgen_crypto::CryptoError) -> Self {
        AuthApiError::Unexpected(e.into())
    }
}
