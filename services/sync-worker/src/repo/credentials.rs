//! The documented coupling to auth-api's `t_ecom_platform_auth` that is sync-worker's own: the
//! scheduler reads ACTIVE shops due for a sync, a finished sync moves `last_sync_time`, and every
//! by-modification window fully stored moves `modified_watermark`; the scheduler also counts
//! shops per platform and status for the `leadgen_shops` gauge.
//! Reading credentials and storing refreshed tokens is `leadgen_shop_session`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_domain::{AuthStatus, PlatformId, TenantId};

/// Moves `last_sync_time` forward (never back).
pub async fn record_synced(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        auth::table.find(id.get()).filter(
            auth::last_sync_time
                .is_null()
                .or(auth::last_sync_time.lt(until)),
        ),
    )
    .set(auth::last_sync_time.eq(until))
    .execute(conn)
    .await
}

/// Moves `modified_watermark` forward (never back) to the end of a by-modification window whose
/// pages were all stored.
pub async fn advance_watermark(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        auth::table.find(id.get()).filter(
            auth::modified_watermark
                .is_null()
                .or(auth::modified_watermark.lt(until)),
        ),
    )
    .set(auth::modified_watermark.eq(until))
    .execute(conn)
    .await
}

/// A platform due for a scheduled sync.
#[derive(Debug, Clone, Queryable)]
pub struct Due {
    #[diesel(deserialize_as = i64)]
    pub id: PlatformId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    pub platform_type: String,
    pub last_sync_time: Option<DateTime<Utc>>,
    pub modified_watermark: Option<DateTime<Utc>>,
}

/// ACTIVE authorizations (of every tenant: the scheduler is a system job) not synced since
/// `before`.
pub async fn due_for_sync(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Due>> {
    auth::table
        .filter(auth::status.eq(AuthStatus::Active.as_str()))
        .filter(
            auth::last_sync_time
                .is_null()
                .or(auth::last_sync_time.lt(before)),
        )
        .order(auth::last_sync_time.asc().nulls_first())
        .limit(limit)
        .select((
            auth::id,
            auth::tenant_id,
            auth::platform_type,
            auth::last_sync_time,
            auth::modified_watermark,
        ))
        .load(conn)
        .await
}

/// Shops per `(platform, status)` (aliases of renewed shops excluded).
pub async fn count_by_status(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(String, String, i64)>> {
    auth::table
        .filter(auth::superseded_by.is_null())
        .group_by((auth::platform_type, auth::status))
        .select((auth::platform_type, auth::status, diesel::dsl::count_star()))
        .load(conn)
        .await
}
