//! Storing the tokens of an approved consent. When the tokens name a shop the tenant already
//! connected on that platform, that authorization is renewed (credentials and tokens replaced,
//! ACTIVE again, its sync history and leads kept) and the new pending one is kept as an alias
//! that resolves to it (its id was already answered), so a shop is never connected twice, its
//! orders are never stored twice, and no id a client holds stops resolving. A re-authorized
//! record must come back with the same shop. A shop connected for the first time, again after
//! its history was purged, or again before any backfill of it completed, gets a BACKFILL sync of
//! its history.

use diesel_async::AsyncConnection as _;
use leadgen_crypto::Sealer;
use leadgen_db::oplog::{self, Entry, Operator};
use leadgen_db::{ScopedFutureExt as _, sealed};
use leadgen_platforms::TokenSet;

use crate::SERVICE;
use crate::error::AuthApiError;
use crate::repo::platforms::{self as repo, ActivatedTokens, AuthRow};
use crate::repo::sync_tasks;
use crate::service::{announce, syncs};
use leadgen_domain::PlatformId;
use leadgen_domain::audit::{AuditAction, AuditTarget};

/// How long a consent waits for a renewal of the shop's old grant under way (a refresh takes a
/// second or so; one that holds on longer is storing its answer against a failing database).
const RENEWAL_WAIT: std::time::Duration = std::time::Duration::from_secs(45);

/// Why a sync under way ended when the merchant authorized a shop that lacks its history.
const BACKFILL_FIRST: &str = "店铺已重新授权，先同步历史订单：本次同步已取消";

/// What the consent granted.
#[derive(Clone, Copy)]
pub struct Granted<'a> {
    pub row: &'a AuthRow,
    pub state_hash: &'a str,
    pub tokens: &'a TokenSet,
    /// The authorization's `authInfo` document (app secret and extras), in plain text.
    pub auth_info: &'a str,
    /// Days of history the BACKFILL of a newly connected shop fetches (0: none).
    pub backfill_days: i64,
}

fn seal_tokens(
    sealer: &Sealer,
    id: PlatformId,
    tokens: &TokenSet,
) -> Result<ActivatedTokens, AuthApiError> {
    Ok(ActivatedTokens {
        access_token: sealer.seal(
            &sealed::platform_auth("access_token", id),
            &tokens.access_token,
        )?,
        refresh_token: tokens
            .refresh_token
            .as_deref()
            .map(|t| sealer.seal(&sealed::platform_auth("refresh_token", id), t))
            .transpose()?,
        expiry_time: tokens.expires_at,
        refresh_expiry_time: tokens.refresh_expires_at,
        shop_id: tokens.shop_id.clone(),
        shop_name: tokens.shop_name.clone(),
    })
}

