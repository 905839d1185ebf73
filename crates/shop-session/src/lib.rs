//! A shop's platform session, for every service that calls a platform on a merchant's behalf
//! (sync-worker lists orders, lead-api decrypts a contact for a call): the documented coupling to
//! auth-api's `t_ecom_platform_auth`. It reads a shop's sealed credentials, opens a
//! [`Session`], seals and stores refreshed tokens and reads them back for a session another
//! caller refreshed meanwhile ([`CredentialSink`]), and marks a shop whose
//! session cannot be refreshed `EXPIRED` (announced with `platform.changed.v1` through the
//! caller's outbox). It writes nothing else. auth-api holds a shop's renewals off while a new
//! consent stores its tokens ([`hold_renewals`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use leadgen_crypto::Sealer;
use leadgen_db::held_lock::HeldLock;
use leadgen_db::schema::t_ecom_platform_auth as auth;
use leadgen_db::{DbPool, ScopedFutureExt as _, oplog, sealed};
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_domain::{AuthStatus, PlatformId, PlatformType, TenantId};
use leadgen_platforms::resilience::RetryPolicy;
use leadgen_platforms::session::{RenewalLock, Session, StoreError, TokenSink};
use leadgen_platforms::{AppCredentials, TokenSet};

/// A shop's authorization as the platform calls need it (sealed values stay sealed).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = auth)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CredentialRow {
    #[diesel(deserialize_as = i64)]
    pub id: PlatformId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = String)]
    pub platform_type: PlatformType,
    pub app_key: String,
    pub auth_info: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    #[diesel(deserialize_as = String)]
    pub status: AuthStatus,
    pub last_sync_time: Option<DateTime<Utc>>,
    /// When the access token expires, if the platform said.
    pub expiry_time: Option<DateTime<Utc>>,
    /// Since when the platform has answered refreshes without tokens after saying the access
    /// token expired ([`TokenSink::refresh_refused`]).
    pub refresh_refused_since: Option<DateTime<Utc>>,
    /// When the grant this row holds was given (a consent stored its tokens) or the shop last
    /// resumed: a session opened on it may end only this grant ([`mark_expired`]).
    pub activated_at: Option<DateTime<Utc>>,
}

