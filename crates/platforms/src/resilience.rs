//! Staying under a platform's quota and surviving its bad moments: a rate limiter per app key
//! (shared by every replica through a [`SharedGate`] when one is configured, else per process
//! with governor) and retries with exponential backoff and jitter (backon) that honour the
//! platform's stated back-off. Nothing retries forever.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use leadgen_domain::PlatformType;

use crate::client::PlatformError;

mod holds;

pub use holds::{FIRST_UNSTATED_HOLD, LONGEST_UNSTATED_HOLD};

/// Spaces the calls of every process that shares it: each call of `key` reserves the next slot,
/// `interval` after the previous one, and is told how long to wait for it. A platform's quota is
/// per app key, whatever the number of replicas calling with that key; so is a ban, which one
/// replica learns and every replica then keeps ([`SharedGate::hold`]).
#[async_trait::async_trait]
pub trait SharedGate: Send + Sync {
    /// Reserves the next slot of `key` for a call of `api`, unless a hold on the key's calls of
    /// `api` or of every API lasts ([`NoSlot::Held`]) or the key's slots already reach more than
    /// `max_ahead` ahead ([`NoSlot::Full`]).
    async fn reserve(
        &self,
        key: &str,
        api: &str,
        interval: Duration,
        max_ahead: Duration,
    ) -> Result<Slot, NoSlot>;

    /// Holds `key`'s calls of `api` (`"*"`: of every API) for `hold` from now, with what the
    /// platform said; a longer hold already there stays.
    async fn hold(&self, key: &str, api: &str, hold: Duration, said: &str) -> Result<(), String>;
}

/// Why a shared gate gave a call no slot; either way the call is not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoSlot {
    /// The gate could not answer (its database down, its pool exhausted), and why.
    Unavailable(String),
    /// The key's slots already reach further ahead than asked ([`MAX_QUEUE_AHEAD`]).
    Full,
    /// Another replica learnt of a ban on these calls: what is left of it, how long it was
    /// when learnt, and what the platform said.
    Held {
        left: Duration,
        length: Duration,
        said: String,
    },
}

/// The furthest ahead a call queues at the shared gate. Each waiting call holds one slot, so
/// legitimate callers (every replica's syncs, refreshes and reveals of one app key) queue a few
/// seconds at most; a queue a minute long is a flood (a user firing consent callbacks that
/// each take a slot), and without a bound it would stall every tenant's calls with that app
/// key for as long as the flood lasts. A call past it is refused ([`PlatformError::QueueFull`]):
/// a sync waits that out and tries again within its stated-wait budget, a reveal or a consent
/// callback fails at once. During a flood every caller with the key is refused until the queue
/// drains: the bound caps the stall, it does not share the queue fairly.
pub const MAX_QUEUE_AHEAD: Duration = Duration::from_secs(60);

/// A reserved slot: `wait` after a moment no earlier than `asked` (when the gate sent its
/// question; a pool checkout before it does not count). Waiting `wait` from the answer is never
/// early; `asked + wait` bounds how late a call that then starts is.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub wait: Duration,
    pub asked: tokio::time::Instant,
}

/// How much longer than a second `qps` calls are spread over. Platforms count calls per second
/// window; spaced exactly 1/qps apart, the first and the (qps+1)-th call of a window are one
/// second apart, and a few milliseconds of network jitter put both in one window (a throttle,
/// and on Taobao a ban). With the margin, any qps+1 consecutive calls span more than a second
/// plus 50 ms: at 10 qps, one call per 105 ms (95 % of the quota).
pub const WINDOW_MARGIN: Duration = Duration::from_millis(50);

/// Whose calls a ban the platform stated holds ([`Limiter::hold`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanScope {
    /// The app key's calls of the API that was refused.
    Api,
    /// Every call of the app key (Taobao's `accesscontrol.limited-by-app-access-count`).
    App,
}

/// How [`Limiter::hold`] names a ban on every API of an app key.
pub const EVERY_API: &str = "*";