/// Activates the consented authorization, or renews the tenant's existing one for the same shop;
/// returns the id of the authorization that is now ACTIVE.
#[tracing::instrument(name = "auth.activate_shop", skip_all)]
pub async fn activate(
    conn: &mut leadgen_db::PgConn,
    sealer: &Sealer,
    granted: Granted<'_>,
) -> Result<PlatformId, AuthApiError> {
    conn.transaction::<PlatformId, AuthApiError, _>(|conn| {
        async move {
            let row = granted.row;
            // A record that knows its shop takes only tokens of that shop: another seller's,
            // or an answer that names no shop (every platform documents one), cannot be told
            // apart from the shop's own, and would mix two shops' orders in one record.
            match (row.shop_id.as_deref(), granted.tokens.shop_id.as_deref()) {
                (Some(held), Some(granted_shop)) if held != granted_shop => {
                    return Err(AuthApiError::ShopMismatch);
                }
                (Some(_), None) => return Err(AuthApiError::ShopMismatch),
                _ => {}
            }
            let existing = match granted.tokens.shop_id.as_deref() {
                Some(shop) => {
                    repo::lock_shop(conn, row.platform_type, shop).await?;
                    let (tenant, platform, app) = (row.tenant_id, row.platform_type, &row.app_key);
                    if repo::connected_elsewhere(conn, tenant, platform, shop, app).await? {
                        return Err(AuthApiError::ShopConnectedElsewhere);
                    }
                    repo::find_other_for_shop(conn, row.tenant_id, row.platform_type, shop, row.id)
                        .await?
                }
                None => None,
            };
            let target = existing.unwrap_or(row.id);
            // A refresh of the shop's old grant under way (the refresher, a sync, a reveal)
            // stores its answer before this consent's tokens replace it. One that holds on past
            // the wait (its store retried) is never stored after them: a refresh is stored only
            // over the refresh token it was made from, and its session takes these tokens.
            if !leadgen_shop_session::hold_renewals(conn, target, RENEWAL_WAIT).await? {
                tracing::warn!(
                    platform.id = target.get(),
                    "A renewal of the shop's tokens holds on; the consent's tokens are stored without waiting for it"
                );
            }
            // The status the shop has now, before this consent (a renewed record's own), read
            // under the row's lock: the callback's `row` was read before the platform's token
            // exchange, during which a worker may have marked the shop expired or the merchant
            // paused it, and each of those was announced. Announcing from a status it no longer
            // had would leave subscribers with the last event saying the shop is down.
            // The shop's running sync first, as every writer of both takes them: this consent
            // may end it (a shop without its history, below).
            sync_tasks::lock_running(conn, target).await?;
            let before = repo::find_for_tenant_for_update(conn, row.tenant_id, target)
                .await?
                .map(|r| r.status);
            let tokens = seal_tokens(sealer, target, granted.tokens)?;
            // No history yet: never connected, its history purged after a revocation, or its
            // backfill never completed (failed, or cancelled by the merchant: connecting the
            // shop again fetches the history it still lacks).
            let purged = match existing {
                None => row.shop_id.is_none() || row.purged_at.is_some(),
                Some(target) => repo::history_purged(conn, target).await?,
            };
            let without_history = purged || !sync_tasks::backfill_completed(conn, target).await?;
            // The state is spent here, once: a second callback that read it before this one
            // committed (a double navigation) finds it spent and changes nothing.
            let (action, target_ids) = if target == row.id {
                if repo::activate(conn, row.id, granted.state_hash, &tokens).await? == 0 {
                    return Err(AuthApiError::OAuthState);
                }
                (AuditAction::PlatformAuthActivate, vec![row.id.to_string()])
            } else {
                if repo::supersede(conn, row.id, target, granted.state_hash).await? == 0 {
                    return Err(AuthApiError::OAuthState);
                }
                let auth_info = sealer.seal(
                    &sealed::platform_auth("auth_info", target),
                    granted.auth_info,
                )?;
                repo::renew(
                    conn,
                    target,
                    &row.app_key,
                    &auth_info,
                    &row.callback_url,
                    &tokens,
                )
                .await?;
                (
                    AuditAction::PlatformAuthRenew,
                    vec![target.to_string(), row.id.to_string()],
                )
            };
            if without_history && granted.backfill_days > 0 {
                let (tenant, platform, days) = (row.tenant_id, row.platform_type, granted.backfill_days);
                let queued = syncs::enqueue_backfill(conn, tenant, target, platform, days).await?;
                // A scheduled or manual sync under way holds the shop's one running slot: the
                // history the shop lacks comes first (nothing is lost: the next scheduled sync
                // reads changes from the last window stored), or no backfill would ever be made
                // (the scheduler runs a failed one again, never a cancelled one).
                if queued.is_none() && !sync_tasks::backfill_running(conn, target).await? {
                    sync_tasks::cancel_running(conn, (tenant, target), BACKFILL_FIRST).await?;
                    syncs::enqueue_backfill(conn, tenant, target, platform, days).await?;
                }
            }
            record_callback(conn, row, action, target_ids, Ok(())).await?;
            if let (Some(before), Some(now)) = (
                before,
                repo::find_for_tenant(conn, row.tenant_id, target).await?,
            ) {
                announce::status_change(conn, before, &now).await?;
            }
            Ok(target)
        }
        .scope_boxed()
    })
    .await
}

/// Writes what a callback did to `row`'s authorization (`action` on `target_ids`, or its
/// refusal) to the operation log, the user who started the authorization acting: the platform's
/// redirect carries no token, so the user is known by id only.
pub(crate) async fn record_callback(
    conn: &mut leadgen_db::PgConn,
    row: &AuthRow,
    action: AuditAction,
    target_ids: Vec<String>,
    result: Result<(), String>,
) -> Result<(), AuthApiError> {
    let op = Operator::User {
        id: row.created_by,
        name: String::new(),
    };
    let entry = Entry {
        tenant_id: row.tenant_id,
        service: SERVICE,
        operator: &op,
        action,
        target_type: AuditTarget::PlatformAuth,
        target_ids,
        result,
    };
    oplog::record(conn, entry, &leadgen_telemetry::current_trace_id()).await?;
    Ok(())
}