/// The tenant's shop `id`.
pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: PlatformId,
) -> QueryResult<Option<CredentialRow>> {
    auth::table
        .filter(auth::tenant_id.eq(tenant.get()))
        .filter(auth::id.eq(id.get()))
        .select(CredentialRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// What became of refreshed tokens offered to a shop.
enum Stored {
    Kept,
    /// The shop is disconnected or expired (not ACTIVE, not paused).
    NotConnected,
    /// The shop holds another refresh token than the one they were refreshed from.
    Superseded,
}

/// Stores refreshed (sealed) tokens on an ACTIVE or paused shop that still holds the refresh
/// token they were refreshed from (`refreshed_from`, compared opened: a seal is never the same
/// twice). A pause keeps the merchant's grant: a refresh that lands just after it (a walk or
/// reveal under way) is stored, or a platform that retires the old refresh token on refresh would
/// leave the shop holding a dead one, EXPIRED when it is enabled again. A new consent replaces
/// the grant: a refresh of the old one stored after it (its store retried past the consent's
/// wait for the renewal lock) would leave the shop on tokens the merchant's new consent retired.
async fn store_refreshed(
    conn: &mut AsyncPgConnection,
    sealer: &Sealer,
    id: PlatformId,
    refreshed_from: &str,
    tokens: Sealed<'_>,
) -> QueryResult<Stored> {
    conn.transaction(|conn| {
        async move {
            let held: Option<Option<String>> = auth::table
                .find(id.get())
                .filter(
                    auth::status
                        .eq_any([AuthStatus::Active.as_str(), AuthStatus::Disabled.as_str()]),
                )
                .select(auth::refresh_token)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some(held) = held else {
                return Ok(Stored::NotConnected);
            };
            // A stored token this process cannot open (resealed under a data key it lacks)
            // cannot be told apart: stored over, as before the check.
            let same = held.is_some_and(|sealed| {
                sealer
                    .open(&sealed::platform_auth("refresh_token", id), &sealed)
                    .map_or(true, |opened| opened == refreshed_from)
            });
            if !same {
                return Ok(Stored::Superseded);
            }
            diesel::update(auth::table.find(id.get()))
                .set((
                    auth::access_token.eq(tokens.access),
                    auth::refresh_token.eq(tokens.refresh),
                    auth::expiry_time.eq(tokens.expiry),
                    // None: the refresh token and its expiry did not change
                    // (`TokenSet::refresh_expires_at`).
                    tokens
                        .refresh_expiry
                        .map(|at| auth::refresh_expiry_time.eq(at)),
                    auth::refresh_refused_since.eq(None::<DateTime<Utc>>),
                    auth::update_time.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            Ok(Stored::Kept)
        }
        .scope_boxed()
    })
    .await
}

/// Refreshed tokens, sealed for the shop's row.
struct Sealed<'a> {
    access: &'a str,
    refresh: Option<&'a str>,
    expiry: Option<DateTime<Utc>>,
    refresh_expiry: Option<DateTime<Utc>>,
}

/// The platform answered the shop's tokens again (a sync's page): whatever refused their
/// refresh has passed.
pub async fn clear_refresh_refusal(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
) -> QueryResult<usize> {
    diesel::update(
        auth::table
            .find(id.get())
            .filter(auth::refresh_refused_since.is_not_null()),
    )
    .set(auth::refresh_refused_since.eq(None::<DateTime<Utc>>))
    .execute(conn)
    .await
}

/// ACTIVE shops holding a refresh token whose access token expires before `before`, or whose
/// refresh token, still usable, lapses before `before` and before its access token (refreshed
/// then, the grant goes on; left, the shop would be EXPIRED once the access token ends, and
/// the merchant asked to authorize again for nothing). Paused shops too while their access
/// token is alive: a pause keeps the grant (a Douyin refresh token lives 14 days, so a shop
/// paused longer and never refreshed could not be resumed without authorizing again), but a
/// shop paused with its grant already dead (paused when EXPIRED or INVALID, or refused while
/// paused) is left alone once its access token has ended, and stays paused: the merchant's
/// decision, undone by nobody but the merchant. And ACTIVE shops whose refreshes were refused
/// after their access token was said to have expired ([`CredentialRow::refresh_refused_since`]),
/// whenever it expires. Soonest first, but for those in `skip`
/// (whose refresh failed a moment ago: they must not hold the others back).
pub async fn expiring(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
    skip: &[i64],
) -> QueryResult<Vec<CredentialRow>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Nullable, Timestamptz};
    // A token that lives shorter than `before` looks ahead (a PDD token of 10 minutes) is
    // refreshed past half its life, not on every pass: its life is read from when it was
    // stored (`update_time`, which a status change also moves: the refresh then comes later,
    // still before the expiry).
    let access_due = auth::expiry_time.lt(before).and(sql::<Bool>(
        "(expiry_time <= now() OR expiry_time - now() < (expiry_time - update_time) / 2)",
    ));
    let refresh_due = auth::refresh_expiry_time.lt(before).and(sql::<Bool>(
        "refresh_expiry_time > now() AND refresh_expiry_time < expiry_time \
         AND refresh_expiry_time - now() < (refresh_expiry_time - update_time) / 2",
    ));
    // An ACTIVE shop whose refreshes the platform refused after saying its access token
    // expired, whatever its expiry says: tried again, and ended if it stays refused.
    let refused = auth::refresh_refused_since
        .is_not_null()
        .and(auth::status.eq(AuthStatus::Active.as_str()));
    auth::table
        .filter(
            auth::status.eq(AuthStatus::Active.as_str()).or(auth::status
                .eq(AuthStatus::Disabled.as_str())
                .and(auth::expiry_time.gt(diesel::dsl::now))),
        )
        .filter(auth::id.ne_all(skip))
        // A platform a newer build added (seen during a rollout) is left to a replica that
        // knows it, rather than failing every pass.
        .filter(auth::platform_type.eq_any(PlatformType::ALL.iter().map(|p| p.as_str())))
        .filter(auth::refresh_token.is_not_null())
        .filter(access_due.or(refresh_due).or(refused))
        // Refused shops last: they cannot work already, and must not hold back shops about to
        // expire.
        .order((
            auth::refresh_refused_since.is_not_null().asc(),
            sql::<Nullable<Timestamptz>>("LEAST(expiry_time, refresh_expiry_time)").asc(),
        ))
        .limit(limit)
        .select(CredentialRow::as_select())
        .load(conn)
        .await
}

/// What a refused refresh means: `EXPIRED` when the grant ran out (the refresh token expired,
/// or there is none), `INVALID` when the platform no longer accepts it (revoked by the
/// merchant, another app's, unknown). Either way the merchant must authorize again.
pub fn unusable_status(reason: &str) -> AuthStatus {
    let lower = reason.to_lowercase();
    if ["expire", "过期", "no refresh token"]
        .iter()
        .any(|w| lower.contains(w))
    {
        AuthStatus::Expired
    } else {
        AuthStatus::Invalid
    }
}

/// The session could not be refreshed: the merchant must authorize again. The shop, if ACTIVE
/// and still on `grant` (the `activated_at` the session was opened on), becomes EXPIRED or
/// INVALID ([`unusable_status`]) with `reason` (the platform's refusal, never a
/// token) shown beside it, is no longer scheduled, and the operation log records the transition
/// (`PLATFORM_AUTH_EXPIRE`, by the system, from `service`) and `service`'s outbox announces it
/// (`platform.changed.v1`).
pub async fn mark_expired(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    grant: Option<DateTime<Utc>>,
    reason: &str,
    service: &'static str,
) -> anyhow::Result<usize> {
    let status = unusable_status(reason);
    let status_reason = format!("店铺授权已失效且无法自动续期，请重新授权（{reason}）");
    let trace_id = leadgen_telemetry::current_trace_id();
    // One transaction (a savepoint inside the caller's): the status, its event and its log line.
    conn.transaction::<usize, anyhow::Error, _>(|conn| {
        async move {
            // Only the grant the session was opened on: a consent stored since (the merchant
            // authorized again while the old grant's refresh was refused) is not ended by it.
            let same_grant = auth::activated_at.is_not_distinct_from(grant);
            let changed: Vec<(i64, String, i64)> = diesel::update(
                auth::table
                    .find(id.get())
                    .filter(auth::status.eq(AuthStatus::Active.as_str()))
                    .filter(same_grant),
            )
            .set((
                auth::status.eq(status.as_str()),
                auth::status_reason.eq(&status_reason),
                auth::update_time.eq(diesel::dsl::now),
            ))
            .returning((auth::tenant_id, auth::platform_type, auth::status_version))
            .get_results(conn)
            .await?;
            for (tenant, platform_type, version) in &changed {
                let announcement = leadgen_events::PlatformChangedV1 {
                    platform_id: id,
                    platform_type: platform_type.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
                    status,
                    previous_status: AuthStatus::Active,
                    status_reason: Some(status_reason.clone()),
                    history_purge_at: None,
                    status_version: Some(*version),
                };
                let event =
                    leadgen_events::CloudEvent::new(service, TenantId::new(*tenant), announcement);
                leadgen_outbox::enqueue(conn, service, &event).await?;
                let entry = oplog::Entry {
                    tenant_id: TenantId::new(*tenant),
                    service,
                    operator: &oplog::Operator::System,
                    action: AuditAction::PlatformAuthExpire,
                    target_type: AuditTarget::PlatformAuth,
                    target_ids: vec![id.to_string()],
                    // As the merchant reads it on the record (`statusReason`), with the new
                    // status named in Chinese.
                    result: Err(format!("{}：{status_reason}", status.name_zh())),
                };
                oplog::record(conn, entry, &trace_id).await?;
            }
            Ok(changed.len())
        }
        .scope_boxed()
    })
    .await
}

/// A shop's sealed credentials that do not open: sealed under a data key this process does not
/// hold, or damaged. Retrying cannot help; the merchant reads [`CREDENTIALS_UNREADABLE`].
#[derive(Debug, thiserror::Error)]
#[error("the shop's sealed {column} does not open: {reason}")]
pub struct CredentialsUnreadable {
    pub column: &'static str,
    reason: String,
}

/// What a merchant reads when a shop's credentials do not open.
pub const CREDENTIALS_UNREADABLE: &str = "平台授权的凭证无法解密（数据密钥与加密时不一致，或数据已损坏）：请联系管理员检查数据密钥配置，或删除该授权后重新添加";

/// Opens the shop's session: app credentials and tokens unsealed, retries per `policy`, the
/// access token renewed before a call once it is within a minute of its stated expiry.
pub fn open_session(
    sealer: &Sealer,
    row: &CredentialRow,
    policy: RetryPolicy,
) -> Result<Session, CredentialsUnreadable> {
    let open = |column: &'static str, value: &str| {
        sealer
            .open(&sealed::platform_auth(column, row.id), value)
            .map_err(|e| CredentialsUnreadable {
                column,
                reason: e.to_string(),
            })
    };
    let doc: serde_json::Value =
        leadgen_domain::stored_json::parse(&open("auth_info", &row.auth_info)?).map_err(|e| {
            CredentialsUnreadable {
                column: "auth_info",
                reason: e.to_string(),
            }
        })?;
    let access_token = row
        .access_token
        .as_deref()
        .map(|t| open("access_token", t))
        .transpose()?
        .unwrap_or_default();
    let refresh_token = row
        .refresh_token
        .as_deref()
        .map(|t| open("refresh_token", t))
        .transpose()?;
    let app = AppCredentials::from_auth_info(&row.app_key, &doc);
    Ok(Session::new(app, access_token, refresh_token, policy).expiring_at(row.expiry_time))
}

