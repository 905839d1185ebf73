//! How many requests one tenant may make of one process: a token bucket per tenant (the
//! `governor` crate's keyed limiter), `[http] tenant_requests_per_second` refilled, at most
//! `tenant_request_burst` at once. Checked once the caller's token is verified
//! ([`crate::AuthUser`]), so a forged token cannot spend another tenant's budget; past it the
//! request is answered 429 (42907) with `Retry-After`, before anything is read from the
//! database. One tenant's script repeating the heaviest list requests would otherwise keep every
//! pooled connection busy, and every other tenant's requests wait for one and answer 503.

use std::num::NonZeroU32;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use leadgen_domain::TenantId;

use crate::ApiError;
use crate::codes;

/// Every tenant's bucket in this process.
pub struct TenantLimiter {
    buckets: DefaultKeyedRateLimiter<i64>,
    clock: DefaultClock,
}

impl TenantLimiter {
    /// `per_second` requests a second for each tenant, `burst` at once.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        let quota = Quota::per_second(per_second).allow_burst(burst);
        TenantLimiter {
            buckets: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one of `tenant`'s requests, or refuses it (429, 42907) with how long to wait.
    pub fn admit(&self, tenant: TenantId) -> Result<(), ApiError> {
        self.buckets.check_key(&tenant.get()).map_err(|not_until| {
            metrics::counter!("leadgen_http_requests_throttled_total").increment(1);
            ApiError::business(codes::TENANT_THROTTLED)
                .with_retry_after(not_until.wait_time_from(self.clock.now()))
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError as _;

    use super::*;

    #[test]
    fn a_tenant_past_its_burst_waits_and_another_does_not() {
        let limiter = TenantLimiter::new(
            NonZeroU32::new(1).expect("one"),
            NonZeroU32::new(2).expect("two"),
        );
        let (busy, quiet) = (TenantId::new(1), TenantId::new(2));
        assert!(limiter.admit(busy).is_ok() && limiter.admit(busy).is_ok());
        let refused = limiter.admit(busy).expect_err("past its burst");
        assert_eq!(
            (refused.status_code().as_u16(), refused.code()),
            (429, 42907)
        );
        let answer = refused.error_response();
        let wait = answer.headers().get(actix_web::http::header::RETRY_AFTER);
        assert_eq!(wait.and_then(|w| w.to_str().ok()), Some("1"));
        assert!(limiter.admit(quiet).is_ok(), "another tenant's own bucket");
    }
}
