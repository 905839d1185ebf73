//! lead-api's errors and their one mapping to the envelope.

use leadgen_http::{ApiError, codes};

/// What can go wrong in lead-api's use cases.
#[derive(Debug, thiserror::Error)]
pub enum LeadApiError {
    /// Unknown, or another tenant's: the same answer.
    #[error("lead not found")]
    NotFound,
    #[error("lead {0} was merged into lead {1}")]
    Merged(i64, i64),
    #[error("lead changed: version {current}, expected {expected}")]
    VersionConflict { expected: i32, current: i32 },
    #[error("no version (If-Match) given")]
    VersionRequired,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<LeadApiError> for ApiError {
    fn from(e: LeadApiError) -> Self {
        match e {
            LeadApiError::NotFound => ApiError::not_found("线索"),
            LeadApiError::Merged(_, into) => ApiError::business_with(
                codes::LEAD_MERGED,
                format!("该线索已与同一买家的线索 {into} 合并，请在线索 {into} 上操作"),
            ),
            LeadApiError::VersionConflict { current, .. } => ApiError::business_with(
                codes::LEAD_VERSION_CONFLICT,
                format!("线索已被他人修改（当前版本 {current}），请刷新后重试"),
            ),
            LeadApiError::VersionRequired => ApiError::business(codes::LEAD_VERSION_REQUIRED),
            LeadApiError::BadRequest(message) => ApiError::bad_request(message),
            LeadApiError::Unexpected(cause) => ApiError::internal(format!("{cause:#}")),
        }
    }
}

impl From<diesel::result::Error> for LeadApiError {
    fn from(e: diesel::result::Error) -> Self {
        LeadApiError::Unexpected(e.into())
    }
}

impl From<leadgen_db::DbError> for LeadApiError {
    fn from(e: leadgen_db::DbError) -> Self {
        LeadApiError::Unexpected(e.into())
    }
}