/// What the rate limiter did with the call of the attempt under way ([`with_retries_when`]
/// times a call from its release, not from its wait for a slot).
#[derive(Debug, Clone, Copy)]
enum Admission {
    /// No limiter stood before the call (one made without it).
    NotAsked,
    /// Let go at this instant.
    Released(std::time::Instant),
    /// Nothing was sent: the limiter held the call back (a ban, the queue full, the gate
    /// down), or the attempt found it had no call to make ([`not_sent`]).
    NotSent,
}

tokio::task_local! {
    static ADMISSION: std::cell::Cell<Admission>;
}

/// Runs one attempt, and says from when its call is timed: the limiter's release, the
/// attempt's start where no limiter stood before the call, `None` when it was never sent.
async fn timed<T>(attempt: impl Future<Output = T>) -> (T, Option<std::time::Instant>) {
    let started = std::time::Instant::now();
    let (result, admission) = ADMISSION
        .scope(std::cell::Cell::new(Admission::NotAsked), async {
            let result = attempt.await;
            (result, ADMISSION.with(std::cell::Cell::get))
        })
        .await;
    let sent_at = match admission {
        Admission::NotAsked => Some(started),
        Admission::Released(at) => Some(at),
        Admission::NotSent => None,
    };
    (result, sent_at)
}

/// Tells the attempt under way that it sends no call (a refresh that found another caller's
/// tokens stored meanwhile): it is not timed.
pub(crate) fn not_sent() {
    admitted(Admission::NotSent);
}

/// Tells the attempt under way, if one is timed, what the limiter did.
fn admitted(admission: Admission) {
    let _ = ADMISSION.try_with(|a| a.set(admission));
}

/// Calls per second per app key, never in bursts: one call per (1 s + [`WINDOW_MARGIN`]) / qps.
pub struct Limiter {
    local: DefaultKeyedRateLimiter<String>,
    /// Calls the platform turned away, held until when, and what it said ([`Limiter::hold`]).
    holds: holds::Holds,
    shared: Option<Arc<dyn SharedGate>>,
    interval: Duration,
    /// The platform, as the wait metric labels it and the shared key names it.
    platform: &'static str,
}

