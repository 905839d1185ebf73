//! The OAuth callback: the platform redirects the merchant's browser here with `code` and
//! `state`; we exchange the code, seal the tokens and mark the authorization ACTIVE.

use base64::Engine as _;
use chrono::{Duration, Utc};
use diesel_async::AsyncConnection as _;
use leadgen_db::ScopedFutureExt as _;
use leadgen_db::sealed;
use leadgen_domain::audit::AuditAction;
use leadgen_domain::{AuthStatus, PlatformId, PlatformType};
use leadgen_platforms::resilience::{RetryPolicy, with_retries_when};
use leadgen_platforms::{AppCredentials, PlatformError};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::error::AuthApiError;
use crate::repo::platforms::{self as repo, AuthRow};
use crate::service::activation::{self, Granted};
use crate::service::announce;
use crate::service::exchange_claim::{self, Claim};
use crate::startup::AppState;

/// How a code is exchanged for tokens while the merchant's browser waits: sent again, after up
/// to two seconds of backoff in all (each attempt bounded by the platform's timeout), only
/// after a failure that leaves the code unspent as far as we can tell
/// ([`PlatformError::may_resend_single_use`]), since a code is single-use (Kuaishou's lives two
/// minutes, Douyin's ten).
const EXCHANGE_RETRIES: RetryPolicy = RetryPolicy {
    max_retries: 2,
    min_delay: std::time::Duration::from_millis(300),
    max_delay: std::time::Duration::from_secs(1),
    max_stated_wait: std::time::Duration::from_secs(2),
};

/// A fresh, unguessable state value (32 random bytes, URL-safe Base64). Fails only when the
/// operating system gives no randomness: a state anyone could guess would defeat what it is
/// for (a consent completed by the one who asked), so the request fails instead.
pub fn new_state() -> Result<String, AuthApiError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| {
        AuthApiError::Unexpected(anyhow::anyhow!(
            "the operating system gave no randomness for an OAuth state"
        ))
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a state: its SHA-256, hex.
pub fn hash_state(state: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        state.as_bytes(),
    ))
}

/// What binds a consent to the browser that asked for it (`routes::consent`): the raw state and
/// the callback the platform sends the browser back to. Its `Debug` leaves the state out.
#[derive(Clone)]
pub struct Consent {
    pub state: String,
    pub callback_url: String,
}

impl std::fmt::Debug for Consent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consent")
            .field("state", &"[REDACTED]")
            .field("callback_url", &self.callback_url)
            .finish()
    }
}

/// The callback's query (`code`, `state`, or `error` when the merchant refused). Its `Debug`
/// leaves the authorization code and the state out: either would let whoever reads a log
/// finish the merchant's consent.
#[derive(Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| v.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("CallbackQuery")
            .field("code", &shown(&self.code))
            .field("state", &shown(&self.state))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

/// The outcome of a callback.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Completed {
    pub platform_id: i64,
    #[schema(value_type = leadgen_http::openapi::PlatformTypeSchema)]
    pub platform_type: PlatformType,
    /// `ACTIVE` or `INVALID`.
    #[schema(value_type = crate::openapi::AuthStatusSchema)]
    pub status: AuthStatus,
    #[schema(required = true)]
    pub shop_name: Option<String>,
    /// Where to send the browser (the front end's `redirectUrl`), if one was given.
    #[serde(skip)]
    #[schema(ignore)]
    pub redirect_to: Option<String>,
    /// A refusal sent back to the front end that leaves the consent usable (the platform did
    /// not exchange the code): its cookie is kept for another try
    /// ([`AuthApiError::keeps_consent`]).
    #[serde(skip)]
    #[schema(ignore)]
    pub keeps_consent: bool,
}

