//! `t_ecom_platform_auth` (owned by auth-api): its rows, reads, list and status changes here;
//! the OAuth consent's writes (state, activation, renewal, refusal) in [`consent`].

mod consent;

pub use consent::{
    ActivatedTokens, activate, begin_consent, claim_exchange, connected_elsewhere,
    expire_abandoned, find_other_for_shop, find_pending_by_state, history_purged, invalidate,
    lock_shop, pending_consents, release_exchange, renew, state_spent, supersede,
};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_domain::{AuthStatus, PlatformId, PlatformType, TenantId, UserId};
use leadgen_http::paging::Paging;

/// A row as auth-api reads it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = auth)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct AuthRow {
    #[diesel(deserialize_as = i64)]
    pub id: PlatformId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = String)]
    pub platform_type: PlatformType,
    pub app_key: String,
    pub auth_info: String,
    pub shop_id: Option<String>,
    pub shop_name: Option<String>,
    #[diesel(deserialize_as = String)]
    pub status: AuthStatus,
    pub status_reason: Option<String>,
    pub superseded_by: Option<i64>,
    pub purge_after: Option<DateTime<Utc>>,
    pub purged_at: Option<DateTime<Utc>>,
    pub redirect_url: Option<String>,
    pub callback_url: String,
    pub expiry_time: Option<DateTime<Utc>>,
    /// When the grant itself ends (the refresh token's expiry), as the platform said.
    pub refresh_expiry_time: Option<DateTime<Utc>>,
    pub last_sync_time: Option<DateTime<Utc>>,
    /// The end of the last by-modification window fully stored: changes are read from here.
    pub modified_watermark: Option<DateTime<Utc>>,
    #[diesel(deserialize_as = i64)]
    pub created_by: UserId,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// When the pending consent's state was issued (`None` for rows older than the column).
    pub oauth_state_issued_at: Option<DateTime<Utc>>,
    /// How many times the status changed (raised by the database): `platform.changed.v1`'s
    /// `statusVersion`.
    pub status_version: i64,
    /// When a consent last stored tokens on it, or the merchant last resumed it.
    pub activated_at: Option<DateTime<Utc>>,
}

/// A new authorization.
#[derive(Debug, Insertable)]
#[diesel(table_name = auth)]
pub struct NewAuthRow<'a> {
    #[diesel(serialize_as = i64)]
    pub id: PlatformId,
    #[diesel(serialize_as = i64)]
    pub tenant_id: TenantId,
    pub platform_type: &'a str,
    pub app_key: &'a str,
    pub auth_info: String,
    pub status: &'a str,
    pub oauth_state_hash: &'a str,
    pub redirect_url: Option<&'a str>,
    pub callback_url: &'a str,
    #[diesel(serialize_as = i64)]
    pub created_by: UserId,
}

/// List filters (design 2.2).
#[derive(Debug, Default)]
pub struct AuthFilter {
    pub platform_type: Option<String>,
    pub status: Option<String>,
    /// Oldest first; newest first by default.
    pub ascending: bool,
    /// By the last change (`updateTime`) instead of the creation.
    pub by_update: bool,
}

/// Allocates the next id, so sealed columns can be bound to it before the insert.
pub async fn next_id(conn: &mut AsyncPgConnection) -> QueryResult<PlatformId> {
    diesel::select(diesel::dsl::sql::<BigInt>(
        "nextval('t_ecom_platform_auth_id_seq')",
    ))
    .get_result::<i64>(conn)
    .await
    .map(PlatformId::new)
}

pub async fn insert(conn: &mut AsyncPgConnection, row: NewAuthRow<'_>) -> QueryResult<()> {
    diesel::insert_into(auth::table)
        .values(row)
        .execute(conn)
        .await
        .map(|_| ())
}