/// The advisory-lock key of a shop's token renewal: a namespace of its own in the high bits,
/// the shop id in the rest.
pub fn renewal_lock_key(platform_id: PlatformId) -> i64 {
    (0x5245_4652_i64 << 32) ^ platform_id.get()
}

/// Waits until no caller renews the shop's tokens, and keeps any from starting until the
/// caller's transaction ends: a consent storing a new grant (auth-api) lets a refresh of the
/// old grant under way store its answer first, then writes over it; a refresh that starts after
/// the consent commits finds the new tokens stored and takes them instead of refreshing.
///
/// Polled, each try a statement of its own (a wait in one statement would meet the pool's
/// statement timeout), for up to `wait`: false when a renewal holds on longer (its store of the
/// answer failing, say), and the caller goes on without the hold rather than lose the grant.
pub async fn hold_renewals(
    conn: &mut AsyncPgConnection,
    id: PlatformId,
    wait: std::time::Duration,
) -> QueryResult<bool> {
    use diesel::sql_types::{BigInt, Bool};
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let held: bool = diesel::select(
            diesel::dsl::sql::<Bool>("pg_try_advisory_xact_lock(")
                .bind::<BigInt, _>(renewal_lock_key(id))
                .sql(")"),
        )
        .get_result(conn)
        .await?;
        if held || tokio::time::Instant::now() >= deadline {
            return Ok(held);
        }
        tokio::time::sleep(RENEWAL_POLL).await;
    }
}