impl Limiter {
    pub fn per_second(qps: u32) -> Self {
        let qps = NonZeroU32::new(qps.max(1)).unwrap_or(NonZeroU32::MIN);
        let interval = (Duration::from_secs(1) + WINDOW_MARGIN) / qps.get();
        // A burst of one: governor's per-second quota would let qps calls out at once, and the
        // next ones at the rate, so qps + 1 calls could land in one platform window.
        let quota = Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(qps))
            .allow_burst(NonZeroU32::MIN);
        Limiter {
            local: RateLimiter::keyed(quota),
            holds: Default::default(),
            shared: None,
            interval,
            platform: "unknown",
        }
    }

    /// Labels the limiter's waits with `platform` (`leadgen_platform_rate_limit_wait_seconds`).
    pub fn for_platform(mut self, platform: PlatformType) -> Self {
        self.platform = platform.as_str();
        self
    }

    /// Spaces calls through `gate`, across every process that shares it.
    pub fn shared(mut self, gate: Arc<dyn SharedGate>) -> Self {
        self.shared = Some(gate);
        self
    }

    /// Records that the platform banned `app_key`'s calls of `api` for `ban` (Taobao's code 7,
    /// "This ban will last for N more seconds"): until it ends, [`Limiter::admit`] refuses
    /// them without sending them, so the ban is backed off as the platform asks instead of
    /// every task and reveal learning it from a refused call of its own. Per API, because
    /// Taobao bans one API's calls (`…-by-api-access-count`: the decrypt quota must not stop
    /// order listing) or the app's (`…-by-app-access-count`). Kept in this process, and at the
    /// shared gate when there is one, where every replica's next call finds it (one that cannot
    /// be written there is logged: the replicas then learn it from a refused call each). `said`
    /// is the ban's error as the platform stated it, repeated to the calls it holds.
    pub async fn hold(&self, app_key: &str, api: &str, scope: BanScope, ban: Duration, said: &str) {
        self.holds.hold(
            holds::key(app_key, api, scope),
            tokio::time::Instant::now() + ban,
            said,
        );
        if let Some(gate) = &self.shared {
            let api = match scope {
                BanScope::Api => api,
                BanScope::App => EVERY_API,
            };
            let key = self.shared_key(app_key);
            if let Err(e) = gate.hold(&key, api, ban, said).await {
                tracing::warn!(key = %key, api, error = %e, "A platform's ban could not be shared with the other replicas; each learns it from a refused call");
            }
        }
    }

    /// Holds `app_key`'s calls of `api` after a throttle that stated no wait, for
    /// [`FIRST_UNSTATED_HOLD`] or, while such throttles answer the first calls after each hold
    /// (none answered in between, [`Limiter::answered`]), twice as long as the last time, up to
    /// [`LONGEST_UNSTATED_HOLD`] (module `holds`). Answers the hold, for the caller's retries
    /// to wait out.
    pub async fn hold_unstated(
        &self,
        app_key: &str,
        api: &str,
        scope: BanScope,
        said: &str,
    ) -> Duration {
        let hold = self.holds.unstated(&holds::key(app_key, api, scope));
        self.hold(app_key, api, scope, hold, said).await;
        hold
    }

    /// Says that a call of `app_key` to `api` was answered (not throttled): the next throttle
    /// that states no wait is held a second again ([`Limiter::hold_unstated`]).
    pub fn answered(&self, app_key: &str, api: &str) {
        self.holds.answered(app_key, api);
    }

    /// Admits one call of `app_key` to `api`: [`PlatformError::Throttled`] with what is left of
    /// a ban the platform stated or a throttle's hold ([`Limiter::hold`]), learnt here or by
    /// another replica, else after [`Limiter::wait`].
    pub async fn admit(&self, app_key: &str, api: &str) -> Result<(), PlatformError> {
        if let Some((left, said)) = self.holds.held_for(app_key, api) {
            return Err(self.held(left, said));
        }
        self.wait_for(app_key, api).await?;
        // A hold learnt while this call waited for its slot (a call ahead of it was throttled)
        // holds it too: it would go into the throttle the hold is there to spare.
        match self.holds.held_for(app_key, api) {
            Some((left, said)) => Err(self.held(left, said)),
            None => Ok(()),
        }
    }

    /// A call not sent for a hold with `left` of it to run.
    fn held(&self, left: Duration, said: String) -> PlatformError {
        metrics::counter!("leadgen_platform_calls_held_total", "platform" => self.platform)
            .increment(1);
        admitted(Admission::NotSent);
        PlatformError::Throttled {
            retry_after: Some(left),
            detail: said,
        }
    }

    /// The shared gate's name of `app_key`'s slots and holds.
    fn shared_key(&self, app_key: &str) -> String {
        format!("{}:{app_key}", self.platform)
    }

    /// Waits until `app_key` may make one more call: its slot at the shared gate when there is
    /// one. Should the gate fail (the database down, or its pool exhausted), the call is not
    /// made: [`PlatformError::GateUnavailable`], retried like any transient failure. Falling
    /// back to this process's own limit would let every replica send the app's whole quota.
    ///
    /// A slot is only as good as the moment the call really starts. A task woken late (a busy
    /// machine) would start its call closer to the next slot than the interval, and a late call
    /// that opens a platform's window lets the next qps slots fall inside it: a throttle. So a
    /// call that wakes more than [`LATE_TOLERANCE`] after its slot gives the slot up unused and
    /// reserves another, up to [`MAX_LATE_RESERVATIONS`] times.
    /// At the shared gate, a hold another replica learnt of every API of the app key refuses
    /// the call as [`Limiter::admit`] does.
    pub async fn wait(&self, app_key: &str) -> Result<(), PlatformError> {
        self.wait_for(app_key, EVERY_API).await
    }

    /// [`Limiter::wait`] for a call of `api`: at the shared gate, a hold on the app key's calls
    /// of `api` or of every API refuses it.
    async fn wait_for(&self, app_key: &str, api: &str) -> Result<(), PlatformError> {
        let started = tokio::time::Instant::now();
        match &self.shared {
            Some(gate) => {
                if let Err(e) = self.wait_shared(gate.as_ref(), app_key, api).await {
                    admitted(Admission::NotSent);
                    return Err(e);
                }
            }
            None => self.local.until_key_ready(&app_key.to_owned()).await,
        }
        metrics::histogram!("leadgen_platform_rate_limit_wait_seconds", "platform" => self.platform)
            .record(started.elapsed().as_secs_f64());
        admitted(Admission::Released(std::time::Instant::now()));
        Ok(())
    }

    /// Waits for a slot at the shared gate that this task is on time for.
    async fn wait_shared(
        &self,
        gate: &dyn SharedGate,
        app_key: &str,
        api: &str,
    ) -> Result<(), PlatformError> {
        let key = self.shared_key(app_key);
        for attempt in 0..=MAX_LATE_RESERVATIONS {
            let slot = match gate
                .reserve(&key, api, self.interval, MAX_QUEUE_AHEAD)
                .await
            {
                Ok(slot) => slot,
                Err(NoSlot::Held { left, length, said }) => {
                    // Kept here too: this process's next calls are refused without asking, and
                    // a throttle that follows it is held twice as long here as on the replica
                    // that learnt it.
                    let scope = if api == EVERY_API {
                        BanScope::App
                    } else {
                        BanScope::Api
                    };
                    let key = holds::key(app_key, api, scope);
                    let until = tokio::time::Instant::now() + left;
                    self.holds.hold(key.clone(), until, &said);
                    self.holds.learnt(&key, length, until);
                    return Err(self.held(left, said));
                }
                Err(NoSlot::Full) => {
                    tracing::warn!(key = %key, "The app key's calls queue a minute ahead; the platform call is not made");
                    metrics::counter!("leadgen_platform_rate_limit_full_total", "platform" => self.platform)
                        .increment(1);
                    return Err(PlatformError::QueueFull {
                        retry_after: MAX_QUEUE_AHEAD,
                    });
                }
                Err(NoSlot::Unavailable(e)) => {
                    tracing::warn!(error = %e, "Shared rate gate unavailable; the platform call is not made");
                    metrics::counter!("leadgen_platform_rate_gate_failures_total", "platform" => self.platform)
                        .increment(1);
                    return Err(PlatformError::GateUnavailable(e));
                }
            };
            // Never earlier than the slot: the gate decided it after `asked`.
            tokio::time::sleep(slot.wait).await;
            // At most this late: the slot was at least `wait` after `asked`.
            let late = slot.asked.elapsed().saturating_sub(slot.wait);
            if late <= LATE_TOLERANCE || attempt == MAX_LATE_RESERVATIONS {
                return Ok(());
            }
            metrics::counter!("leadgen_platform_rate_limit_late_total", "platform" => self.platform)
                .increment(1);
        }
        Ok(())
    }
}

