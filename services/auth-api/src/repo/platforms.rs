//! `t_ecom_platform_auth` (owned by auth-api).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_domain::{AuthStatus, PlatformId, TenantId, UserId};
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
    pub platform_type: String,
    pub app_key: String,
    pub auth_info: String,
    pub shop_id: Option<String>,
    pub shop_name: Option<String>,
    pub status: String,
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

/// Tokens to store on activation (already sealed).
#[derive(Debug, Clone)]
pub struct ActivatedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expiry_time: Option<DateTime<Utc>>,
    pub refresh_expiry_time: Option<DateTime<Utc>>,
    pub shop_id: Option<String>,
    pub shop_name: Option<String>,
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

/// Like [`find_for_tenant`], the (surviving) row locked for update.
pub async fn find_for_tenant_for_update(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: PlatformId,
) -> QueryResult<Option<AuthRow>> {
    let Some(row) = find_for_tenant(conn, tenant, id).await? else {
        return Ok(None);
    };
    auth::table
        .find(row.id.get())
        .select(AuthRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The authorization whose consent is pending under this (single-use) state: a new one, or one
/// being re-authorized.
pub async fn find_pending_by_state(
    conn: &mut AsyncPgConnection,
    state_hash: &str,
) -> QueryResult<Option<AuthRow>> {
    auth::table
        .filter(auth::oauth_state_hash.eq(state_hash))
        .filter(auth::superseded_by.is_null())
        .select(AuthRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Sets `status` (and why) on a row of the tenant, when its current status is one of `from`.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    from: &[AuthStatus],
    status: AuthStatus,
    reason: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(
        auth::table
            .filter(auth::id.eq(id.get()))
            .filter(auth::status.eq_any(from.iter().map(|s| s.as_str()).collect::<Vec<_>>())),
    )
    .set((
        auth::status.eq(status.as_str()),
        auth::status_reason.eq(reason),
        auth::update_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Revokes: tokens wiped, REVOKED with the reason; sealed app credentials stay for a later
/// re-authorization.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    reason: &str,
    purge_after: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        auth::table
            .find(id.get())
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

/// Starts a new consent on an existing record: a new single-use state (its age is the row's
/// `update_time`), the platform sending the merchant back to `callback_url`, then the browser
/// where `redirect_url` says.
pub async fn begin_consent(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    state_hash: &str,
    callback_url: &str,
    redirect_url: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(auth::table.find(id.get()))
        .set((
            auth::oauth_state_hash.eq(state_hash),
            auth::oauth_state_issued_at.eq(diesel::dsl::now),
            auth::callback_url.eq(callback_url),
            auth::redirect_url.eq(redirect_url),
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

/// Stores the tokens and marks the row ACTIVE, if its state is still unused.
pub async fn activate(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    state_hash: &str,
    t: &ActivatedTokens,
) -> QueryResult<usize> {
    diesel::update(
        auth::table
            .filter(auth::id.eq(id.get()))
            .filter(auth::oauth_state_hash.eq(state_hash)),
    )
    .set((
        auth::access_token.eq(&t.access_token),
        auth::refresh_token.eq(&t.refresh_token),
        auth::expiry_time.eq(t.expiry_time),
        auth::refresh_expiry_time.eq(t.refresh_expiry_time),
        auth::shop_id.eq(&t.shop_id),
        auth::shop_name.eq(&t.shop_name),
        auth::status.eq(AuthStatus::Active.as_str()),
        auth::status_reason.eq(None::<String>),
        auth::purge_after.eq(None::<DateTime<Utc>>),
        auth::purged_at.eq(None::<DateTime<Utc>>),
        auth::oauth_state_hash.eq(None::<String>),
        auth::update_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Spends the state of a refused consent (consent refused or code rejected). A new
/// authorization becomes INVALID with the reason; a re-authorized one keeps its status (its
/// earlier grant is unaffected).
pub async fn invalidate(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    state_hash: &str,
    reason: &str,
) -> QueryResult<usize> {
    let spent = diesel::update(
        auth::table
            .filter(auth::id.eq(id.get()))
            .filter(auth::oauth_state_hash.eq(state_hash)),
    )
    .set((
        auth::oauth_state_hash.eq(None::<String>),
        auth::update_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    if spent > 0 {
        set_status(
            conn,
            id,
            &[AuthStatus::PendingAuth],
            AuthStatus::Invalid,
            Some(reason),
        )
        .await?;
    }
    Ok(spent)
}

/// New authorizations whose consent was not completed within `ttl`: INVALID with `reason`,
/// their state spent. At most `limit`, oldest first; each replica may run it at once (a row
/// another took is no longer PENDING_AUTH). Answers the rows as they now read.
pub async fn expire_abandoned(
    conn: &mut AsyncPgConnection,
    ttl: chrono::Duration,
    reason: &str,
    limit: i64,
) -> QueryResult<Vec<AuthRow>> {
    let cutoff = Utc::now() - ttl;
    let stale: Vec<i64> = auth::table
        .filter(auth::status.eq(AuthStatus::PendingAuth.as_str()))
        .filter(auth::superseded_by.is_null())
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "coalesce(oauth_state_issued_at, update_time) < ",
            )
            .bind::<diesel::sql_types::Timestamptz, _>(cutoff),
        )
        .order(auth::id.asc())
        .limit(limit)
        .select(auth::id)
        .for_update()
        .skip_locked()
        .load(conn)
        .await?;
    diesel::update(
        auth::table
            .filter(auth::id.eq_any(&stale))
            .filter(auth::status.eq(AuthStatus::PendingAuth.as_str())),
    )
    .set((
        auth::status.eq(AuthStatus::Invalid.as_str()),
        auth::status_reason.eq(reason),
        auth::oauth_state_hash.eq(None::<String>),
        auth::update_time.eq(diesel::dsl::now),
    ))
    .returning(AuthRow::as_returning())
    .get_results(conn)
    .await
}

/// Holds, until the transaction ends, the right to connect `shop_id` on `platform_type` for
/// `tenant`: two callbacks of the same shop (two consent pages approved at once) take turns, so
/// the second finds the first's authorization ([`find_other_for_shop`]) and renews it instead
/// of connecting the shop twice.
pub async fn lock_shop(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    platform_type: &str,
    shop_id: &str,
) -> QueryResult<()> {
    let key = format!("connect-shop:{}:{platform_type}:{shop_id}", tenant.get());
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Another authorization of the tenant for the same shop on the same platform (the newest).
pub async fn find_other_for_shop(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    platform_type: &str,
    shop_id: &str,
    except: PlatformId,
) -> QueryResult<Option<PlatformId>> {
    auth::table
        .filter(auth::tenant_id.eq(tenant.get()))
        .filter(auth::platform_type.eq(platform_type))
        .filter(auth::shop_id.eq(shop_id))
        .filter(auth::id.ne(except.get()))
        .order((auth::update_time.desc(), auth::id.desc()))
        .select(auth::id)
        .first::<i64>(conn)
        .await
        .optional()
        .map(|id| id.map(PlatformId::new))
}

/// Whether the purge of `id`'s history (after a revocation) has begun: it has no history left.
pub async fn history_purged(conn: &mut AsyncPgConnection, id: PlatformId) -> QueryResult<bool> {
    auth::table
        .find(id.get())
        .select(auth::purged_at.is_not_null())
        .first(conn)
        .await
}

/// Renews an authorization with a new consent's credentials (sealed) and tokens: ACTIVE again.
pub async fn renew(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    app_key: &str,
    auth_info: &str,
    callback_url: &str,
    t: &ActivatedTokens,
) -> QueryResult<usize> {
    diesel::update(auth::table.find(id.get()))
        .set((
            auth::app_key.eq(app_key),
            auth::auth_info.eq(auth_info),
            auth::callback_url.eq(callback_url),
            auth::access_token.eq(&t.access_token),
            auth::refresh_token.eq(&t.refresh_token),
            auth::expiry_time.eq(t.expiry_time),
            auth::refresh_expiry_time.eq(t.refresh_expiry_time),
            auth::shop_name.eq(&t.shop_name),
            auth::status.eq(AuthStatus::Active.as_str()),
            auth::status_reason.eq(None::<String>),
            auth::purge_after.eq(None::<DateTime<Utc>>),
            auth::purged_at.eq(None::<DateTime<Utc>>),
            auth::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Keeps a pending authorization whose consent renewed an existing one as an alias of it: its
/// id (already answered in a 201 `Location`) resolves to the survivor; its state is spent.
pub async fn supersede(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    survivor: PlatformId,
    state_hash: &str,
) -> QueryResult<usize> {
    diesel::update(
        auth::table
            .filter(auth::id.eq(id.get()))
            .filter(auth::oauth_state_hash.eq(state_hash)),
    )
    .set((
        auth::superseded_by.eq(survivor.get()),
        auth::oauth_state_hash.eq(None::<String>),
        auth::status_reason.eq("已合并到同一店铺的已有授权"),
        auth::update_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}
