//! Managing a connected shop (design 4.1 `updateAuthStatus`): pause and resume it, disconnect
//! it, and consent again on the same record. Every transition writes the operation log; pausing
//! or disconnecting also cancels a running sync. History (orders, leads, sync records) is kept.

use diesel_async::AsyncConnection as _;
use leadgen_db::oplog::{self, Entry, Operator};
use leadgen_db::{ScopedFutureExt as _, sealed};
use leadgen_domain::audit::{AuditAction, AuditTarget};
use leadgen_domain::contact::mask_name;
use leadgen_domain::{AuthStatus, PlatformId};
use leadgen_http::AuthUser;
use leadgen_platforms::AppCredentials;

use crate::SERVICE;
use crate::error::AuthApiError;
use crate::repo::platforms::{self as repo, AuthRow};
use crate::repo::sync_tasks;
use crate::service::authorizations::{
    Created, Listed, check_callback, check_redirect, with_last_syncs,
};
use crate::service::{announce, oauth, operator, record_refusal_on, syncs};
use crate::startup::AppState;

/// The statuses a merchant may set: pause (`DISABLED`) or resume (`ACTIVE`).
pub fn settable(status: AuthStatus) -> bool {
    matches!(status, AuthStatus::Disabled | AuthStatus::Active)
}

/// `PUT /platforms/{id}/status`: pauses an ACTIVE, EXPIRED or INVALID shop, or resumes a
/// paused one that holds a grant. Setting the current status again changes nothing.
#[tracing::instrument(name = "auth.set_shop_status", skip_all, fields(tenant_id = user.tenant_id.get(), platform_id = id.get(), status = %target.as_str()))]
pub async fn set_status(
    state: &AppState,
    user: &AuthUser,
    id: PlatformId,
    target: AuthStatus,
) -> Result<Listed, AuthApiError> {
    let op = operator(user);
    let note = Note::by(user, "停用");
    let tenant = user.tenant_id;
    let backfill_days = state.oauth.backfill_days;
    let platforms = state.platforms.clone();
    let attempted = if target == AuthStatus::Disabled {
        AuditAction::PlatformAuthDisable
    } else {
        AuditAction::PlatformAuthEnable
    };
    transition(state, user, id, attempted, &note, |conn, row| {
        let op = op.clone();
        let note = note.stored.clone();
        Box::pin(async move {
            let current = row.status;
            if current == target {
                return Ok(None);
            }
            match target {
                AuthStatus::Disabled => {
                    let from = [AuthStatus::Active, AuthStatus::Expired, AuthStatus::Invalid];
                    if repo::set_status(
                        conn,
                        (row.tenant_id, row.id),
                        &from,
                        AuthStatus::Disabled,
                        Some(&note),
                    )
                    .await?
                        == 0
                    {
                        return Err(AuthApiError::NotActive);
                    }
                    sync_tasks::cancel_running(
                        conn,
                        (row.tenant_id, row.id),
                        "店铺已停用，同步已取消",
                    )
                    .await?;
                    Ok(Some((AuditAction::PlatformAuthDisable, op)))
                }
                _ => {
                    // Resuming needs a grant: a shop never authorized (or disconnected) must
                    // consent again.
                    if row.expiry_time.is_none()
                        || repo::set_status(
                            conn,
                            (row.tenant_id, row.id),
                            &[AuthStatus::Disabled],
                            AuthStatus::Active,
                            None,
                        )
                        .await?
                            == 0
                    {
                        return Err(AuthApiError::NotActive);
                    }
                    // Pausing cancelled a running sync: a shop paused before its first backfill
                    // completed would keep a few days of history for good. It gets the backfill
                    // again, as a shop authorized again does.
                    if backfill_days > 0 && !sync_tasks::backfill_completed(conn, row.id).await? {
                        let platform_type = row.platform_type;
                        if let Some(client) = platforms.get(platform_type) {
                            let days = oauth::served_days(client.as_ref(), backfill_days);
                            syncs::enqueue_backfill(conn, tenant, row.id, platform_type, days)
                                .await?;
                        }
                    }
                    Ok(Some((AuditAction::PlatformAuthEnable, op)))
                }
            }
        })
    })
    .await
}

