//! A platform session: the shop's tokens and the one policy every caller shares. Transient
//! failures are retried with backoff ([`crate::resilience`]); an expired session gets one
//! refresh and one retry (a later expiry in the same run gets its own); an error code the adapter
//! does not know is retried like a transient failure and then, once, after a refresh, before it
//! is returned with the platform's code and message. The refreshed tokens
//! are handed to a [`TokenSink`] to persist before they are used. Revealing a contact
//! ([`Session::decrypt_contact`]) spends the platform's decrypt quota: it is sent again only when
//! nothing reached the platform or a throttle turned it away, an expired token is refreshed
//! once, and every other failure, an unknown code included, is returned at once.

use crate::client::{
    AppCredentials, Listing, OrderPage, PageCursor, PlatformClient, PlatformError, TokenSet,
    platform_said,
};
use crate::resilience::{RetryPolicy, with_retries, with_retries_when};
use crate::reveal::{DecryptRequest, RevealedContact};
use crate::window::TimeWindow;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

/// Why refreshed tokens were not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Worth another try: the database away, a pool's wait run out.
    #[error("{0}")]
    Transient(String),
    /// Never will be: the shop is no longer connected, a value does not seal.
    #[error("{0}")]
    Refused(String),
    /// The shop no longer holds the refresh token these tokens were refreshed from: the
    /// merchant authorized again meanwhile (a consent stored a new grant). The stored tokens
    /// are the ones to use; these belong to the grant the consent replaced.
    #[error("{0}")]
    Superseded(String),
}

/// Persists refreshed tokens (sealed, in the authorization's row).
#[async_trait::async_trait]
pub trait TokenSink: Send + Sync {
    /// Stores `tokens`, refreshed with the refresh token `refreshed_from`, only while the shop
    /// still holds that refresh token ([`StoreError::Superseded`] when it holds another): a
    /// refresh of the old grant that outlasts a new consent never writes over the new grant.
    async fn store(&self, tokens: &TokenSet, refreshed_from: &str) -> Result<(), StoreError>;

    /// Waits until no other caller, in any process, is renewing this shop's tokens, and keeps
    /// the others waiting until the lock is released. Two refreshes of one refresh token at once
    /// are unsafe: how a platform treats a refresh token used twice is mostly undocumented
    /// (Douyin invalidates the old pair after expiry, README §4.1), and the pair stored last may
    /// be the one the platform retired. The caller that waited then finds the other's tokens
    /// stored and adopts them. `None`: this sink has no lock.
    async fn exclusive(&self) -> Result<Option<Box<dyn RenewalLock>>, String> {
        Ok(None)
    }

    /// The shop's tokens as stored now, `(access, refresh)`, when the sink can read them back.
    /// Another caller (the refresher, another sync, a reveal, another replica) may have
    /// refreshed since this session opened: platforms that rotate refresh tokens refuse the old
    /// one after a refresh, and the stored pair is then the one to use.
    async fn stored(&self) -> Result<Option<(String, Option<String>)>, String> {
        Ok(None)
    }

