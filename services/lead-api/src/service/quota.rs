//! The daily limits a reveal and a search by a full mobile number share: per user and per
//! tenant, per Beijing day (`[reveal] per_user_daily`, `per_tenant_daily`), counted in
//! `t_contact_reveal_quota`.

use chrono::Utc;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use leadgen_db::ScopedFutureExt as _;
use leadgen_domain::{TenantId, UserId};
use leadgen_http::AuthUser;

use crate::error::LeadApiError;
use crate::repo::reveal;
use crate::startup::AppState;

/// Counts one reveal, or one search by a full mobile number ([`crate::service::list`]), against
/// the user's and the tenant's daily limits (one transaction: a refused tenant limit does not
/// use up the user's).
pub async fn take(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
) -> Result<(), LeadApiError> {
    let limits = (state.reveal.per_user_daily, state.reveal.per_tenant_daily);
    take_within(conn, limits, user.tenant_id, user.user_id).await
}

/// [`take`] for `user` of `tenant` against the daily limits `(per_user, per_tenant)`.
pub async fn take_within(
    conn: &mut AsyncPgConnection,
    (per_user, per_tenant): (i32, i32),
    tenant: TenantId,
    user_id: UserId,
) -> Result<(), LeadApiError> {
    let day = Utc::now()
        .with_timezone(&leadgen_domain::time::beijing())
        .date_naive();
    conn.transaction::<(), LeadApiError, _>(|conn| {
        async move {
            if !reveal::take_quota(conn, tenant, Some(user_id), day, per_user).await? {
                return Err(LeadApiError::UserLimit);
            }
            if !reveal::take_quota(conn, tenant, None, day, per_tenant).await? {
                return Err(LeadApiError::TenantLimit);
            }
            Ok(())
        }
        .scope_boxed()
    })
    .await
}
