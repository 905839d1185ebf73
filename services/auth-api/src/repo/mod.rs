//! auth-api's queries. Every function takes the tenant explicitly, except the OAuth callback's
//! lookup by state, where the state itself is the capability.

pub mod operation_logs;
pub mod platforms;
pub mod sync_tasks;

use leadgen_http::paging::BeyondWindow;

/// Why a page of records was not read.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("the page lies beyond the records window")]
    BeyondWindow(BeyondWindow),
}

impl From<BeyondWindow> for ListError {
    fn from(beyond: BeyondWindow) -> Self {
        ListError::BeyondWindow(beyond)
    }
}

impl From<ListError> for crate::error::AuthApiError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Query(e) => e.into(),
            ListError::BeyondWindow(beyond) => beyond.into(),
        }
    }
}