    /// The platform said the shop's access token expired, and answered the refresh with no
    /// tokens and no documented refusal (PDD, JD and Kuaishou document none for their token
    /// endpoints): the shop cannot be called, and may never be again. The sink keeps when this
    /// began, so that a shop still refused long after is ended (sync-worker's refresher) rather
    /// than left looking connected.
    async fn refresh_refused(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A shop's renewal held by one caller ([`TokenSink::exclusive`]).
#[async_trait::async_trait]
pub trait RenewalLock: Send {
    /// Lets the next caller renew. A lock dropped without it (a cancelled call) is released
    /// all the same, if later.
    async fn release(self: Box<Self>);
}

/// How long after a refused refresh the stored tokens are read once more: a concurrent
/// refresh that rotated the token may still be storing its answer.
pub const CONCURRENT_REFRESH_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a session call failed for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The session is dead: no refresh token, the refresh was refused, or the refreshed session
    /// was refused again. The merchant must authorize again.
    #[error("店铺授权已失效且无法续期：{0}")]
    Expired(String),
    /// The platform failed permanently, or transiently beyond the retry budget.
    #[error(transparent)]
    Platform(PlatformError),
    /// Refreshed tokens could not be stored (our infrastructure).
    #[error("无法保存刷新后的令牌：{0}")]
    Persist(String),
    /// The session's stop fired ([`Session::stop_on`]): the call was given up while it waited
    /// on the platform, the rate limiter or a backoff. A renewal is never given up midway.
    #[error("进程正在停止，平台调用已中止")]
    Stopped,
}

/// What a call may be sent again after, and whether an answer of unknown meaning is taken for
/// an expired token (refreshed once, then sent again).
#[derive(Debug, Clone, Copy)]
struct Resend {
    after: fn(&PlatformError) -> bool,
    refresh_on_unknown: bool,
}

/// Listing orders costs nothing but the rate: any failure that may pass is tried again, and an
/// unknown code may be an undocumented way of saying the token expired.
const LISTING: Resend = Resend {
    after: PlatformError::is_transient,
    refresh_on_unknown: true,
};

/// A decrypt spends the platform's decrypt quota, which counts calls (failed ones too on JD,
/// README §2.4): sent again only when nothing reached the platform or it refused the call
/// unanswered ([`PlatformError::may_resend_decrypt`]), never after a timeout or an answer we
/// could not read (it may have decrypted), and an unknown code (every JD, PDD and Kuaishou
/// quota or permission refusal) is returned at once, not taken for an expired token.
const DECRYPT: Resend = Resend {
    after: PlatformError::may_resend_decrypt,
    refresh_on_unknown: false,
};

/// How a session got new tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renewed {
    /// Another caller's, read back from the sink.
    Adopted,
    /// This session's own refresh (or, after it was refused, a concurrent one's).
    Refreshed,
}

/// A shop's credentials and current tokens.
pub struct Session {
    pub app: AppCredentials,
    access_token: String,
    refresh_token: Option<String>,
    policy: RetryPolicy,
    /// When the access token expires, if the platform said ([`Session::expiring_at`]).
    expires_at: Option<DateTime<Utc>>,
    /// Gives up calls when it fires ([`SessionError::Stopped`]).
    stop: Option<CancellationToken>,
}

/// How close to its stated expiry an access token is renewed before a call rather than after
/// the platform refuses it.
const RENEW_BEFORE_EXPIRY: chrono::Duration = chrono::Duration::seconds(60);

impl Session {
    pub fn new(
        app: AppCredentials,
        access_token: String,
        refresh_token: Option<String>,
        policy: RetryPolicy,
    ) -> Self {
        Session {
            app,
            access_token,
            refresh_token,
            policy,
            expires_at: None,
            stop: None,
        }
    }