/// `DELETE /platforms/{id}`: disconnects the shop: tokens wiped, REVOKED, a running sync
/// cancelled, never scheduled again; its orders, leads and records stay for
/// `[shops] history_retention_days`, then order-processor purges them. Idempotent.
#[tracing::instrument(name = "auth.revoke_shop", skip_all, fields(tenant_id = user.tenant_id.get(), platform_id = id.get()))]
pub async fn revoke(
    state: &AppState,
    user: &AuthUser,
    id: PlatformId,
) -> Result<Listed, AuthApiError> {
    let op = operator(user);
    let note = Note::by(user, "解除授权");
    let purge_after =
        chrono::Utc::now() + chrono::Duration::days(state.shops.history_retention_days);
    transition(
        state,
        user,
        id,
        AuditAction::PlatformAuthRevoke,
        &note,
        |conn, row| {
            let op = op.clone();
            let note = note.stored.clone();
            Box::pin(async move {
                if repo::revoke(conn, (row.tenant_id, row.id), &note, purge_after).await? == 0 {
                    return Ok(None);
                }
                sync_tasks::cancel_running(
                    conn,
                    (row.tenant_id, row.id),
                    "店铺已解除授权，同步已取消",
                )
                .await?;
                Ok(Some((AuditAction::PlatformAuthRevoke, op)))
            })
        },
    )
    .await
}

type Step<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<Option<(AuditAction, Operator)>, AuthApiError>>
            + Send
            + 'a,
    >,
>;

/// Who changed a shop, as its status reason says it: the whole name for the merchant's own
/// staff (the row, the API), the name masked for other teams (`platform.changed.v1`).
struct Note {
    stored: String,
    announced: String,
}

impl Note {
    fn by(user: &AuthUser, what: &str) -> Self {
        Note {
            stored: format!("已由 {} {what}", user.name),
            announced: format!("已由 {} {what}", mask_name(&user.name)),
        }
    }
}

/// Runs `step` on the tenant's row (locked), logs the transition it names, announces it with
/// `note` masked where the row carries it, and answers the row as it now reads. A refusal (an
/// unknown or another tenant's shop, a transition its state does not allow) is logged as
/// `attempted`, failed.
async fn transition<F>(
    state: &AppState,
    user: &AuthUser,
    id: PlatformId,
    attempted: AuditAction,
    note: &Note,
    step: F,
) -> Result<Listed, AuthApiError>
where
    F: for<'c> FnOnce(&'c mut leadgen_db::PgConn, AuthRow) -> Step<'c> + Send,
{
    let tenant = user.tenant_id;
    let trace_id = leadgen_telemetry::current_trace_id();
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let outcome = conn
        .transaction::<Listed, AuthApiError, _>(|conn| {
            async move {
                let row = repo::find_for_tenant_for_update(conn, tenant, id)
                    .await?
                    .ok_or(AuthApiError::PlatformNotFound)?;
                let row_id = row.id;
                let before = row.status;
                if let Some((action, op)) = step(conn, row).await? {
                    let entry = Entry {
                        tenant_id: tenant,
                        service: SERVICE,
                        operator: &op,
                        action,
                        target_type: AuditTarget::PlatformAuth,
                        target_ids: vec![row_id.to_string()],
                        result: Ok(()),
                    };
                    oplog::record(conn, entry, &trace_id).await?;
                }
                let now = repo::find_for_tenant(conn, tenant, row_id)
                    .await?
                    .ok_or(AuthApiError::PlatformNotFound)?;
                let reason = now.status_reason.clone().map(|r| {
                    if r == note.stored {
                        note.announced.clone()
                    } else {
                        r
                    }
                });
                announce::status_change_because(conn, before, &now, reason).await?;
                // As the list shows it: with its newest sync (a cancelled one says why).
                with_last_syncs(conn, tenant, vec![now])
                    .await?
                    .pop()
                    .ok_or(AuthApiError::PlatformNotFound)
            }
            .scope_boxed()
        })
        .await;
    if let Err(e @ (AuthApiError::PlatformNotFound | AuthApiError::NotActive)) = &outcome {
        let what = (attempted, AuditTarget::PlatformAuth);
        record_refusal_on(&mut conn, tenant, &operator(user), what, id, e).await;
    }
    outcome
}