/// Handles the platform's redirect. `bound`: the browser brought the consent's cookie, or
/// binding is off (`routes::consent`); a consent completed elsewhere with a code is refused and
/// spent (a new authorization INVALID), so the code it carried can never connect the shop; one
/// without a code is refused and left pending.
#[tracing::instrument(name = "auth.complete_oauth", skip_all)]
pub async fn complete(
    state: &AppState,
    query: CallbackQuery,
    bound: bool,
) -> Result<Completed, AuthApiError> {
    let raw_state = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(AuthApiError::OAuthState)?;
    let state_hash = hash_state(raw_state);
    let mut conn = leadgen_db::conn(&state.pool).await?;
    let row = repo::find_pending_by_state(&mut conn, &state_hash)
        .await?
        .filter(|r| {
            r.oauth_state_issued_at.unwrap_or(r.update_time)
                > Utc::now() - Duration::minutes(state.oauth.state_ttl_minutes)
        })
        .ok_or(AuthApiError::OAuthState)?;
    let platform = row.platform_type;
    let carries_code = query.code.as_deref().is_some_and(|c| !c.is_empty());
    if !bound && !carries_code {
        // Nothing to keep from anyone (a denial, or someone who only learnt the `state` from a
        // forwarded link): refused, and the merchant's consent left to complete in their own
        // browser rather than spent by whoever holds the link.
        // Answered as any unusable callback (the consent is not spent, so the foreign-browser
        // message, 本次授权已作废, would not be true), and not written to the operation log:
        // anyone holding the link could add lines there in the merchant's name.
        tracing::warn!(
            platform.id = row.id.get(),
            "Callback without a code from another browser than the one that asked; refused"
        );
        return refused(&row, AuthApiError::OAuthState, row.status);
    }
    if !bound {
        // The consent is spent: the platform's code for it arrived in a browser that may be
        // a victim's, and a link forwarded back to the browser that asked must not complete it.
        let (code, message) = AuthApiError::ForeignBrowser.audit();
        invalidate(&mut conn, &row, &state_hash, &format!("{code} {message}")).await?;
        tracing::warn!(
            platform.id = row.id.get(),
            "Consent completed in another browser than the one that asked; refused and spent"
        );
        return refused(&row, AuthApiError::ForeignBrowser, after_refusal(&row));
    }

    let code = match (
        &query.error,
        query.code.as_deref().filter(|c| !c.is_empty()),
    ) {
        (None, Some(code)) => code.to_owned(),
        (error, _) => {
            // The platform's refusal in its own words; a redirect with neither a code nor an
            // error said nothing, and is not quoted as if the platform had.
            let (detail, shown) = match error {
                Some(reason) => {
                    let detail = format!(
                        "{reason} {}",
                        query.error_description.clone().unwrap_or_default()
                    );
                    let shown = explain_refusal(detail.trim());
                    (detail, shown)
                }
                None => (
                    "回调中没有授权码".to_owned(),
                    "电商平台未返回授权结果（回调中没有授权码），请重新发起授权".to_owned(),
                ),
            };
            invalidate(&mut conn, &row, &state_hash, &shown).await?;
            return refused(
                &row,
                AuthApiError::OAuthExchange(detail),
                after_refusal(&row),
            );
        }
    };

    let client = state
        .platforms
        .get(platform)
        .ok_or_else(|| AuthApiError::PlatformNotSupported(platform.to_string()))?;
    let auth_info = state
        .sealer
        .open(&sealed::platform_auth("auth_info", row.id), &row.auth_info)?;
    let secret_doc: serde_json::Value = leadgen_domain::stored_json::parse(&auth_info)
        .map_err(|e| AuthApiError::Unexpected(e.into()))?;
    let app = AppCredentials::from_auth_info(&row.app_key, &secret_doc);
    // The connection goes back to the pool for the platform call: the call waits on the shared
    // rate gate, which takes a connection of its own, and a burst of consents each holding
    // one would starve the pool (every auth-api request then waiting out its timeout).
    drop(conn);
    match exchange_claim::claim(&state.pool, &row, &state_hash).await? {
        Claim::Ours => {}
        // Another callback of this consent (a reload) finished with it: its outcome.
        Claim::Settled(now) => {
            return match exchange_claim::activated(&row, &now) {
                Some(id) => Ok(completed(
                    &row,
                    id,
                    AuthStatus::Active,
                    now.shop_name.clone(),
                )),
                None => refused(
                    &row,
                    AuthApiError::OAuthExchange(now.status_reason.clone().unwrap_or_default()),
                    now.status,
                ),
            };
        }
        Claim::StillRunning => {
            let error = AuthApiError::Platform(exchange_claim::IN_PROGRESS.into());
            return refused(&row, error, row.status);
        }
    }
    let stored = exchange_and_store(
        state,
        &row,
        &state_hash,
        &code,
        client.as_ref(),
        &app,
        &auth_info,
    )
    .await;
    if stored.is_err() {
        // Whatever failed after the claim (the database, say), the code may be unspent: a
        // reload of the callback page may try it, now rather than after the claim's lease.
        match leadgen_db::conn(&state.pool).await {
            Ok(mut conn) => {
                if let Err(e) = repo::release_exchange(&mut conn, row.id, &state_hash).await {
                    tracing::warn!(error = %e, "Could not release the consent's exchange claim");
                }
            }
            Err(e) => tracing::warn!(error = %e, "Could not release the consent's exchange claim"),
        }
    }
    stored
}

