//! The documented coupling to auth-api's `t_ecom_platform_auth`: sync-worker reads a shop's
//! sealed credentials, and writes back only refreshed tokens, an EXPIRED status when a refresh
//! fails, and `last_sync_time`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_platform_auth as auth;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = auth)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CredentialRow {
    pub id: i64,
    pub tenant_id: i64,
    pub platform_type: String,
    pub app_key: String,
    pub auth_info: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub status: String,
    pub last_sync_time: Option<DateTime<Utc>>,
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    id: i64,
) -> QueryResult<Option<CredentialRow>> {
    auth::table
        .filter(auth::tenant_id.eq(tenant))
        .filter(auth::id.eq(id))
        .select(CredentialRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Stores refreshed (sealed) tokens.
pub async fn store_refreshed(
    conn: &mut AsyncPgConnection,
    id: i64,
    access_token: &str,
    refresh_token: Option<&str>,
    expiry: Option<DateTime<Utc>>,
    refresh_expiry: Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    diesel::update(auth::table.find(id))
        .set((
            auth::access_token.eq(access_token),
            auth::refresh_token.eq(refresh_token),
            auth::expiry_time.eq(expiry),
            auth::refresh_expiry_time.eq(refresh_expiry),
            auth::status.eq("ACTIVE"),
            auth::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// The session could not be refreshed: the merchant must authorize again.
pub async fn mark_expired(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
    diesel::update(auth::table.find(id).filter(auth::status.eq("ACTIVE")))
        .set((
            auth::status.eq("EXPIRED"),
            auth::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Moves `last_sync_time` forward (never back).
pub async fn record_synced(
    conn: &mut AsyncPgConnection,
    id: i64,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        auth::table.find(id).filter(
            auth::last_sync_time
                .is_null()
                .or(auth::last_sync_time.lt(until)),
        ),
    )
    .set(auth::last_sync_time.eq(until))
    .execute(conn)
    .await
}

/// A platform due for a scheduled sync.
#[derive(Debug, Clone, Queryable)]
pub struct Due {
    pub id: i64,
    pub tenant_id: i64,
    pub platform_type: String,
    pub last_sync_time: Option<DateTime<Utc>>,
}

/// ACTIVE authorizations (of every tenant: the scheduler is a system job) not synced since
/// `before`.
pub async fn due_for_sync(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Due>> {
    auth::table
        .filter(auth::status.eq("ACTIVE"))
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
        ))
        .load(conn)
        .await
}