/// How late after its shared slot a call may still start: half the window margin, so any qps + 1
/// consecutive calls still span more than a second plus the other half.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(25);

/// How many times a call that woke too late reserves a new slot before it goes anyway.
pub const MAX_LATE_RESERVATIONS: u32 = 4;

/// How often and how patiently to retry transient failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    /// The longest computed backoff between two attempts.
    pub max_delay: Duration,
    /// The most one call may spend, over all its retries, waiting out waits the platform
    /// stated (`Retry-After`, Taobao's "ban will last for N more seconds"): a platform that
    /// asks for longer is given up on. A sync can wait a throttle out (a part of its lease); a
    /// salesperson waiting on a reveal cannot.
    pub max_stated_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_stated_wait: Duration::from_secs(120),
        }
    }
}

/// Runs `op`, retrying throttling, unavailability and malformed responses with exponential
/// backoff and jitter; a platform-stated wait (Taobao's "ban will last for N more seconds")
/// replaces a shorter computed one, and once the stated waits would pass the policy's
/// `max_stated_wait` the retries end: the error goes back with its `retry_after`, for the caller
/// to decide (a salesperson is not kept waiting for an hour's ban, nor a sync task past its
/// lease).
/// Every attempt is counted and timed for `platform`
/// (`leadgen_platform_calls_total`, `leadgen_platform_call_duration_seconds`).
pub async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    platform: PlatformType,
    op: F,
) -> Result<T, PlatformError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PlatformError>>,
{
    with_retries_when(policy, platform, PlatformError::is_transient, op).await
}