/// How long after the platform answered a consent's code its tokens may still be stored again
/// after a passing failure of the database ([`leadgen_db::worth_retrying`]): well within what the
/// gateway waits for the callback page (60 s) and the exchange claim's lease (three minutes),
/// past which a reload could take the exchange over.
const ACTIVATION_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(20);
/// How long the callback waits before each new try.
const ACTIVATION_RETRY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a passing failure may be tried again: there is room left before `deadline` for a wait
/// and a try. Waits when so.
async fn again_before(deadline: tokio::time::Instant) -> bool {
    if tokio::time::Instant::now() + ACTIVATION_RETRY_WAIT >= deadline {
        return false;
    }
    tokio::time::sleep(ACTIVATION_RETRY_WAIT).await;
    true
}

/// A connection to store what the platform answered a consent's code with: a checkout that
/// finds no free connection is tried again until `deadline`.
async fn conn_for_grant(
    state: &AppState,
    deadline: tokio::time::Instant,
) -> Result<leadgen_db::PooledConn, AuthApiError> {
    loop {
        match leadgen_db::conn(&state.pool).await {
            Ok(conn) => return Ok(conn),
            Err(e) if e.worth_retrying() && again_before(deadline).await => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Exchanges the consent's code (this callback holds the exchange: [`exchange_claim`]) and
/// stores what it granted, or the refusal.
async fn exchange_and_store(
    state: &AppState,
    row: &AuthRow,
    state_hash: &str,
    code: &str,
    client: &dyn leadgen_platforms::PlatformClient,
    app: &AppCredentials,
    auth_info: &str,
) -> Result<Completed, AuthApiError> {
    let platform = row.platform_type;
    let exchanged = with_retries_when(
        EXCHANGE_RETRIES,
        platform,
        PlatformError::may_resend_single_use,
        || client.exchange_code(app, code, &row.callback_url),
    )
    .await;
    // Once the platform answered, the code is spent: what it answered is stored, through a
    // passing failure of the database too, until the deadline.
    let deadline = tokio::time::Instant::now() + ACTIVATION_RETRY_FOR;
    let mut conn = conn_for_grant(state, deadline).await?;
    let tokens = match exchanged {
        Ok(tokens) => tokens,
        // Refused, or a request the platform rejects (a wrong app secret fails the signature:
        // Douyin `isv.signature-invalid`): the code is spent either way, so the attempt ends.
        Err(PlatformError::AuthRefused(reason) | PlatformError::InvalidRequest(reason)) => {
            invalidate(&mut conn, row, state_hash, &explain_refusal(&reason)).await?;
            return refused(row, AuthApiError::OAuthExchange(reason), after_refusal(row));
        }
        // The platform failed (unavailable, malformed), or answered what it documents nowhere
        // (JD names no token error; a throttle inside a token answer): the record waits for
        // another attempt, and the failure, with the platform's words, is in the operation log.
        // A new authorization shows why in its `statusReason` meanwhile, and a browser sent by
        // a front end goes back to it (with `error`), like any refusal: a merchant whose app
        // secret is wrong sees the platform's words instead of a record pending for ever.
        Err(other) => {
            let error = other.to_string();
            // The code may be unspent: a reload of the callback page may try it again.
            repo::release_exchange(&mut conn, row.id, state_hash).await?;
            if row.status == AuthStatus::PendingAuth {
                let reason = format!("{}（{error}）", crate::error::CODE_EXCHANGE_UNFINISHED);
                repo::set_status(
                    &mut conn,
                    (row.tenant_id, row.id),
                    &[AuthStatus::PendingAuth],
                    AuthStatus::PendingAuth,
                    Some(&reason),
                )
                .await?;
            }
            activation::record_callback(
                &mut conn,
                row,
                AuditAction::PlatformAuthActivate,
                vec![row.id.to_string()],
                Err(error.clone()),
            )
            .await?;
            return refused(row, AuthApiError::CodeExchange(error), row.status);
        }
    };

    let granted = Granted {
        row,
        state_hash,
        tokens: &tokens,
        auth_info,
        backfill_days: served_days(client, state.oauth.backfill_days),
    };
    // The code is spent and its tokens are only in memory now: a passing failure of the
    // database is tried again rather than lose them (a reload could only exchange the spent
    // code, and the platform's refusal would end the authorization).
    let activated = loop {
        match activation::activate(&mut conn, &state.sealer, granted).await {
            Err(e) if e.worth_retrying() && again_before(deadline).await => {
                tracing::warn!(error = %e, "Could not store a consent's tokens for a passing reason; storing them again");
                conn = conn_for_grant(state, deadline).await?;
            }
            activated => break activated,
        }
    };
    let platform_id = match activated {
        Ok(id) => id,
        // Another seller approved: the state is spent, the refusal logged, and the browser
        // goes back to the front end like any refusal; the shop keeps its grant.
        Err(AuthApiError::ShopMismatch) => {
            invalidate(&mut conn, row, state_hash, crate::error::SHOP_MISMATCH).await?;
            return refused(row, AuthApiError::ShopMismatch, after_refusal(row));
        }
        // Another account holds the shop through the same app: refused alike.
        Err(AuthApiError::ShopConnectedElsewhere) => {
            let reason = crate::error::SHOP_CONNECTED_ELSEWHERE;
            invalidate(&mut conn, row, state_hash, reason).await?;
            let error = AuthApiError::ShopConnectedElsewhere;
            return refused(row, error, after_refusal(row));
        }
        Err(e) => return Err(e),
    };
    tracing::info!(
        platform.id = platform_id.get(),
        "Platform authorization is ACTIVE"
    );
    Ok(completed(
        row,
        platform_id,
        AuthStatus::Active,
        tokens.shop_name,
    ))
}

/// A refused authorization: the browser goes back to the front end when it gave a
/// `redirectUrl`, with the record's `status` as it now is and `error` the business code;
/// otherwise the answer is `error`'s envelope.
fn refused(
    row: &AuthRow,
    error: AuthApiError,
    status: AuthStatus,
) -> Result<Completed, AuthApiError> {
    if row.redirect_url.is_none() {
        return Err(error);
    }
    let keeps_consent = error.keeps_consent();
    let code = leadgen_http::ApiError::from(error).code();
    let mut done = completed(row, row.id, status, None);
    done.redirect_to = done.redirect_to.map(|to| with_error(&to, code));
    done.keeps_consent = keeps_consent;
    Ok(done)
}

/// A refusal's reason as the merchant reads it: what it means
/// ([`crate::error::refusal_meaning`]), then the platform's own words.
fn explain_refusal(raw: &str) -> String {
    let meaning =
        crate::error::refusal_meaning(raw).unwrap_or("电商平台拒绝了授权，请重新发起授权");
    format!("{meaning}（平台返回：{raw}）")
}

/// A record's status once its consent was refused: a new authorization INVALID; a re-authorized
/// shop keeps its earlier grant and status.
fn after_refusal(row: &AuthRow) -> AuthStatus {
    match row.status {
        AuthStatus::PendingAuth => AuthStatus::Invalid,
        kept => kept,
    }
}

/// `to` with `error=<code>` in its query, before any fragment.
fn with_error(to: &str, code: u32) -> String {
    match url::Url::parse(to) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .append_pair("error", &code.to_string());
            url.to_string()
        }
        Err(_) => to.to_owned(),
    }
}

fn completed(
    row: &AuthRow,
    platform_id: PlatformId,
    status: AuthStatus,
    shop_name: Option<String>,
) -> Completed {
    // Into the query, before any fragment the front end's URL has (a single-page app's route).
    let redirect_to = row
        .redirect_url
        .as_deref()
        .and_then(|url| {
            let parsed = url::Url::parse(url).ok();
            if parsed.is_none() {
                // Checked when it was stored; unreadable now, the callback answers the envelope.
                tracing::warn!(
                    platform.id = platform_id.get(),
                    "Stored redirectUrl is not a URL"
                );
            }
            parsed
        })
        .map(|mut url| {
            url.query_pairs_mut()
                .append_pair("platformId", &platform_id.to_string())
                .append_pair("platformType", row.platform_type.as_str())
                .append_pair("status", status.as_str());
            url.to_string()
        });
    Completed {
        platform_id: platform_id.get(),
        platform_type: row.platform_type,
        status,
        shop_name,
        redirect_to,
        keeps_consent: false,
    }
}

async fn invalidate(
    conn: &mut leadgen_db::PgConn,
    row: &AuthRow,
    state_hash: &str,
    reason: &str,
) -> Result<(), AuthApiError> {
    let (id, state_hash, reason) = (row.id, state_hash.to_owned(), reason.to_owned());
    conn.transaction::<(), AuthApiError, _>(|conn| {
        async move {
            if repo::invalidate(conn, id, &state_hash, &reason).await? > 0
                && let Some(now) = repo::find_for_tenant(conn, row.tenant_id, id).await?
            {
                announce::status_change(conn, row.status, &now).await?;
            }
            activation::record_callback(
                conn,
                row,
                AuditAction::PlatformAuthActivate,
                vec![id.to_string()],
                Err(reason),
            )
            .await
        }
        .scope_boxed()
    })
    .await?;
    tracing::warn!(platform.id = row.id.get(), "Platform authorization refused");
    Ok(())
}

/// The backfill's days: `[oauth] backfill_days`, or fewer where the platform serves less history
/// by creation time (Taobao 88 days, Kuaishou 89). A backfill takes as much history as the
/// platform serves; asking for more would only clip it, with a warning about the platform's own
/// limit on every new shop.
pub(crate) fn served_days(client: &dyn leadgen_platforms::PlatformClient, days: i64) -> i64 {
    if days <= 0 {
        return days;
    }
    let now = chrono::Utc::now();
    let range = leadgen_platforms::TimeWindow::new(now - chrono::Duration::days(days), now);
    match client
        .windows(range, now, leadgen_platforms::Listing::Created)
        .first()
    {
        Some(first) if first.start > range.start => (now - first.start).num_days().clamp(0, days),
        _ => days,
    }
}
