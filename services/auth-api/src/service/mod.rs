//! auth-api's use cases; each opens at most one transaction.

pub mod activation;
pub mod announce;
pub mod audit;
pub mod authorizations;
pub mod oauth;
pub mod shops;
pub mod sync_cancel;
pub mod syncs;
pub mod validate;

use leadgen_db::oplog::Operator;
use leadgen_http::AuthUser;

/// The operation log's operator for a request's user.
pub fn operator(user: &AuthUser) -> Operator {
    Operator::User {
        id: user.user_id,
        name: user.name.clone(),
    }
}
