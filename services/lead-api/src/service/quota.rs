//! The daily limits a reveal and a search by a full mobile number share: per user and per
//! tenant, per Beijing day (`[reveal] per_user_daily`, `per_tenant_daily`), counted in
//! `t_contact_reveal_quota`.
//!
//! A search has one more: the different numbers a tenant searched behind one mask
//! (`[reveal] per_mask_daily`, counted in `t_contact_search_mask`). A listed lead shows
//! `138****5678`; searching its ten thousand possible numbers one by one would tell which is the
//! buyer's, and the daily limits alone only slow that down (a tenant's 2,000 a day find it in
//! five days). A number searched again counts once.

use chrono::{NaiveDate, Utc};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use leadgen_db::ScopedFutureExt as _;
use leadgen_domain::{TenantId, UserId};
use leadgen_http::AuthUser;

use crate::error::LeadApiError;
use crate::repo::leads::PhoneSearch;
use crate::repo::reveal;
use crate::startup::AppState;

/// One reveal counted against a user's and their tenant's limits of one Beijing day: what
/// [`give_back`] returns when the platform was never asked.
#[derive(Debug, Clone, Copy)]
pub struct Taken {
    tenant: TenantId,
    user: UserId,
    day: NaiveDate,
}

/// Counts one reveal, or one search by a full mobile number ([`crate::service::list`]), against
/// the user's and the tenant's daily limits (one transaction: a refused tenant limit does not
/// use up the user's).
pub async fn take(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
) -> Result<Taken, LeadApiError> {
    let limits = (state.reveal.per_user_daily, state.reveal.per_tenant_daily);
    take_within(conn, limits, user.tenant_id, user.user_id, None).await
}

/// [`take`] for a search by the full mobile number `searched`, which must also stay within the
/// different numbers the tenant may search behind its mask today (42905 past them, and then
/// nothing is counted). A number the tenant already searched today is not counted again: the
/// next page, another sort, a refetch, a colleague's search of it tell nothing new (the limits
/// bound how many numbers are tried, not how often one is looked at).
pub async fn take_search(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    searched: &PhoneSearch,
) -> Result<Taken, LeadApiError> {
    let limits = (state.reveal.per_user_daily, state.reveal.per_tenant_daily);
    let per_mask = (searched, state.reveal.per_mask_daily);
    take_within(conn, limits, user.tenant_id, user.user_id, Some(per_mask)).await
}

/// [`take`] for `user` of `tenant` against the daily limits `(per_user, per_tenant)`, and for a
/// search, against the limit of different numbers behind its mask. The mask's count is read
/// after the tenant's counter is updated: that row's lock orders the tenant's searches, so two
/// at once cannot both take the mask's last place.
pub async fn take_within(
    conn: &mut AsyncPgConnection,
    (per_user, per_tenant): (i32, i32),
    tenant: TenantId,
    user_id: UserId,
    search: Option<(&PhoneSearch, i32)>,
) -> Result<Taken, LeadApiError> {
    let day = Utc::now()
        .with_timezone(&leadgen_domain::time::beijing())
        .date_naive();
    let taken = Taken {
        tenant,
        user: user_id,
        day,
    };
    conn.transaction::<Taken, LeadApiError, _>(|conn| {
        async move {
            if let Some((searched, _)) = search
                && reveal::searched_today(conn, (tenant, day), &searched.mask, &searched.indexes)
                    .await?
            {
                return Ok(taken);
            }
            if !reveal::take_quota(conn, tenant, Some(user_id), day, per_user).await? {
                return Err(LeadApiError::UserLimit);
            }
            if !reveal::take_quota(conn, tenant, None, day, per_tenant).await? {
                return Err(LeadApiError::TenantLimit);
            }
            if let Some((searched, per_mask)) = search {
                let number = searched.indexes.first().map_or("", String::as_str);
                if !reveal::note_search(conn, (tenant, day), &searched.mask, number, per_mask)
                    .await?
                {
                    return Err(LeadApiError::MaskLimit);
                }
            }
            Ok(taken)
        }
        .scope_boxed()
    })
    .await
}

/// Gives a reveal back to the user's and the tenant's counters of the day it was taken: the
/// platform was never asked (our rate gate or a ban held the call back, or a throttle turned it
/// away), so no number was opened and no decrypt spent. A failure here is logged and the count
/// kept: the limits err on the side of fewer reveals.
pub async fn give_back(pool: &leadgen_db::DbPool, taken: Taken) {
    let Taken { tenant, user, day } = taken;
    let given = async {
        let mut conn = leadgen_db::conn(pool).await?;
        conn.transaction::<(), LeadApiError, _>(|conn| {
            async move {
                reveal::give_back_quota(conn, tenant, Some(user), day).await?;
                reveal::give_back_quota(conn, tenant, None, day).await?;
                Ok(())
            }
            .scope_boxed()
        })
        .await
    };
    if let Err(e) = given.await {
        tracing::warn!(error = %e, "Could not give back a reveal the platform never answered");
    }
}
