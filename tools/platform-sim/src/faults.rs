//! Injected faults: rate limits, token expiry by call count, bursts of gateway errors, slow and
//! truncated answers. Set per run by CLI flags and replaced at runtime by `POST /_sim/faults`.
//! They apply to the platforms' API gateways only (for Taobao: `/taobao/router/rest`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// After every `every` successful API calls, the next `count` calls answer HTTP `status` with an
/// HTML body (as a load balancer in front of the gateway would).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBurst {
    pub every: u64,
    pub count: u64,
    pub status: u16,
}

impl std::str::FromStr for ErrorBurst {
    type Err = String;

    /// `EVERY:COUNT:STATUS`, e.g. `20:2:503`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let [every, count, status] = parts.as_slice() else {
            return Err(format!("`{s}`: expected EVERY:COUNT:STATUS, e.g. 20:2:503"));
        };
        let num = |t: &str| t.trim().parse::<u64>().map_err(|e| format!("`{t}`: {e}"));
        let status = u16::try_from(num(status)?).map_err(|e| e.to_string())?;
        Ok(ErrorBurst {
            every: num(every)?,
            count: num(count)?,
            status,
        })
    }
}

/// The set of active faults. Absent (`null`) means off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Calls allowed per app key per second; above it the gateway answers its rate-limit error
    /// and keeps banning the app key for one second.
    #[serde(default)]
    pub qps_limit: Option<u32>,
    /// An access token expires after this many successful API calls.
    #[serde(default)]
    pub token_ttl_calls: Option<u64>,
    #[serde(default)]
    pub error_burst: Option<ErrorBurst>,
    /// Sleep this long before answering each API call.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Every N-th successful order-list response is cut in half (still HTTP 200).
    #[serde(default)]
    pub malformed_every: Option<u64>,
    /// Every N-th order-list call is answered with an error code the platform documents nowhere
    /// (in its own error envelope, HTTP 200): what a client must survive from a real gateway.
    #[serde(default)]
    pub unknown_code_every: Option<u64>,
    /// Every N-th order-list call is answered with the platform's own documented "service
    /// unavailable, retry" error, its documented codes taking turns (Taobao 15 `isp.*`, PDD
    /// 52103 and 52102, Douyin 20000 and 20001), in its error envelope with HTTP 200; JD and
    /// Kuaishou document none, and answer HTTP 503.
    #[serde(default)]
    pub busy_every: Option<u64>,
    /// Every order-list answer's total counts one order more than the listing holds (an order
    /// the platform counts and never lists): the window's last page can come back empty though
    /// the total says it holds one. Cursor listings (Kuaishou) carry no total.
    #[serde(default)]
    pub overstate_total: bool,
}