    /// The session's access token expires at `expires_at` (as the platform stated when it was
    /// issued): a call made within [`RENEW_BEFORE_EXPIRY`] of it, or after, refreshes first.
    /// Waiting for the platform to refuse the token would cost more: an expired token is an
    /// undocumented answer on Kuaishou (retried with backoff before it is refreshed), and a
    /// decrypt never refreshes on an unknown answer, so a reveal on a lapsed Kuaishou token
    /// would fail until the refresher caught up.
    #[must_use]
    pub fn expiring_at(mut self, expires_at: Option<DateTime<Utc>>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Gives up the session's calls when `stop` fires (the process stops): a call waiting on
    /// the platform, the rate limiter or a backoff ends at once with [`SessionError::Stopped`].
    /// A renewal is not interrupted: the platform may retire the old refresh token with its
    /// answer, and the new pair must be stored first.
    pub fn stop_on(&mut self, stop: CancellationToken) {
        self.stop = Some(stop);
    }

    /// One page of orders under the session policy, its display texts [`printable`].
    ///
    /// [`printable`]: leadgen_domain::printable
    pub async fn list_orders(
        &mut self,
        client: &dyn PlatformClient,
        window: &TimeWindow,
        listing: Listing,
        cursor: Option<&PageCursor>,
        sink: &dyn TokenSink,
    ) -> Result<OrderPage, SessionError> {
        let mut page = self
            .call(client, sink, LISTING, |app, token| async move {
                client
                    .list_orders(&app, &token, window, listing, cursor)
                    .await
            })
            .await?;
        // Display texts as they may be stored and shown, whatever the adapter read. An order id
        // with control characters (a NUL, which PostgreSQL refuses, would fail the whole page)
        // names no order the platform would know again: kept as an unidentified, unreadable one.
        // So is one whose id is longer than any platform's (the database indexes ids, and an
        // entry has a size limit). An order whose times no order can have is unreadable.
        let now = chrono::Utc::now();
        for order in &mut page.orders {
            if let Some(why) = order.order_id.as_deref().and_then(unusable_id) {
                order.order_id = None;
                order.parsed = Err(why.to_owned());
            }
            if let Some(field) = order
                .parsed
                .as_ref()
                .ok()
                .and_then(|p| p.implausible_time(now))
            {
                order.parsed = Err(format!(
                    "字段 {field} 的时间不合理（早于 1990 年或晚于一年后）"
                ));
            }
            match &mut order.parsed {
                Ok(parsed) => parsed.make_printable(),
                Err(reason) => *reason = leadgen_domain::printable(reason).into_owned(),
            }
        }
        Ok(page)
    }

    /// One order's receiver phone through the platform's decrypt API, under the session policy
    /// (see [`PlatformClient::decrypt_contact`]).
    pub async fn decrypt_contact(
        &mut self,
        client: &dyn PlatformClient,
        request: &DecryptRequest,
        sink: &dyn TokenSink,
    ) -> Result<RevealedContact, SessionError> {
        let revealed = self
            .call(client, sink, DECRYPT, |app, token| async move {
                client.decrypt_contact(&app, &token, request).await
            })
            .await?;
        // A number nobody can dial is no answer: refused, never handed to a salesperson.
        match revealed.undialable(chrono::Utc::now()) {
            None => Ok(revealed),
            Some(why) => Err(SessionError::Platform(PlatformError::DecryptFailed {
                code: String::new(),
                message: why,
            })),
        }
    }

    /// Runs `op` with the current credentials and access token: transient failures retried, an
    /// expired session refreshed once (persisted through `sink`) and `op` run again. `op` takes
    /// owned values so its future borrows nothing of the session (and stays `Send`).
    async fn call<T, Fut>(
        &mut self,
        client: &dyn PlatformClient,
        sink: &dyn TokenSink,
        resend: Resend,
        mut op: impl FnMut(AppCredentials, String) -> Fut,
    ) -> Result<T, SessionError>
    where
        Fut: Future<Output = Result<T, PlatformError>>,
    {
        // One refresh per call; tokens another caller stored may be adopted once besides, and
        // adopting them does not use the refresh up (they may be stale: the last of two
        // concurrent refreshes to be stored is not always the newest).
        let (mut refreshed, mut adopted) = (false, false);
        // A renewal ahead of the call that failed for now: it spent the call's one refresh (the
        // platform may have answered it, and the same refresh token is never sent again after
        // an answer), and it is what the call reports if the stored token is refused.
        let mut renewal_failed: Option<PlatformError> = None;
        if self.lapsing() {
            let past = self.expires_at.is_some_and(|at| at <= Utc::now());
            match self.renew(client, sink, true, past).await {
                Ok(Renewed::Adopted) => adopted = true,
                Ok(Renewed::Refreshed) => refreshed = true,
                // The stored token is tried all the same: the platform may still take it.
                Err(SessionError::Platform(e)) => {
                    tracing::warn!(error = %e, "Could not renew a lapsing session before the call");
                    refreshed = true;
                    renewal_failed = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        loop {
            let (app, token) = (self.app.clone(), self.access_token.clone());
            let attempts = with_retries_when(self.policy, client.platform(), resend.after, || {
                op(app.clone(), token.clone())
            });
            let answered = match self.stop.clone() {
                Some(stop) => tokio::select! {
                    biased;
                    () = stop.cancelled() => return Err(SessionError::Stopped),
                    answered = attempts => answered,
                },
                None => attempts.await,
            };
            match answered {
                Ok(value) => return Ok(value),
                Err(PlatformError::SessionExpired { .. }) if !refreshed => {
                    match self.renew(client, sink, !adopted, true).await? {
                        Renewed::Adopted => adopted = true,
                        Renewed::Refreshed => refreshed = true,
                    }
                }
                Err(PlatformError::SessionExpired { detail }) => {
                    // Refused after a renewal that failed for now: that failure is the answer,
                    // not a dead session.
                    if let Some(e) = renewal_failed.take() {
                        return Err(SessionError::Platform(e));
                    }
                    return Err(SessionError::Expired(format!(
                        "刷新后的会话仍被电商平台拒绝{}",
                        platform_said(&detail)
                    )));
                }
                // An unknown code that outlasted its retries may be an undocumented way of saying
                // the token expired: refresh once (the same one refresh) and try again.
                Err(PlatformError::Unknown { code, message })
                    if resend.refresh_on_unknown && !refreshed && self.refresh_token.is_some() =>
                {
                    tracing::warn!(code = %code, message = %message, "Unknown platform code after retries; refreshing once");
                    match self.renew(client, sink, !adopted, false).await? {
                        Renewed::Adopted => adopted = true,
                        Renewed::Refreshed => refreshed = true,
                    }
                }
                Err(e) => return Err(SessionError::Platform(e)),
            }
        }
    }

    /// Whether the access token is at or near its stated expiry, with a refresh token to renew
    /// it with.
    fn lapsing(&self) -> bool {
        self.refresh_token.is_some()
            && self
                .expires_at
                .is_some_and(|at| at <= Utc::now() + RENEW_BEFORE_EXPIRY)
    }

    /// Refreshes now (ahead of expiry), under the same rules as a refresh on expiry: a refused
    /// refresh token is [`SessionError::Expired`], a transient failure
    /// [`SessionError::Platform`].
    pub async fn refresh_now(
        &mut self,
        client: &dyn PlatformClient,
        sink: &dyn TokenSink,
    ) -> Result<(), SessionError> {
        self.renew(client, sink, true, false).await.map(|_| ())
    }

    /// New tokens, while no other caller renews the shop's ([`TokenSink::exclusive`]). When the
    /// lock cannot be had (another caller renews for too long, our database fails), the tokens
    /// another caller stored meanwhile are taken if there are any; otherwise the call fails for
    /// now (`Unavailable`) rather than refresh the same refresh token beside the other caller.
    /// `expired`: the platform said the access token expired (a refresh it then answers without
    /// tokens is told to the sink: [`TokenSink::refresh_refused`]).
    async fn renew(
        &mut self,
        client: &dyn PlatformClient,
        sink: &dyn TokenSink,
        may_adopt: bool,
        expired: bool,
    ) -> Result<Renewed, SessionError> {
        let lock = match sink.exclusive().await {
            Ok(lock) => lock,
            Err(e) => {
                tracing::warn!(error = %e, "Could not take the shop's renewal lock");
                if may_adopt && self.adopt_stored(sink).await {
                    return Ok(Renewed::Adopted);
                }
                // Ours, not the platform's: why (a database error, another caller renewing for
                // too long) is logged above, not shown.
                return Err(SessionError::Platform(PlatformError::GateUnavailable(
                    format!("the shop's renewal lock: {e}"),
                )));
            }
        };
        let renewed = self
            .renew_exclusively(client, sink, may_adopt, expired)
            .await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        renewed
    }

    /// New tokens: the ones another caller stored since this session read its own (when
    /// `may_adopt`), else a refresh. A refresh the platform refuses (`AuthRefused`, or a session
    /// error from the token endpoint) is [`SessionError::Expired`] unless a concurrent refresh
    /// explains it; any other failure is [`SessionError::Platform`]: a bad signature, a clock or
    /// a whitelist is our configuration, and re-authorizing every shop would not mend it.
    async fn renew_exclusively(
        &mut self,
        client: &dyn PlatformClient,
        sink: &dyn TokenSink,
        may_adopt: bool,
        expired: bool,
    ) -> Result<Renewed, SessionError> {
        if may_adopt && self.adopt_stored(sink).await {
            return Ok(Renewed::Adopted);
        }
        let Some(refresh_token) = self.refresh_token.clone() else {
            return Err(SessionError::Expired(NO_REFRESH_TOKEN.into()));
        };
        let app = self.app.clone();
        let ours = (self.access_token.clone(), self.refresh_token.clone());
        // Whether a try went unanswered (see `Attempt::StoredMeanwhile`).
        let unanswered = std::sync::atomic::AtomicBool::new(false);
        // Retried only where the platform did not answer (transport, 5xx, throttle). An answer
        // that came is never followed by the same refresh token: one of unknown meaning (a dead
        // PDD refresh token drew 13 requests in 20 s), nor one we cannot read (`Malformed`, an
        // HTTP 200 without its tokens), with which the platform may have rotated the pair; sent
        // again, the retired token would be refused, and the shop end EXPIRED.
        let refreshed = with_retries(self.policy, client.platform(), || async {
            if unanswered.load(std::sync::atomic::Ordering::SeqCst)
                && let Some((access, refresh)) = stored_since(sink, &ours).await
            {
                crate::resilience::not_sent();
                return Ok(Attempt::StoredMeanwhile(access, refresh));
            }
            match client.refresh(&app, &refresh_token).await {
                Ok(tokens) => Ok(Attempt::Tokens(tokens)),
                Err(e @ (PlatformError::Unknown { .. } | PlatformError::Malformed(_))) => {
                    Ok(Attempt::Answered(e))
                }
                Err(e @ (PlatformError::Unavailable(_) | PlatformError::UnavailableFor { .. })) => {
                    unanswered.store(true, std::sync::atomic::Ordering::SeqCst);
                    Err(e)
                }
                Err(e) => Err(e),
            }
        })
        .await;
        let refreshed = match refreshed {
            Ok(Attempt::Tokens(tokens)) => Ok(tokens),
            Ok(Attempt::StoredMeanwhile(access, refresh)) => {
                tracing::info!(app.key = %self.app.app_key, "Using the tokens another caller refreshed while ours went unanswered");
                self.access_token = access;
                self.refresh_token = refresh;
                self.expires_at = None;
                // Adopted, not refreshed: should that pair be refused too, its refresh token
                // is still tried once.
                return Ok(Renewed::Adopted);
            }
            Ok(Attempt::Answered(e)) => {
                if expired && let Err(why) = sink.refresh_refused().await {
                    tracing::warn!(error = %why, "Could not note the shop's refused refresh");
                }
                Err(e)
            }
            Err(e) => Err(e),
        };
        let mut tokens = match refreshed {
            Ok(tokens) => tokens,
            Err(e @ (PlatformError::AuthRefused(_) | PlatformError::SessionExpired { .. })) => {
                // Refused: perhaps because a concurrent refresh rotated the token a moment ago.
                // The session is dead only if nobody stored a newer pair, now or a moment later.
                for grace in [std::time::Duration::ZERO, CONCURRENT_REFRESH_GRACE] {
                    tokio::time::sleep(grace).await;
                    if self.adopt_stored(sink).await {
                        return Ok(Renewed::Refreshed);
                    }
                }
                return Err(SessionError::Expired(e.to_string()));
            }
            Err(e) => return Err(SessionError::Platform(e)),
        };
        // Some platforms keep the refresh token across refreshes and do not send it again; an
        // answer that says the refresh token can no longer be used (Taobao's `re_expires_in = 0`,
        // README §1.1: re-authorize) leaves none, so the next expiry is an EXPIRED shop
        // ([`NO_REFRESH_TOKEN`]) instead of a refresh the platform refuses.
        // The refresh token's expiry is what the answer states (`None`: the stored one stays):
        // a platform that extends the same refresh token (a merchant who renewed the
        // subscription) says so; Douyin's same pair, whose expiry the adapter would otherwise
        // count from this answer, states none (`douyin::parse::same_pair_keeps_its_expiry`).
        if tokens.refresh_token.is_none() && !tokens.refresh_unusable(chrono::Utc::now()) {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        // The platform may have retired the old refresh token with this answer: the new pair
        // must not be lost to one failed write. Stored again for a while (still holding the
        // renewal lock), and kept by this session whatever happens, but when a new consent
        // replaced the grant meanwhile (`StoreError::Superseded`): its tokens are taken then.
        let stored = store_persistently(sink, &tokens, &refresh_token).await;
        self.access_token = tokens.access_token;
        self.refresh_token = tokens.refresh_token;
        self.expires_at = tokens.expires_at;
        if let Err(StoreError::Superseded(why)) = &stored {
            // A consent stored a new grant while this refresh of the old one ran: its tokens
            // are the shop's now.
            tracing::info!(app.key = %self.app.app_key, reason = %why, "A new authorization replaced the grant this session refreshed; using its tokens");
            if self.adopt_stored(sink).await {
                return Ok(Renewed::Adopted);
            }
        }
        stored.map_err(|e| SessionError::Persist(e.to_string()))?;
        tracing::info!(app.key = %self.app.app_key, "Refreshed the platform session");
        Ok(Renewed::Refreshed)
    }

    /// Takes the stored tokens when another caller refreshed them since this session read its
    /// own (true); false when they are this session's, or cannot be read.
    async fn adopt_stored(&mut self, sink: &dyn TokenSink) -> bool {
        let ours = (self.access_token.clone(), self.refresh_token.clone());
        match stored_since(sink, &ours).await {
            Some((access, refresh)) => {
                tracing::info!(app.key = %self.app.app_key, "Using the tokens another caller refreshed");
                self.access_token = access;
                self.refresh_token = refresh;
                // Their expiry is not read back: the platform says when they lapse.
                self.expires_at = None;
                true
            }
            None => false,
        }
    }
}

/// What one try of a refresh came to, short of a failure worth sending it again for.
enum Attempt {
    /// New tokens.
    Tokens(TokenSet),
    /// The platform answered, but with no tokens we can use: never sent again.
    Answered(PlatformError),
    /// A try went unanswered (a transport failure, a timeout, a 5xx) and, before sending the
    /// refresh token again, the stored tokens were found changed: another caller refreshed
    /// meanwhile, and its pair `(access, refresh)` is used rather than refreshed over. (A pair
    /// our own unanswered try was given is lost with the answer; nothing reads it back.)
    StoredMeanwhile(String, Option<String>),
}

/// The shop's stored tokens `(access, refresh)` when they are not `ours`: another caller
/// refreshed since. `None` when they are ours, absent, or cannot be read.
async fn stored_since(
    sink: &dyn TokenSink,
    ours: &(String, Option<String>),
) -> Option<(String, Option<String>)> {
    match sink.stored().await {
        Ok(Some(stored)) if stored != *ours => Some(stored),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "Could not read the stored tokens back");
            None
        }
    }
}

/// Waits between tries to store refreshed tokens: about five minutes in all, longer than a
/// pool's wait, a database's failover or restart. Tokens a refresh returned and no store kept
/// are lost with the session, and a platform that retired the old refresh token then refuses
/// the next refresh: a merchant would have to authorize again for a database blip. Five minutes
/// stay within a sync's lease (ten).
const STORE_RETRY_WAITS_MS: [u64; 10] = [
    200, 500, 1_000, 3_000, 8_000, 15_000, 30_000, 60_000, 90_000, 90_000,
];

/// Stores `tokens`, trying a transient failure again ([`STORE_RETRY_WAITS_MS`]); the last
/// error if none succeeded.
async fn store_persistently(
    sink: &dyn TokenSink,
    tokens: &TokenSet,
    refreshed_from: &str,
) -> Result<(), StoreError> {
    let mut waits = STORE_RETRY_WAITS_MS.iter();
    loop {
        let e = match sink.store(tokens, refreshed_from).await {
            Ok(()) => return Ok(()),
            Err(e @ (StoreError::Refused(_) | StoreError::Superseded(_))) => return Err(e),
            Err(e) => e,
        };
        metrics::counter!("leadgen_token_store_failures_total").increment(1);
        let Some(wait) = waits.next() else {
            tracing::error!(error = %e, "Could not store refreshed platform tokens; the shop may need to be authorized again");
            return Err(e);
        };
        tracing::warn!(error = %e, "Could not store refreshed platform tokens; trying again");
        tokio::time::sleep(std::time::Duration::from_millis(*wait)).await;
    }
}

/// The longest order id kept as the platform's: every platform's ids are a few dozen
/// characters at most.
pub const MAX_ORDER_ID_CHARS: usize = 128;

/// Why `id` cannot name an order the platform would know again, if it cannot.
fn unusable_id(id: &str) -> Option<&'static str> {
    if leadgen_domain::printable(id) != id {
        Some("订单号含控制字符，无法识别")
    } else if id.chars().count() > MAX_ORDER_ID_CHARS {
        Some("订单号过长，无法识别")
    } else {
        None
    }
}

#[cfg(test)]
mod tests;

/// Why a session without a refresh token is dead (an EXPIRED shop, not an INVALID one).
pub const NO_REFRESH_TOKEN: &str = "没有可用的刷新令牌，授权已过期";
