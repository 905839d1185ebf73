//! The OAuth consent's writes on `t_ecom_platform_auth`: a consent's state, the tokens of an
//! approved one (activation, or the renewal of the shop's existing record), a refused or
//! abandoned one, and the shop lock that keeps a shop connected once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_domain::{AuthStatus, PlatformId, PlatformType, TenantId};

use super::{AuthRow, set_status};

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

/// What storing a consent's tokens sets, on activation and on renewal alike: the tokens and
/// the shop's name, ACTIVE with no reason, a grant starting now (`activated_at`), and nothing
/// left of a refused refresh or a pending purge.
#[expect(clippy::type_complexity, reason = "diesel's changeset type, spelt out")]
fn granted(
    t: &ActivatedTokens,
) -> (
    diesel::dsl::Eq<auth::access_token, &String>,
    diesel::dsl::Eq<auth::refresh_token, &Option<String>>,
    diesel::dsl::Eq<auth::expiry_time, Option<DateTime<Utc>>>,
    diesel::dsl::Eq<auth::refresh_expiry_time, Option<DateTime<Utc>>>,
    diesel::dsl::Eq<auth::shop_name, &Option<String>>,
    diesel::dsl::Eq<auth::status, &'static str>,
    diesel::dsl::Eq<auth::status_reason, Option<String>>,
    diesel::dsl::Eq<auth::refresh_refused_since, Option<DateTime<Utc>>>,
    diesel::dsl::Eq<auth::activated_at, diesel::dsl::now>,
    diesel::dsl::Eq<auth::purge_after, Option<DateTime<Utc>>>,
    diesel::dsl::Eq<auth::purged_at, Option<DateTime<Utc>>>,
    diesel::dsl::Eq<auth::update_time, diesel::dsl::now>,
) {
    (
        auth::access_token.eq(&t.access_token),
        auth::refresh_token.eq(&t.refresh_token),
        auth::expiry_time.eq(t.expiry_time),
        auth::refresh_expiry_time.eq(t.refresh_expiry_time),
        auth::shop_name.eq(&t.shop_name),
        auth::status.eq(AuthStatus::Active.as_str()),
        auth::status_reason.eq(None::<String>),
        auth::refresh_refused_since.eq(None::<DateTime<Utc>>),
        auth::activated_at.eq(diesel::dsl::now),
        auth::purge_after.eq(None::<DateTime<Utc>>),
        auth::purged_at.eq(None::<DateTime<Utc>>),
        auth::update_time.eq(diesel::dsl::now),
    )
}

/// The rows [`this_consent`] selects.
type ById = diesel::dsl::Filter<auth::table, diesel::dsl::Eq<auth::id, i64>>;
type ThisConsent<'a> = diesel::dsl::Filter<ById, diesel::dsl::Eq<auth::oauth_state_hash, &'a str>>;

/// The authorization `id` while its consent is still the one of `state_hash`: every write of a
/// consent's outcome is made only to it.
fn this_consent(id: PlatformId, state_hash: &str) -> ThisConsent<'_> {
    auth::table
        .filter(auth::id.eq(id.get()))
        .filter(auth::oauth_state_hash.eq(state_hash))
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
            auth::oauth_exchange_started_at.eq(None::<DateTime<Utc>>),
            auth::callback_url.eq(callback_url),
            auth::redirect_url.eq(redirect_url),
            auth::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Takes the consent's code exchange for this callback, if no other callback of it holds it
/// (one that began `lease` ago or more is taken over: it died mid-exchange). False: another
/// callback exchanges now, or the state is spent.
pub async fn claim_exchange(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    state_hash: &str,
    lease: chrono::Duration,
) -> QueryResult<bool> {
    let stale = Utc::now() - lease;
    diesel::update(
        this_consent(id, state_hash).filter(
            auth::oauth_exchange_started_at
                .is_null()
                .or(auth::oauth_exchange_started_at.lt(stale)),
        ),
    )
    .set(auth::oauth_exchange_started_at.eq(diesel::dsl::now))
    .execute(conn)
    .await
    .map(|n| n > 0)
}