/// [`with_retries`], retrying only the errors `retry` accepts: a call that must not be acted
/// on twice (a single-use authorization code) is sent again only after a failure the platform
/// may have left unspent ([`PlatformError::may_resend_single_use`]).
pub async fn with_retries_when<T, F, Fut>(
    policy: RetryPolicy,
    platform: PlatformType,
    retry: fn(&PlatformError) -> bool,
    mut op: F,
) -> Result<T, PlatformError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PlatformError>>,
{
    let op = move || {
        let attempt = op();
        async move {
            let started = std::time::Instant::now();
            let (result, sent_at) = timed(attempt).await;
            // The platform's words as they are kept, in the log lines below too.
            let result = result.map_err(PlatformError::kept);
            let (outcome, code) = match &result {
                Ok(_) => ("ok", String::new()),
                Err(e) => e.metric_labels(),
            };
            let labels = [
                ("platform", platform.as_str().to_owned()),
                ("outcome", outcome.to_owned()),
                ("code", code),
            ];
            metrics::counter!("leadgen_platform_calls_total", &labels).increment(1);
            let elapsed = started.elapsed();
            if let Some(at) = sent_at {
                metrics::histogram!("leadgen_platform_call_duration_seconds", "platform" => platform.as_str())
                    .record(at.elapsed().as_secs_f64());
            }
            // The interaction log the design asks for (design 7: 与电商平台 API 的交互日志):
            // every attempt, its outcome and the platform's words, under the caller's span
            // (the sync task and shop, or the reveal's lead).
            let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
            match &result {
                Ok(_) => tracing::info!(
                    platform = platform.as_str(),
                    outcome,
                    duration_ms,
                    "Platform call"
                ),
                Err(e) => {
                    tracing::info!(platform = platform.as_str(), outcome, code = %labels[2].1, duration_ms, error = %e, "Platform call")
                }
            }
            result
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_retries)
        .with_jitter();
    op.retry(backoff)
        .sleep(tokio::time::sleep)
        .when(retry)
        .adjust({
            let mut stated_so_far = Duration::ZERO;
            move |e, computed| {
                let computed = computed?;
                let Some(stated) = e.retry_after() else {
                    return Some(computed);
                };
                let wait = stated.max(computed);
                stated_so_far += wait;
                (stated_so_far <= policy.max_stated_wait).then_some(wait)
            }
        })
        .notify(|e, d| tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "Platform call failed; retrying"))
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_stated_wait: Duration::from_millis(5),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicUsize::new(0);
        let result = with_retries(fast(), PlatformType::Taobao, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(PlatformError::Unavailable("502".into())),
                1 => Err(PlatformError::Throttled {
                    retry_after: Some(Duration::from_millis(2)),
                    detail: String::new(),
                }),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(result, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    /// Stated waits longer than any backoff are waited out while they fit the policy's
    /// `max_stated_wait` together (a sync waits a throttle out), and no further.
    #[tokio::test(start_paused = true)]
    async fn stated_waits_are_waited_out_up_to_their_budget() {
        let policy = RetryPolicy {
            max_stated_wait: Duration::from_secs(90),
            ..fast()
        };
        let throttled = PlatformError::Throttled {
            retry_after: Some(Duration::from_secs(40)),
            detail: "HTTP 429".into(),
        };
        let calls = AtomicUsize::new(0);
        let started = tokio::time::Instant::now();
        let result = with_retries(policy, PlatformType::Jd, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(throttled.clone()),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(result, Ok(7), "two waits of 40 s fit 90 s");
        assert!(started.elapsed() >= Duration::from_secs(80));
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = with_retries(policy, PlatformType::Jd, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(throttled.clone())
        })
        .await;
        assert_eq!(result, Err(throttled), "a third would pass the budget");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stated_wait_beyond_the_longest_backoff_ends_the_retries() {
        let calls = AtomicUsize::new(0);
        let ban = PlatformError::Throttled {
            retry_after: Some(Duration::from_secs(3600)),
            detail: "7 accesscontrol.limited-by-app-access-count".into(),
        };
        let started = tokio::time::Instant::now();
        let result: Result<(), _> = with_retries(fast(), PlatformType::Taobao, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ban.clone())
        })
        .await;
        assert_eq!(result, Err(ban));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stated_ban_holds_the_app_keys_calls_until_it_ends() {
        let limiter = Limiter::per_second(5);
        let decrypt = "taobao.top.oaid.decrypt";
        assert_eq!(limiter.admit("app", decrypt).await, Ok(()));
        limiter
            .hold(
                "app",
                decrypt,
                BanScope::Api,
                Duration::from_secs(30),
                "7 ban 30",
            )
            .await;
        match limiter.admit("app", decrypt).await {
            Err(PlatformError::Throttled {
                retry_after: Some(left),
                detail,
            }) => {
                assert!(left <= Duration::from_secs(30) && left > Duration::from_secs(29));
                // The held calls carry what the platform said of the ban.
                assert_eq!(detail, "7 ban 30");
            }
            other => panic!("{other:?}"),
        }
        // Another app key, or another API of the app, is not held.
        assert_eq!(limiter.admit("other-app", decrypt).await, Ok(()));
        assert_eq!(limiter.admit("app", "taobao.trades.sold.get").await, Ok(()));
        // A shorter ban does not shorten the longer one.
        limiter
            .hold(
                "app",
                decrypt,
                BanScope::Api,
                Duration::from_secs(1),
                "7 ban 1",
            )
            .await;
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(limiter.admit("app", decrypt).await.is_err());
        tokio::time::advance(Duration::from_secs(21)).await;
        assert_eq!(limiter.admit("app", decrypt).await, Ok(()));

        // A ban on the app's calls as a whole holds every API of it, and only of it.
        let sold = "taobao.trades.sold.get";
        limiter
            .hold(
                "app",
                sold,
                BanScope::App,
                Duration::from_secs(60),
                "7 limited-by-app-access-count",
            )
            .await;
        for api in [decrypt, sold, "taobao.trades.sold.increment.get"] {
            assert!(
                matches!(
                    limiter.admit("app", api).await,
                    Err(PlatformError::Throttled {
                        retry_after: Some(_),
                        ..
                    })
                ),
                "{api}"
            );
        }
        assert_eq!(limiter.admit("other-app", sold).await, Ok(()));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(limiter.admit("app", sold).await, Ok(()));
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried_and_retries_are_bounded() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = with_retries(fast(), PlatformType::Taobao, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(PlatformError::InvalidRequest("bad sign".into()))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = with_retries(fast(), PlatformType::Taobao, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(PlatformError::Unavailable("down".into()))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn the_limiter_spaces_calls_per_app_key() {
        let limiter = Limiter::per_second(5);
        let started = tokio::time::Instant::now();
        let mut times = Vec::new();
        for _ in 0..7 {
            limiter.wait("app").await.unwrap();
            times.push(started.elapsed());
        }
        // No burst: six calls (qps + 1) span more than a second plus the margin.
        assert!(
            times[5] >= Duration::from_secs(1) + WINDOW_MARGIN,
            "{times:?}"
        );
        // Another key does not queue behind "app"'s next slot, a second away (a margin that a
        // loaded machine's scheduling delays cannot eat).
        let slow = Limiter::per_second(1);
        slow.wait("app").await.unwrap();
        let before = tokio::time::Instant::now();
        slow.wait("other-app").await.unwrap();
        assert!(before.elapsed() < Duration::from_millis(600));
    }

    /// A call is timed from the limiter's release, not through its wait for a slot; one the
    /// limiter holds back is not timed at all, and one no limiter stands before from its start.
    #[tokio::test]
    async fn a_call_is_timed_from_its_release_and_one_never_sent_not_at_all() {
        let limiter = Limiter::per_second(1);
        limiter.wait("app").await.unwrap();
        let started = std::time::Instant::now();
        let (admitted, sent_at) = timed(limiter.admit("app", "api")).await;
        assert_eq!(admitted, Ok(()));
        let waited = sent_at.expect("sent") - started;
        assert!(waited >= Duration::from_millis(900), "{waited:?}");

        limiter
            .hold(
                "app",
                "api",
                BanScope::Api,
                Duration::from_secs(60),
                "banned",
            )
            .await;
        let (held, sent_at) = timed(limiter.admit("app", "api")).await;
        assert!(held.is_err());
        assert_eq!(sent_at, None);

        let started = std::time::Instant::now();
        let ((), sent_at) = timed(async {}).await;
        assert!(sent_at.expect("sent") >= started);
    }

    /// A gate whose answers arrive 100 ms after it decided, for the first `slow_answers`
    /// reservations (a slot 10 ms after the decision: the caller wakes 90 ms late). A slow
    /// checkout before the question would not count: `asked` is taken after it.
    struct SlowGate {
        reservations: AtomicUsize,
        slow_answers: usize,
    }

    #[async_trait::async_trait]
    impl SharedGate for SlowGate {
        async fn reserve(
            &self,
            _key: &str,
            _api: &str,
            _interval: Duration,
            _max_ahead: Duration,
        ) -> Result<Slot, NoSlot> {
            // A checkout that waits does not make the slot late.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let asked = tokio::time::Instant::now();
            let n = self.reservations.fetch_add(1, Ordering::SeqCst);
            if n < self.slow_answers {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Slot {
                wait: Duration::from_millis(10),
                asked,
            })
        }

        async fn hold(&self, _: &str, _: &str, _: Duration, _: &str) -> Result<(), String> {
            Ok(())
        }
    }

    /// A gate that cannot answer (the database down, its pool exhausted).
    struct DownGate;

    #[async_trait::async_trait]
    impl SharedGate for DownGate {
        async fn reserve(
            &self,
            _key: &str,
            _api: &str,
            _interval: Duration,
            _max_ahead: Duration,
        ) -> Result<Slot, NoSlot> {
            Err(NoSlot::Unavailable("pool timed out".into()))
        }

        async fn hold(&self, _: &str, _: &str, _: Duration, _: &str) -> Result<(), String> {
            Err("pool timed out".into())
        }
    }

    /// Without a shared slot the call is not made (and is retried as transient): falling back to
    /// the process's own limit would let every replica send the whole quota.
    #[tokio::test]
    async fn a_call_without_a_shared_slot_is_not_made() {
        let limiter = Limiter::per_second(5).shared(Arc::new(DownGate));
        let refused = limiter.wait("app").await;
        assert_eq!(
            refused,
            Err(PlatformError::GateUnavailable("pool timed out".into()))
        );
        assert!(refused.unwrap_err().is_transient());
        assert!(
            limiter
                .admit("app", "taobao.trades.sold.get")
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_too_late_for_its_shared_slot_reserves_another() {
        let gate = Arc::new(SlowGate {
            reservations: AtomicUsize::new(0),
            slow_answers: 1,
        });
        let limiter = Limiter::per_second(5).shared(gate.clone());
        limiter.wait("app").await.unwrap();
        assert_eq!(gate.reservations.load(Ordering::SeqCst), 2);

        // On time: one reservation.
        limiter.wait("app").await.unwrap();
        assert_eq!(gate.reservations.load(Ordering::SeqCst), 3);

        // Always late: it gives up after the bounded number of tries and goes.
        let gate = Arc::new(SlowGate {
            reservations: AtomicUsize::new(0),
            slow_answers: usize::MAX,
        });
        let limiter = Limiter::per_second(5).shared(gate.clone());
        limiter.wait("app").await.unwrap();
        assert_eq!(
            gate.reservations.load(Ordering::SeqCst),
            MAX_LATE_RESERVATIONS as usize + 1
        );
    }
}
