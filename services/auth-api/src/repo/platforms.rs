//! `t_ecom_platform_auth` (owned by auth-api).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_http::paging::Paging;

/// A row as auth-api reads it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = auth)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct AuthRow {
    pub id: i64,
    pub tenant_id: i64,
    pub platform_type: String,
    pub app_key: String,
    pub auth_info: String,
    pub shop_name: Option<String>,
    pub status: String,
    pub redirect_url: Option<String>,
    pub callback_url: String,
    pub expiry_time: Option<DateTime<Utc>>,
    pub last_sync_time: Option<DateTime<Utc>>,
    pub created_by: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// A new authorization.
#[derive(Debug, Insertable)]
#[diesel(table_name = auth)]
pub struct NewAuthRow<'a> {
    pub id: i64,
    pub tenant_id: i64,
    pub platform_type: &'a str,
    pub app_key: &'a str,
    pub auth_info: String,
    pub status: &'a str,
    pub oauth_state_hash: &'a str,
    pub redirect_url: Option<&'a str>,
    pub callback_url: &'a str,
    pub created_by: i64,
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
}

/// Allocates the next id, so sealed columns can be bound to it before the insert.
pub async fn next_id(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    diesel::select(diesel::dsl::sql::<BigInt>(
        "nextval('t_ecom_platform_auth_id_seq')",
    ))
    .get_result(conn)
    .await
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &NewAuthRow<'_>) -> QueryResult<()> {
    diesel::insert_into(auth::table)
        .values(row)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn find_for_tenant(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    id: i64,
) -> QueryResult<Option<AuthRow>> {
    auth::table
        .filter(auth::tenant_id.eq(tenant))
        .filter(auth::id.eq(id))
        .select(AuthRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_pending_by_state(
    conn: &mut AsyncPgConnection,
    state_hash: &str,
) -> QueryResult<Option<AuthRow>> {
    auth::table
        .filter(auth::oauth_state_hash.eq(state_hash))
        .filter(auth::status.eq("PENDING_AUTH"))
        .select(AuthRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    filter: &AuthFilter,
    paging: Paging,
) -> QueryResult<(Vec<AuthRow>, i64)> {
    let query = || {
        let mut q = auth::table.filter(auth::tenant_id.eq(tenant)).into_boxed();
        if let Some(p) = &filter.platform_type {
            q = q.filter(auth::platform_type.eq(p.clone()));
        }
        if let Some(s) = &filter.status {
            q = q.filter(auth::status.eq(s.clone()));
        }
        q
    };
    let total = query().count().get_result(conn).await?;
    let rows = query()
        .order((auth::create_time.desc(), auth::id.desc()))
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
    id: i64,
    state_hash: &str,
    t: &ActivatedTokens,
) -> QueryResult<usize> {
    diesel::update(
        auth::table
            .filter(auth::id.eq(id))
            .filter(auth::oauth_state_hash.eq(state_hash)),
    )
    .set((
        auth::access_token.eq(&t.access_token),
        auth::refresh_token.eq(&t.refresh_token),
        auth::expiry_time.eq(t.expiry_time),
        auth::refresh_expiry_time.eq(t.refresh_expiry_time),
        auth::shop_id.eq(&t.shop_id),
        auth::shop_name.eq(&t.shop_name),
        auth::status.eq("ACTIVE"),
        auth::oauth_state_hash.eq(None::<String>),
        auth::update_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Marks the row INVALID (consent refused or code rejected) and spends its state.
pub async fn invalidate(
    conn: &mut AsyncPgConnection,
    id: i64,
    state_hash: &str,
) -> QueryResult<usize> {
    diesel::update(
        auth::table
            .filter(auth::id.eq(id))
            .filter(auth::oauth_state_hash.eq(state_hash)),
    )
    .set((
        auth::status.eq("INVALID"),
        auth::oauth_state_hash.eq(None::<String>),
        auth::update_time.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Another authorization of the tenant for the same shop on the same platform (the newest).
pub async fn find_other_for_shop(
    conn: &mut AsyncPgConnection,
    tenant: i64,
    platform_type: &str,
    shop_id: &str,
    except: i64,
) -> QueryResult<Option<i64>> {
    auth::table
        .filter(auth::tenant_id.eq(tenant))
        .filter(auth::platform_type.eq(platform_type))
        .filter(auth::shop_id.eq(shop_id))
        .filter(auth::id.ne(except))
        .order((auth::update_time.desc(), auth::id.desc()))
        .select(auth::id)
        .first(conn)
        .await
        .optional()
}

/// Renews an authorization with a new consent's credentials (sealed) and tokens: ACTIVE again.
pub async fn renew(
    conn: &mut AsyncPgConnection,
    id: i64,
    app_key: &str,
    auth_info: &str,
    callback_url: &str,
    t: &ActivatedTokens,
) -> QueryResult<usize> {
    diesel::update(auth::table.find(id))
        .set((
            auth::app_key.eq(app_key),
            auth::auth_info.eq(auth_info),
            auth::callback_url.eq(callback_url),
            auth::access_token.eq(&t.access_token),
            auth::refresh_token.eq(&t.refresh_token),
            auth::expiry_time.eq(t.expiry_time),
            auth::refresh_expiry_time.eq(t.refresh_expiry_time),
            auth::shop_name.eq(&t.shop_name),
            auth::status.eq("ACTIVE"),
            auth::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Removes a pending authorization whose consent renewed an existing one.
pub async fn delete_pending(
    conn: &mut AsyncPgConnection,
    id: i64,
    state_hash: &str,
) -> QueryResult<usize> {
    diesel::delete(
        auth::table
            .filter(auth::id.eq(id))
            .filter(auth::oauth_state_hash.eq(state_hash)),
    )
    .execute(conn)
    .await
}
