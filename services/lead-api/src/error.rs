//! lead-api's errors and their one mapping to the envelope.

use leadgen_domain::LeadId;
use leadgen_http::{ApiError, codes};

/// What can go wrong in lead-api's use cases.
#[derive(Debug, thiserror::Error)]
pub enum LeadApiError {
    /// Unknown, or another tenant's: the same answer.
    #[error("lead not found")]
    NotFound,
    #[error("lead {0} was merged into lead {1}")]
    Merged(LeadId, LeadId),
    #[error("lead changed: version {current}, expected {expected}")]
    VersionConflict { expected: i32, current: i32 },
    #[error("no version (If-Match) given")]
    VersionRequired,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A page beyond the browsing window of a list longer than it.
    #[error("page beyond the browsing window")]
    BeyondWindow,
    /// The platform does not permit the asked purpose; those it permits, when known.
    #[error("the platform does not permit this purpose")]
    PurposeNotPermitted(&'static [leadgen_platforms::reveal::RevealPurpose]),
    /// Why, where it is known (audited after the answer's message).
    #[error("nothing to reveal")]
    NothingToReveal(Option<String>),
    #[error("the shop's authorization is not ACTIVE")]
    PlatformNotActive,
    /// Paused by the merchant: authorized, but not to be used until enabled again.
    #[error("the shop is paused")]
    ShopDisabled,
    #[error("platform {0} is not supported")]
    PlatformNotSupported(String),
    #[error("the platform refused to decrypt: {0}")]
    PlatformRefused(String),
    #[error("the platform's decrypt quota is used up: {cause}")]
    PlatformQuota {
        cause: String,
        /// When the platform said the quota or ban ends.
        retry_after: Option<std::time::Duration>,
    },
    /// A valid token without the permission the action needs.
    #[error("the user lacks {0:?}")]
    Forbidden(leadgen_http::Permission),
    #[error("the user's reveals for today are used up")]
    UserLimit,
    #[error("the tenant's reveals for today are used up")]
    TenantLimit,
    /// A search by a full mobile number past the different numbers the tenant may search behind
    /// its mask today (`service::quota`).
    #[error("too many different numbers searched behind one mask today")]
    MaskLimit,
    /// Too many of the tenant's reveals in flight (`service::slots`).
    #[error("too many of the tenant's reveals at once")]
    RevealBusy,
    #[error("the platform failed: {0}")]
    PlatformFailed(String),
    /// The platform is unavailable and said until when (an HTTP 5xx with `Retry-After`), past
    /// the retries: the same failure, with the platform's wait passed on.
    #[error("the platform is unavailable for {retry_after:?}: {cause}")]
    PlatformUnavailableFor {
        cause: String,
        retry_after: std::time::Duration,
    },
    /// The platform cannot decrypt this contact for good, or answered an undialable number.
    #[error("the platform cannot reveal a dialable number: {0}")]
    NotDecryptable(String),
    /// The database cannot serve the request now (no connection free in time, or it does not
    /// answer): 503, try again.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl LeadApiError {
    /// The envelope this error answers with (the one mapping; nothing logged).
    fn to_api(&self) -> ApiError {
        match self {
            LeadApiError::NotFound => ApiError::not_found("线索"),
            LeadApiError::Merged(_, into) => ApiError::business_with(
                codes::LEAD_MERGED,
                format!("该线索已与同一买家的线索 {into} 合并，请在线索 {into} 上操作"),
            ),
            LeadApiError::VersionConflict { current, .. } => ApiError::business_with(
                codes::LEAD_VERSION_CONFLICT,
                format!("线索的处理状态已被修改（当前版本 {current}），请刷新后重试"),
            )
            .with_etag(current),
            LeadApiError::VersionRequired => ApiError::business(codes::LEAD_VERSION_REQUIRED),
            LeadApiError::BadRequest(message) => ApiError::bad_request(message.clone()),
            LeadApiError::BeyondWindow => ApiError::business(codes::PAGE_BEYOND_WINDOW),
            LeadApiError::Forbidden(permission) => ApiError::forbidden(*permission),
            LeadApiError::PurposeNotPermitted([]) => {
                ApiError::business(codes::REVEAL_PURPOSE_NOT_PERMITTED)
            }
            // Which purposes the salesperson may choose instead.
            LeadApiError::PurposeNotPermitted(permitted) => {
                let named: Vec<String> = permitted
                    .iter()
                    .map(|p| format!("{}（{}）", p.name_zh(), p.as_str()))
                    .collect();
                ApiError::business_with(
                    codes::REVEAL_PURPOSE_NOT_PERMITTED,
                    format!(
                        "该电商平台不允许以所选用途查看号码，可选用途：{}",
                        named.join("、")
                    ),
                )
            }
            LeadApiError::NothingToReveal(_) => ApiError::business(codes::NOTHING_TO_REVEAL),
            LeadApiError::PlatformNotActive => ApiError::business(codes::PLATFORM_NOT_ACTIVE),
            LeadApiError::ShopDisabled => ApiError::business_with(
                codes::SHOP_DISABLED,
                "该店铺已停用，请先启用后再查看号码".to_owned(),
            ),
            LeadApiError::PlatformNotSupported(_) => {
                ApiError::business(codes::PLATFORM_NOT_SUPPORTED)
            }
            LeadApiError::PlatformRefused(_) => ApiError::business(codes::PLATFORM_DECRYPT_REFUSED),
            LeadApiError::PlatformQuota { retry_after, .. } => {
                let e = ApiError::business(codes::PLATFORM_DECRYPT_QUOTA);
                match retry_after {
                    Some(wait) => e.with_retry_after(*wait),
                    None => e,
                }
            }
            // Daily limits renew at the next Beijing midnight.
            LeadApiError::UserLimit => ApiError::business(codes::REVEAL_USER_LIMIT)
                .with_retry_after(until_next_beijing_day()),
            LeadApiError::TenantLimit => ApiError::business(codes::REVEAL_TENANT_LIMIT)
                .with_retry_after(until_next_beijing_day()),
            LeadApiError::MaskLimit => ApiError::business(codes::SEARCH_MASK_LIMIT)
                .with_retry_after(until_next_beijing_day()),
            LeadApiError::RevealBusy => ApiError::business(codes::REVEAL_BUSY)
                .with_retry_after(std::time::Duration::from_secs(1)),
            LeadApiError::PlatformFailed(_) => ApiError::business(codes::PLATFORM_API_FAILED),
            LeadApiError::PlatformUnavailableFor { retry_after, .. } => {
                ApiError::business(codes::PLATFORM_API_FAILED).with_retry_after(*retry_after)
            }
            LeadApiError::NotDecryptable(_) => ApiError::business(codes::CONTACT_NOT_DECRYPTABLE),
            LeadApiError::Unavailable(cause) => ApiError::unavailable(cause),
            LeadApiError::Unexpected(cause) => ApiError::internal(format!("{cause:#}")),
        }
    }

    /// What the operation log and the reveal audit record: the code and the message the user
    /// was answered with, plus the platform's own text where a platform refused or failed (the
    /// cause of an internal error stays in the service's log).
    pub fn audit(&self) -> (u32, String) {
        let api = self.to_api();
        let message = match self {
            LeadApiError::PlatformRefused(cause)
            | LeadApiError::PlatformQuota { cause, .. }
            | LeadApiError::PlatformFailed(cause)
            | LeadApiError::PlatformUnavailableFor { cause, .. }
            | LeadApiError::NotDecryptable(cause) => {
                format!("{}（平台返回：{cause}）", api.message())
            }
            LeadApiError::NothingToReveal(Some(why)) => format!("{}（原因：{why}）", api.message()),
            _ => api.message().to_owned(),
        };
        (api.code(), message)
    }
}

impl From<LeadApiError> for ApiError {
    fn from(e: LeadApiError) -> Self {
        match &e {
            LeadApiError::PlatformRefused(cause) => {
                tracing::warn!(error.cause = %cause, "Platform refused to decrypt");
            }
            LeadApiError::PlatformQuota { cause, .. } => {
                tracing::warn!(error.cause = %cause, "Platform decrypt quota used up");
            }
            LeadApiError::PlatformFailed(cause)
            | LeadApiError::PlatformUnavailableFor { cause, .. } => {
                tracing::warn!(error.cause = %cause, "Platform call failed");
            }
            LeadApiError::NotDecryptable(cause) => {
                tracing::warn!(error.cause = %cause, "Platform gave no dialable number");
            }
            _ => {}
        }
        e.to_api()
    }
}

impl From<diesel::result::Error> for LeadApiError {
    fn from(e: diesel::result::Error) -> Self {
        LeadApiError::Unexpected(e.into())
    }
}

impl From<leadgen_db::DbError> for LeadApiError {
    fn from(e: leadgen_db::DbError) -> Self {
        match e {
            leadgen_db::DbError::Checkout(cause) => LeadApiError::Unavailable(cause),
            other => LeadApiError::Unexpected(other.into()),
        }
    }
}

/// How long until the next Beijing day begins (the reveal counters' day).
fn until_next_beijing_day() -> std::time::Duration {
    let now = chrono::Utc::now();
    let next = leadgen_domain::time::start_of_beijing_day(now) + chrono::Duration::days(1);
    (next - now).to_std().unwrap_or_default()
}
