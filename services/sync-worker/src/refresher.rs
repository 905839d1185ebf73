//! Tokens refreshed ahead of expiry, so a shop's sync or a salesperson's reveal never starts on
//! a token about to die. Every `interval`, each ACTIVE shop (and each paused one whose access
//! token is still alive: a pause keeps the grant) whose access token expires within
//! `ahead` (or whose refresh token, still usable, lapses within it and before the access token:
//! the grant then goes on instead of ending with the access token) is refreshed through its
//! platform's own refresh call (Douyin hands back the same
//! pair while more than an hour is left, so `ahead` stays under an hour). A refused refresh
//! token marks an ACTIVE shop EXPIRED (or INVALID when the grant is refused rather than lapsed)
//! with the reason, and it is no longer scheduled; a paused shop stays paused. Any other failure (an answer the platform
//! documents nowhere among them) is tried again, no sooner than [`RETRY_FAILED_AFTER`] so that
//! such shops never hold the others back, until the access token has been expired for
//! `give_up`, or the platform has answered its refreshes without tokens for `give_up` since it
//! said the access token expired (PDD, JD and Kuaishou document no refusal of a refresh, and a
//! PDD token's expiry follows the merchant's subscription, a year away): the shop cannot work
//! anyway, and is EXPIRED (or INVALID) with the platform's last words, so the merchant is told
//! to authorize again. One caller renews a shop's tokens at a time, across
//! replicas and services (the session's renewal lock, `leadgen_shop_session::renewal_lock_key`):
//! a replica that finds a shop being renewed waits, then finds its new tokens stored and takes
//! them without a refresh of its own.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use leadgen_crypto::Sealer;
use leadgen_db::DbPool;
use leadgen_domain::{AuthStatus, PlatformId};
use leadgen_platforms::resilience::RetryPolicy;
use leadgen_platforms::session::SessionError;
use leadgen_platforms::{PlatformError, Registry};
use leadgen_shop_session::{self as shop_session, CredentialRow, CredentialSink};
use tokio_util::sync::CancellationToken;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub refreshed: usize,
    pub expired: usize,
    pub failed: usize,
}

pub struct Refresher {
    pub pool: DbPool,
    pub sealer: Arc<Sealer>,
    pub platforms: Registry,
    pub policy: RetryPolicy,
    pub ahead: chrono::Duration,
    pub interval: Duration,
    /// How long after its access token expired a shop whose refresh keeps failing is EXPIRED.
    pub give_up: chrono::Duration,
    /// The shops whose refresh failed, and when (this replica's memory).
    pub failed: std::sync::Mutex<std::collections::HashMap<PlatformId, std::time::Instant>>,
}

/// A shop whose refresh failed is tried again after this long, not at every pass.
pub const RETRY_FAILED_AFTER: Duration = Duration::from_secs(30 * 60);

impl Refresher {
    /// One pass over the shops whose tokens expire within `ahead` (at most 100).
    pub async fn refresh_once(&self) -> anyhow::Result<Refreshed> {
        self.refresh_until(&CancellationToken::new()).await
    }

    /// [`Refresher::refresh_once`], stopping before the next shop once `stop` fires: a pass of
    /// a hundred shops, each refresh with its retries, would outlast the pod's grace period and
    /// be killed mid-renewal. The shops left are still ahead of their expiry, for the next pass
    /// here or on another replica.
    async fn refresh_until(&self, stop: &CancellationToken) -> anyhow::Result<Refreshed> {
        let resting = self.resting();
        let rows = {
            // Returned before the refreshes: a renewal needs connections of its own.
            let mut conn = leadgen_db::conn(&self.pool).await?;
            shop_session::expiring(&mut conn, Utc::now() + self.ahead, 100, &resting).await?
        };
        let mut done = Refreshed::default();
        for row in rows {
            if stop.is_cancelled() {
                break;
            }
            let outcome = self.refresh(&row).await?;
            self.remember(row.id, matches!(outcome, Outcome::Failed));
            match outcome {
                Outcome::Refreshed => done.refreshed += 1,
                Outcome::Expired => done.expired += 1,
                Outcome::Failed => done.failed += 1,
            }
        }
        Ok(done)
    }

    /// The shops whose refresh failed less than [`RETRY_FAILED_AFTER`] ago.
    fn resting(&self) -> Vec<i64> {
        let Ok(mut failed) = self.failed.lock() else {
            return Vec::new();
        };
        failed.retain(|_, at| at.elapsed() < RETRY_FAILED_AFTER);
        failed.keys().map(|id| id.get()).collect()
    }