/// `POST /platforms/{id}/reauthorize`: a new consent URL for the **same** record (its id, its
/// history). Until the merchant approves, the record keeps its status; approving makes it
/// ACTIVE with the new grant, and it must be the same shop.
#[tracing::instrument(name = "auth.reauthorize_shop", skip_all, fields(tenant_id = user.tenant_id.get(), platform_id = id.get()))]
pub async fn reauthorize(
    state: &AppState,
    user: &AuthUser,
    id: PlatformId,
    redirect_url: Option<String>,
) -> Result<Created, AuthApiError> {
    if let Some(url) = &redirect_url {
        check_redirect(state, url)?;
    }
    let tenant = user.tenant_id;
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let Some(row) = repo::find_for_tenant(&mut conn, tenant, id).await? else {
        let e = AuthApiError::PlatformNotFound;
        let what = (
            AuditAction::PlatformAuthReauthorize,
            AuditTarget::PlatformAuth,
        );
        record_refusal_on(&mut conn, tenant, &operator(user), what, id, &e).await;
        return Err(e);
    };
    let platform_type = row.platform_type;
    let client = state
        .platforms
        .get(platform_type)
        .ok_or_else(|| AuthApiError::PlatformNotSupported(platform_type.to_string()))?;
    let auth_info = state
        .sealer
        .open(&sealed::platform_auth("auth_info", row.id), &row.auth_info)?;
    let doc: serde_json::Value = leadgen_domain::stored_json::parse(&auth_info)
        .map_err(|e| AuthApiError::Unexpected(e.into()))?;
    let app = AppCredentials::from_auth_info(&row.app_key, &doc);
    let oauth_state = oauth::new_state()?;
    let state_hash = oauth::hash_state(&oauth_state);
    let op = operator(user);
    let trace_id = leadgen_telemetry::current_trace_id();
    let row_id = row.id;
    // A callback stored before callbackUrl was checked, or on an origin no longer allowed, is
    // replaced by the configured one: the code must come back to us.
    let callback_url = if check_callback(state, &row.callback_url).is_ok() {
        row.callback_url.clone()
    } else {
        tracing::warn!(
            platform.id = row_id.get(),
            "Stored callback is not ours; using the configured one"
        );
        state.oauth.callback_url.clone()
    };
    let callback = callback_url.clone();
    conn.transaction::<(), AuthApiError, _>(|conn| {
        async move {
            repo::begin_consent(
                conn,
                row_id,
                &state_hash,
                &callback,
                redirect_url.as_deref(),
            )
            .await?;
            let entry = Entry {
                tenant_id: tenant,
                service: SERVICE,
                operator: &op,
                action: AuditAction::PlatformAuthReauthorize,
                target_type: AuditTarget::PlatformAuth,
                target_ids: vec![row_id.to_string()],
                result: Ok(()),
            };
            oplog::record(conn, entry, &trace_id).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    let status = row.status;
    Ok(Created {
        platform_id: row.id.get(),
        platform_type,
        status,
        auth_url: client.authorize_url(&app, &callback_url, &oauth_state),
        consent: oauth::Consent {
            state: oauth_state,
            callback_url,
        },
    })
}
