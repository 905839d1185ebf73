//! Staying under a platform's quota and surviving its bad moments: a client-side rate limiter
//! per app key (governor) and retries with exponential backoff and jitter (backon) that honour
//! the platform's stated back-off. Nothing retries forever.

use std::future::Future;
use std::num::NonZeroU32;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::client::PlatformError;

/// Calls per second per app key.
pub struct Limiter {
    inner: DefaultKeyedRateLimiter<String>,
}

impl Limiter {
    pub fn per_second(qps: u32) -> Self {
        let qps = NonZeroU32::new(qps.max(1)).unwrap_or(NonZeroU32::MIN);
        Limiter {
            inner: RateLimiter::keyed(Quota::per_second(qps)),
        }
    }

    /// Waits until `app_key` may make one more call.
    pub async fn wait(&self, app_key: &str) {
        self.inner.until_key_ready(&app_key.to_owned()).await;
    }
}

/// How often and how patiently to retry transient failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// Runs `op`, retrying throttling, unavailability and malformed responses with exponential
/// backoff and jitter; a platform-stated wait (Taobao's "ban will last for N more seconds")
/// replaces a shorter computed one.
pub async fn with_retries<T, F, Fut>(policy: RetryPolicy, op: F) -> Result<T, PlatformError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PlatformError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_retries)
        .with_jitter();
    op.retry(backoff)
        .sleep(tokio::time::sleep)
        .when(PlatformError::is_transient)
        .adjust(|e, computed| match (e.retry_after(), computed) {
            (_, None) => None,
            (Some(stated), Some(d)) => Some(stated.max(d)),
            (None, Some(d)) => Some(d),
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
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicUsize::new(0);
        let result = with_retries(fast(), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(PlatformError::Unavailable("502".into())),
                1 => Err(PlatformError::Throttled {
                    retry_after: Some(Duration::from_millis(2)),
                }),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(result, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried_and_retries_are_bounded() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = with_retries(fast(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(PlatformError::InvalidRequest("bad sign".into()))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = with_retries(fast(), || async {
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
        for _ in 0..7 {
            limiter.wait("app").await;
        }
        limiter.wait("other-app").await;
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
    }
}
