//! The scorer's settings, one section of a service's layered configuration
//! (`LEADGEN__SCORER__URL`, `LEADGEN__SCORER__TIMEOUT_MS`, …).

use std::time::Duration;

use serde::Deserialize;

/// Where the external scorer is and how patient to be with it.
///
/// Every field has a default, so an empty section (or none) means "disabled".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScorerSettings {
    /// `http(s)://…` the scorer's predict endpoint; absent or blank = no external scorer.
    pub url: Option<String>,
    /// Per attempt: connecting, sending and reading the whole answer.
    pub timeout_ms: u64,
    /// Requests in flight to the scorer at once, over every caller of one [`crate::Scorer`].
    pub max_concurrency: usize,
    /// Attempts after the first, for timeouts, 5xx and transport errors.
    pub retries: usize,
    /// Consecutive failed calls (each after its retries) that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker rejects calls before it lets one trial through.
    pub breaker_cooldown_secs: u64,
    /// Days an answer stands: an intention is a prediction as of the day it was asked for, so a
    /// buyer who does not change is asked again this many days later (the standing answer kept
    /// until the new one comes). At least 1.
    pub stands_days: u32,
}

impl Default for ScorerSettings {
    fn default() -> Self {
        ScorerSettings {
            url: None,
            timeout_ms: 800,
            max_concurrency: 4,
            retries: 2,
            breaker_failures: 5,
            breaker_cooldown_secs: 30,
            stands_days: 7,
        }
    }
}

impl ScorerSettings {
    /// The URL when the scorer is enabled.
    pub fn enabled_url(&self) -> Option<&str> {
        self.url.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn breaker_cooldown(&self) -> Duration {
        Duration::from_secs(self.breaker_cooldown_secs)
    }

    /// How long an answer stands ([`ScorerSettings::stands_days`]).
    pub fn stands(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.stands_days))
    }
}