/// Gives the exchange up (it failed for now): another callback of the consent may try.
pub async fn release_exchange(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    state_hash: &str,
) -> QueryResult<usize> {
    diesel::update(this_consent(id, state_hash))
        .set(auth::oauth_exchange_started_at.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await
}

/// Whether the consent's state is spent (stored, refused, or superseded by a renewal).
pub async fn state_spent(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    state_hash: &str,
) -> QueryResult<bool> {
    let held: Option<Option<String>> = auth::table
        .find(id.get())
        .select(auth::oauth_state_hash)
        .first(conn)
        .await
        .optional()?;
    Ok(held.flatten().as_deref() != Some(state_hash))
}

/// Stores the tokens and marks the row ACTIVE, if its state is still unused.
pub async fn activate(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    state_hash: &str,
    t: &ActivatedTokens,
) -> QueryResult<usize> {
    diesel::update(this_consent(id, state_hash))
        .set((
            granted(t),
            auth::shop_id.eq(&t.shop_id),
            auth::oauth_state_hash.eq(None::<String>),
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
    let spent: Vec<i64> = diesel::update(this_consent(id, state_hash))
        .set((
            auth::oauth_state_hash.eq(None::<String>),
            auth::update_time.eq(diesel::dsl::now),
        ))
        .returning(auth::tenant_id)
        .get_results(conn)
        .await?;
    for tenant in &spent {
        set_status(
            conn,
            (TenantId::new(*tenant), id),
            &[AuthStatus::PendingAuth],
            AuthStatus::Invalid,
            Some(reason),
        )
        .await?;
    }
    Ok(spent.len())
}

/// New authorizations whose consent was not completed within `ttl`: INVALID with `reason`,
/// their state spent. At most `limit`, oldest first; each replica may run it at once (a row
/// another took is no longer PENDING_AUTH). Answers the rows as they now read. A consent whose
/// code a callback is exchanging (its claim younger than `exchange_lease`) is left to it: the
/// callback came in time, and the platform may already have spent the code on tokens it would
/// then have nowhere to store.
pub async fn expire_abandoned(
    conn: &mut AsyncPgConnection,
    (ttl, exchange_lease): (chrono::Duration, chrono::Duration),
    reason: &str,
    limit: i64,
) -> QueryResult<Vec<AuthRow>> {
    let cutoff = Utc::now() - ttl;
    let exchanging_since = Utc::now() - exchange_lease;
    let stale: Vec<i64> = auth::table
        .filter(auth::status.eq(AuthStatus::PendingAuth.as_str()))
        .filter(auth::superseded_by.is_null())
        .filter(
            auth::oauth_exchange_started_at
                .is_null()
                .or(auth::oauth_exchange_started_at.lt(exchanging_since)),
        )
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

/// The tenant's new authorizations waiting for their consent whose link is still usable
/// (issued within `ttl`), and when the oldest one's link was issued. Counted under a lock per tenant held
/// until the transaction ends, so that two requests at once count each other.
pub async fn pending_consents(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    ttl: chrono::Duration,
) -> QueryResult<(i64, Option<DateTime<Utc>>)> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(format!("pending-consents:{}", tenant.get()))
        .execute(conn)
        .await?;
    auth::table
        .filter(auth::tenant_id.eq(tenant.get()))
        .filter(auth::status.eq(AuthStatus::PendingAuth.as_str()))
        .filter(auth::superseded_by.is_null())
        // Only links still usable (the callback's own rule): one lapsed and not yet marked
        // INVALID (the check runs every minute, and may lag) holds no place.
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "coalesce(oauth_state_issued_at, update_time) > ",
            )
            .bind::<diesel::sql_types::Timestamptz, _>(Utc::now() - ttl),
        )
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>(
                "min(coalesce(oauth_state_issued_at, update_time))",
            ),
        ))
        .first(conn)
        .await
}

/// Holds, until the transaction ends, the right to connect `shop_id` on `platform_type`, for
/// every tenant: two callbacks of the same shop (two consent pages approved at once) take
/// turns, so the second finds the first's authorization ([`find_other_for_shop`]) and renews it
/// instead of connecting the shop twice, or, another tenant's, is refused
/// ([`connected_elsewhere`]).
pub async fn lock_shop(
    conn: &mut AsyncPgConnection,
    platform_type: PlatformType,
    shop_id: &str,
) -> QueryResult<()> {
    let key = format!("connect-shop:{platform_type}:{shop_id}");
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Whether another tenant holds a live grant (`ACTIVE` or paused) of the same shop through the
/// same app: the platform issues one chain of tokens per app and shop, so two records of it
/// would refresh each other's tokens away (Douyin retires the old pair), and each tenant would
/// read the other's buyers.
pub async fn connected_elsewhere(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    platform_type: PlatformType,
    shop_id: &str,
    app_key: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        auth::table
            .filter(auth::tenant_id.ne(tenant.get()))
            .filter(auth::platform_type.eq(platform_type.as_str()))
            .filter(auth::shop_id.eq(shop_id))
            .filter(auth::app_key.eq(app_key))
            .filter(auth::superseded_by.is_null())
            .filter(
                auth::status.eq_any([AuthStatus::Active.as_str(), AuthStatus::Disabled.as_str()]),
            ),
    ))
    .get_result(conn)
    .await
}

/// Another authorization of the tenant for the same shop on the same platform (the newest).
pub async fn find_other_for_shop(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    platform_type: PlatformType,
    shop_id: &str,
    except: PlatformId,
) -> QueryResult<Option<PlatformId>> {
    auth::table
        .filter(auth::tenant_id.eq(tenant.get()))
        .filter(auth::platform_type.eq(platform_type.as_str()))
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
            granted(t),
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
    diesel::update(this_consent(id, state_hash))
        .set((
            auth::superseded_by.eq(survivor.get()),
            auth::oauth_state_hash.eq(None::<String>),
            auth::status_reason.eq("已合并到同一店铺的已有授权"),
            auth::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}