async fn find_exact(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: PlatformId,
) -> QueryResult<Option<AuthRow>> {
    auth::table
        .filter(auth::tenant_id.eq(tenant.get()))
        .filter(auth::id.eq(id.get()))
        .select(AuthRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The tenant's authorization `id`; an id superseded by a renewal resolves to the record that
/// survived (every id the API ever answered keeps resolving).
pub async fn find_for_tenant(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: PlatformId,
) -> QueryResult<Option<AuthRow>> {
    match find_exact(conn, tenant, id).await? {
        Some(AuthRow {
            superseded_by: Some(survivor),
            ..
        }) => find_exact(conn, tenant, PlatformId::new(survivor)).await,
        other => Ok(other),
    }
}

/// Like [`find_for_tenant`], the (surviving) row locked for update, after the shop's running
/// sync task.
///
/// Locks are taken in the order sync-worker takes them: a page's transaction updates its task
/// and then inserts raw orders (a foreign-key `KEY SHARE` on the shop), and a window's end
/// updates the task and then moves the shop's watermark. Locking the shop first and then
/// cancelling that task (a pause, a disconnection) or inserting one (a consent's backfill)
/// would deadlock with them. The shop's lock is `FOR NO KEY UPDATE`: nothing here changes its
/// id, so inserts that merely reference the shop do not wait for it.
pub async fn find_for_tenant_for_update(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: PlatformId,
) -> QueryResult<Option<AuthRow>> {
    let Some(row) = find_for_tenant(conn, tenant, id).await? else {
        return Ok(None);
    };
    crate::repo::sync_tasks::lock_running(conn, row.id).await?;
    auth::table
        .find(row.id.get())
        .select(AuthRow::as_select())
        .for_no_key_update()
        .first(conn)
        .await
        .optional()
}

/// Sets `status` (and why) on a row of the tenant, when its current status is one of `from`.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    (tenant, id): (TenantId, PlatformId),
    from: &[AuthStatus],
    status: AuthStatus,
    reason: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(
        auth::table
            .filter(auth::id.eq(id.get()))
            .filter(auth::tenant_id.eq(tenant.get()))
            .filter(auth::status.eq_any(from.iter().map(|s| s.as_str()).collect::<Vec<_>>())),
    )
    .set((
        auth::status.eq(status.as_str()),
        auth::status_reason.eq(reason),
        auth::update_time.eq(diesel::dsl::now),
        // Resumed (or consented): the scheduler's wait after failures starts afresh.
        (status == AuthStatus::Active).then_some(auth::activated_at.eq(diesel::dsl::now)),
        // Paused or resumed, a shop whose grant had ended keeps its history: the date its
        // lapse was given goes (a later lapse is given a date of its own).
        (!AuthStatus::GRANT_ENDED.contains(&status))
            .then_some(auth::purge_after.eq(None::<DateTime<Utc>>)),
    ))
    .execute(conn)
    .await
}

/// Revokes: tokens wiped, REVOKED with the reason; sealed app credentials stay for a later
/// re-authorization.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    (tenant, id): (TenantId, PlatformId),
    reason: &str,
    purge_after: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        auth::table
            .find(id.get())
            .filter(auth::tenant_id.eq(tenant.get()))
            .filter(auth::status.ne(AuthStatus::Revoked.as_str())),
    )
    .set((
        auth::purge_after.eq(purge_after),
        auth::access_token.eq(None::<String>),
        auth::refresh_token.eq(None::<String>),
        auth::expiry_time.eq(None::<DateTime<Utc>>),
        auth::refresh_expiry_time.eq(None::<DateTime<Utc>>),
        auth::oauth_state_hash.eq(None::<String>),
        auth::status.eq(AuthStatus::Revoked.as_str()),
        auth::status_reason.eq(reason),
        auth::update_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    filter: &AuthFilter,
    paging: Paging,
) -> QueryResult<(Vec<AuthRow>, i64)> {
    let query = || {
        let mut q = auth::table
            .filter(auth::tenant_id.eq(tenant.get()))
            .filter(auth::superseded_by.is_null())
            .into_boxed();
        if let Some(p) = &filter.platform_type {
            q = q.filter(auth::platform_type.eq(p.clone()));
        }
        if let Some(s) = &filter.status {
            q = q.filter(auth::status.eq(s.clone()));
        }
        q
    };
    let total = query().count().get_result(conn).await?;
    let ordered = match (filter.by_update, filter.ascending) {
        (false, false) => query().order((auth::create_time.desc(), auth::id.desc())),
        (false, true) => query().order((auth::create_time.asc(), auth::id.asc())),
        (true, false) => query().order((auth::update_time.desc(), auth::id.desc())),
        (true, true) => query().order((auth::update_time.asc(), auth::id.asc())),
    };
    let rows = ordered
        .limit(paging.size)
        .offset(paging.offset())
        .select(AuthRow::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}