/// How long a caller waits for another's renewal of the same shop: longer than a refresh with
/// all its retries takes (sync-worker: 6 retries, backoff up to 20 s, 15 s per call). A holder
/// whose store of the answer keeps failing holds longer (about 5 minutes of tries): the waiter
/// then takes the tokens stored meanwhile, or fails for now, never refreshing beside it.
const RENEWAL_WAIT: std::time::Duration = std::time::Duration::from_secs(180);
/// How often a waiting caller tries the renewal lock again.
const RENEWAL_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// A shop's renewal lock ([`renewal_lock_key`]), held on a connection of its own.
struct ShopRenewal(HeldLock);

#[async_trait::async_trait]
impl RenewalLock for ShopRenewal {
    async fn release(self: Box<Self>) {
        self.0.release().await;
    }
}

/// Seals refreshed tokens and stores them on the shop's authorization; one caller at a time
/// renews a shop's tokens, across every service and replica ([`renewal_lock_key`]).
pub struct CredentialSink {
    pub pool: DbPool,
    pub sealer: Arc<Sealer>,
    pub platform_id: PlatformId,
}

#[async_trait::async_trait]
impl TokenSink for CredentialSink {
    async fn store(&self, tokens: &TokenSet, refreshed_from: &str) -> Result<(), StoreError> {
        let seal = |column: &str, value: &str| {
            self.sealer
                .seal(&sealed::platform_auth(column, self.platform_id), value)
                .map_err(|e| StoreError::Refused(e.to_string()))
        };
        let access = seal("access_token", &tokens.access_token)?;
        let refresh = tokens
            .refresh_token
            .as_deref()
            .map(|t| seal("refresh_token", t))
            .transpose()?;
        // Which shop: the session's own lines name only the app key, which every shop of the
        // app shares (a store that never succeeds leaves this shop to be authorized again).
        let transient = |e: String| {
            tracing::warn!(platform.id = self.platform_id.get(), error = %e, "Storing a shop's refreshed tokens failed");
            StoreError::Transient(e)
        };
        let mut conn = leadgen_db::conn(&self.pool)
            .await
            .map_err(|e| transient(e.to_string()))?;
        let sealed = Sealed {
            access: &access,
            refresh: refresh.as_deref(),
            expiry: tokens.expires_at,
            refresh_expiry: tokens.refresh_expires_at,
        };
        let stored = store_refreshed(
            &mut conn,
            &self.sealer,
            self.platform_id,
            refreshed_from,
            sealed,
        )
        .await
        .map_err(|e| transient(e.to_string()))?;
        match stored {
            Stored::Kept => Ok(()),
            Stored::NotConnected => Err(StoreError::Refused(
                "the shop is no longer connected (disconnected or expired)".into(),
            )),
            Stored::Superseded => Err(StoreError::Superseded(
                "the shop holds a newer authorization's tokens".into(),
            )),
        }
    }