impl Faults {
    /// Rejects settings that cannot work (zero periods, non-error statuses).
    pub fn validate(&self) -> Result<(), String> {
        if self.qps_limit == Some(0) {
            return Err("qps_limit must be at least 1".into());
        }
        if self.token_ttl_calls == Some(0) {
            return Err("token_ttl_calls must be at least 1".into());
        }
        if self.malformed_every == Some(0) {
            return Err("malformed_every must be at least 1".into());
        }
        if self.unknown_code_every == Some(0) {
            return Err("unknown_code_every must be at least 1".into());
        }
        if self.busy_every == Some(0) {
            return Err("busy_every must be at least 1".into());
        }
        if let Some(b) = self.error_burst {
            if b.every == 0 || b.count == 0 {
                return Err("error_burst.every and error_burst.count must be at least 1".into());
            }
            if !(500..=599).contains(&b.status) {
                return Err("error_burst.status must be a 5xx status such as 502 or 503".into());
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct QpsWindow {
    started: Instant,
    calls: u32,
    banned_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct Inner {
    faults: Faults,
    /// Bumped on every replacement; per-token call counts from older generations restart at 0.
    generation: u64,
    successes_since_burst: u64,
    burst_remaining: u64,
    list_responses: u64,
    unknown_responses: u64,
    busy_responses: u64,
    qps: HashMap<String, QpsWindow>,
}

/// The faults in force and the counters that drive them.
#[derive(Debug, Default)]
pub struct FaultEngine {
    inner: Mutex<Inner>,
}

/// What the rate limiter decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QpsVerdict {
    Allowed,
    /// Banned; the ban lasts this many more (whole) seconds.
    Banned {
        seconds: u64,
    },
}

impl FaultEngine {
    pub fn new(faults: Faults) -> Self {
        FaultEngine {
            inner: Mutex::new(Inner {
                faults,
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn current(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Replaces the fault set and restarts every counter (bursts, truncation, rate windows,
    /// per-token call counts).
    pub fn replace(&self, faults: Faults) {
        let mut g = self.lock();
        let generation = g.generation + 1;
        *g = Inner {
            faults,
            generation,
            ..Inner::default()
        };
    }

    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    pub fn delay(&self) -> Option<Duration> {
        self.lock()
            .faults
            .delay_ms
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    }

    pub fn overstates_total(&self) -> bool {
        self.lock().faults.overstate_total
    }

    pub fn token_ttl_calls(&self) -> Option<u64> {
        self.lock().faults.token_ttl_calls
    }

    /// The HTTP status to answer instead of the API, while a burst is running.
    pub fn take_http_fault(&self) -> Option<u16> {
        let mut g = self.lock();
        let status = g.faults.error_burst?.status;
        if g.burst_remaining > 0 {
            g.burst_remaining -= 1;
            return Some(status);
        }
        None
    }

    /// Counts a successful API call; arms the next error burst when due.
    pub fn record_success(&self) {
        let mut g = self.lock();
        let Some(burst) = g.faults.error_burst else {
            return;
        };
        g.successes_since_burst += 1;
        if g.successes_since_burst >= burst.every {
            g.successes_since_burst = 0;
            g.burst_remaining = burst.count;
        }
    }

    /// Counts one order-list response; true when this one must be truncated.
    pub fn next_list_is_malformed(&self) -> bool {
        let mut g = self.lock();
        let Some(n) = g.faults.malformed_every else {
            return false;
        };
        g.list_responses += 1;
        g.list_responses.is_multiple_of(n)
    }

    /// Counts one order-list call; true when this one must answer an undocumented code.
    pub fn next_list_is_unknown_code(&self) -> bool {
        let mut g = self.lock();
        let Some(n) = g.faults.unknown_code_every else {
            return false;
        };
        g.unknown_responses += 1;
        g.unknown_responses.is_multiple_of(n)
    }

    /// Counts one order-list call; true when this one must answer the platform's documented
    /// "service unavailable".
    pub fn next_list_is_busy(&self) -> bool {
        let mut g = self.lock();
        let Some(n) = g.faults.busy_every else {
            return false;
        };
        g.busy_responses += 1;
        g.busy_responses.is_multiple_of(n)
    }

    /// Counts a call for `key` (platform + app key) in the current one-second window.
    pub fn check_qps(&self, key: &str, now: Instant) -> QpsVerdict {
        let mut g = self.lock();
        let Some(limit) = g.faults.qps_limit else {
            return QpsVerdict::Allowed;
        };
        let window = g.qps.entry(key.to_owned()).or_insert(QpsWindow {
            started: now,
            calls: 0,
            banned_until: None,
        });
        if let Some(until) = window.banned_until {
            if now < until {
                let left = until.saturating_duration_since(now);
                return QpsVerdict::Banned {
                    seconds: left.as_secs().max(1),
                };
            }
            *window = QpsWindow {
                started: now,
                calls: 0,
                banned_until: None,
            };
        }
        if now.saturating_duration_since(window.started) >= Duration::from_secs(1) {
            *window = QpsWindow {
                started: now,
                calls: 0,
                banned_until: None,
            };
        }
        window.calls += 1;
        if window.calls > limit {
            window.banned_until = Some(now + Duration::from_secs(1));
            return QpsVerdict::Banned { seconds: 1 };
        }
        QpsVerdict::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_burst_parses_from_the_cli_form() {
        let b: ErrorBurst = "20:2:503".parse().unwrap();
        assert_eq!(
            b,
            ErrorBurst {
                every: 20,
                count: 2,
                status: 503
            }
        );
        assert!("20:2".parse::<ErrorBurst>().is_err());
    }

    #[test]
    fn qps_bans_for_the_rest_of_a_second() {
        let engine = FaultEngine::new(Faults {
            qps_limit: Some(2),
            ..Faults::default()
        });
        let t0 = Instant::now();
        assert_eq!(engine.check_qps("k", t0), QpsVerdict::Allowed);
        assert_eq!(engine.check_qps("k", t0), QpsVerdict::Allowed);
        assert_eq!(engine.check_qps("k", t0), QpsVerdict::Banned { seconds: 1 });
        assert!(matches!(
            engine.check_qps("k", t0),
            QpsVerdict::Banned { .. }
        ));
        assert_eq!(engine.check_qps("other", t0), QpsVerdict::Allowed);
        let later = t0 + Duration::from_millis(1100);
        assert_eq!(engine.check_qps("k", later), QpsVerdict::Allowed);
    }

    #[test]
    fn validation_rejects_zero_periods() {
        assert!(
            Faults {
                qps_limit: Some(0),
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
        let burst = ErrorBurst {
            every: 1,
            count: 1,
            status: 200,
        };
        assert!(
            Faults {
                error_burst: Some(burst),
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
        assert!(Faults::default().validate().is_ok());
    }
}