    fn remember(&self, id: PlatformId, failed: bool) {
        if let Ok(mut memory) = self.failed.lock() {
            if failed {
                memory.insert(id, std::time::Instant::now());
            } else {
                memory.remove(&id);
            }
        }
    }

    /// A trace of its own per shop (the loop's span lives as long as the process): a shop it
    /// ends is announced and logged under it.
    #[tracing::instrument(parent = None, name = "token.refresh", skip_all, fields(tenant_id = row.tenant_id.get(), platform_id = row.id.get()))]
    async fn refresh(&self, row: &CredentialRow) -> anyhow::Result<Outcome> {
        let Some(client) = self.platforms.get(row.platform_type) else {
            tracing::warn!(
                platform.id = row.id.get(),
                platform.name = %row.platform_type,
                "No client for the shop's platform (not configured in [platforms]); its tokens cannot be refreshed"
            );
            return Ok(Outcome::Failed);
        };
        // Credentials that do not open (another data key, damaged) fail this shop alone: it
        // rests like any failed refresh and never holds the others back, soonest as it expires.
        let mut session = match shop_session::open_session(&self.sealer, row, self.policy) {
            Ok(session) => session,
            Err(e) => {
                tracing::error!(platform.id = row.id.get(), error = %e, "The shop's credentials do not open; its tokens cannot be refreshed");
                return Ok(Outcome::Failed);
            }
        };
        let sink = CredentialSink {
            pool: self.pool.clone(),
            sealer: Arc::clone(&self.sealer),
            platform_id: row.id,
        };
        let paused = row.status == AuthStatus::Disabled;
        match session.refresh_now(client.as_ref(), &sink).await {
            Ok(()) => {
                tracing::info!(
                    platform.id = row.id.get(),
                    "Refreshed a platform session ahead of expiry"
                );
                Ok(Outcome::Refreshed)
            }
            // A paused shop stays paused (the merchant's decision): the refusal shows when it
            // is resumed, at its first call. It rests like a failure and, its access token
            // ended, is not asked again.
            Err(SessionError::Expired(reason)) if paused => {
                tracing::warn!(platform.id = row.id.get(), reason = %reason, "Refresh of a paused shop refused; it stays paused");
                Ok(Outcome::Failed)
            }
            Err(SessionError::Expired(reason)) => {
                tracing::warn!(platform.id = row.id.get(), reason = %reason, "Refresh refused; marking the shop EXPIRED or INVALID");
                self.end(row, &reason).await
            }
            Err(other) => {
                let long_ago = |at: chrono::DateTime<Utc>| at < Utc::now() - self.give_up;
                let hours = self.give_up.num_hours();
                let reason = if paused {
                    None
                } else if row.expiry_time.is_some_and(long_ago) {
                    Some(format!(
                        "访问令牌已过期超过 {hours} 小时，刷新仍然失败：{other}"
                    ))
                } else if row.refresh_refused_since.is_some_and(long_ago) && refused_again(&other) {
                    // The platform said the access token expired, and has answered every
                    // refresh since without tokens: the grant is gone (a merchant who cancelled
                    // the app's authorization), whatever the expiry it was given with says.
                    Some(format!(
                        "电商平台已超过 {hours} 小时拒绝该店铺的访问令牌且不予刷新，刷新仍然失败：{other}"
                    ))
                } else {
                    None
                };
                if let Some(reason) = reason {
                    tracing::warn!(platform.id = row.id.get(), error = %other, "Refresh keeps failing long after the session ended; marking the shop EXPIRED or INVALID");
                    return self.end(row, &reason).await;
                }
                tracing::warn!(platform.id = row.id.get(), error = %other, "Refresh failed; will try again");
                Ok(Outcome::Failed)
            }
        }
    }

    /// Ends the shop's grant (the one the row holds) with `reason`: EXPIRED or INVALID.
    async fn end(&self, row: &CredentialRow, reason: &str) -> anyhow::Result<Outcome> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        shop_session::mark_expired(&mut conn, row.id, row.activated_at, reason, crate::SERVICE)
            .await?;
        Ok(Outcome::Expired)
    }

    /// Passes every `interval` until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.refresh_until(&cancel).await {
                tracing::warn!(error = %format!("{e:#}"), "Token refresh pass failed; will try again");
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}

enum Outcome {
    Refreshed,
    Expired,
    Failed,
}

/// Whether the platform answered this refresh without tokens again (an answer of unknown
/// meaning, or one without its tokens): not a transport failure, nor ours (the database, the
/// rate gate, a failed store of tokens it did give).
fn refused_again(error: &SessionError) -> bool {
    matches!(
        error,
        SessionError::Platform(PlatformError::Unknown { .. } | PlatformError::Malformed(_))
    )
}