    async fn stored(&self) -> Result<Option<(String, Option<String>)>, String> {
        let mut conn = leadgen_db::conn(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        let row: Option<(Option<String>, Option<String>)> = auth::table
            .find(self.platform_id.get())
            .select((auth::access_token, auth::refresh_token))
            .first(&mut conn)
            .await
            .optional()
            .map_err(|e| e.to_string())?;
        let Some((Some(access), refresh)) = row else {
            return Ok(None);
        };
        let open = |column: &str, value: &str| {
            self.sealer
                .open(&sealed::platform_auth(column, self.platform_id), value)
                .map_err(|e| e.to_string())
        };
        let refresh = refresh
            .as_deref()
            .map(|t| open("refresh_token", t))
            .transpose()?;
        Ok(Some((open("access_token", &access)?, refresh)))
    }

    async fn refresh_refused(&self) -> Result<(), String> {
        let mut conn = leadgen_db::conn(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        diesel::update(
            auth::table
                .find(self.platform_id.get())
                .filter(auth::refresh_refused_since.is_null()),
        )
        .set(auth::refresh_refused_since.eq(diesel::dsl::now))
        .execute(&mut conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    async fn exclusive(&self) -> Result<Option<Box<dyn RenewalLock>>, String> {
        // Polled, holding no connection while another caller renews (it needs connections to
        // read and store the tokens), for as long as a renewal with its retries may take.
        let key = renewal_lock_key(self.platform_id);
        let deadline = tokio::time::Instant::now() + RENEWAL_WAIT;
        loop {
            if let Some(lock) = HeldLock::try_acquire(&self.pool, key)
                .await
                .map_err(|e| e.to_string())?
            {
                return Ok(Some(Box::new(ShopRenewal(lock))));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "其他请求续期店铺授权已超过 {} 秒",
                    RENEWAL_WAIT.as_secs()
                ));
            }
            tokio::time::sleep(RENEWAL_POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lapsed_grant_is_expired_and_a_refused_one_invalid() {
        assert_eq!(
            unusable_status("refresh_token is expired"),
            AuthStatus::Expired
        );
        assert_eq!(unusable_status("授权已过期"), AuthStatus::Expired);
        assert_eq!(unusable_status("no refresh token"), AuthStatus::Expired);
        assert_eq!(
            unusable_status("authorization refused: invalid_grant: refresh_token is invalid"),
            AuthStatus::Invalid
        );
        assert_eq!(
            unusable_status("code 50001 dop.token-generate-failed"),
            AuthStatus::Invalid
        );
    }
}
