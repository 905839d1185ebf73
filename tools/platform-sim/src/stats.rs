//! Call counters for `GET /_sim/stats`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Value, json};

use leadgen_domain::PlatformType;

/// Counters for one platform.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlatformStats {
    pub api_calls: u64,
    pub api_calls_by_method: BTreeMap<String, u64>,
    pub api_errors_by_code: BTreeMap<String, u64>,
    pub http_faults_by_status: BTreeMap<String, u64>,
    pub malformed_responses: u64,
    /// Order lists answered with the platform's "service unavailable" (the `busy_every` fault).
    pub busy_responses: u64,
    /// Items opened by the platform's decrypt API (failed items not counted).
    pub decrypted_items: u64,
    pub authorize_pages: u64,
    pub authorizations_approved: u64,
    pub authorize_errors: u64,
    pub token_requests: u64,
    pub token_errors_by_error: BTreeMap<String, u64>,
    /// Access tokens issued, by code exchange and by refresh.
    pub tokens_issued: u64,
    pub tokens_refreshed: u64,
}

#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<BTreeMap<&'static str, PlatformStats>>,
}

impl Stats {
    /// Updates one platform's counters.
    pub fn with(&self, platform: PlatformType, f: impl FnOnce(&mut PlatformStats)) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(g.entry(platform.as_str()).or_default());
    }

    #[cfg(test)]
    pub fn platform(&self, platform: PlatformType) -> PlatformStats {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.get(platform.as_str()).cloned().unwrap_or_default()
    }

    /// `{"calls", "errors", "tokens_issued", "platforms": {"taobao": {…}}}`; the top-level numbers
    /// add up every platform (API calls, API error answers, access tokens issued).
    pub fn snapshot(&self) -> Value {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let calls: u64 = g.values().map(|s| s.api_calls).sum();
        let errors: u64 = g
            .values()
            .map(|s| s.api_errors_by_code.values().sum::<u64>())
            .sum();
        let tokens: u64 = g.values().map(|s| s.tokens_issued).sum();
        let platforms: serde_json::Map<String, Value> = g
            .iter()
            .map(|(p, s)| (p.to_lowercase(), json!(s)))
            .collect();
        json!({ "calls": calls, "errors": errors, "tokens_issued": tokens, "platforms": platforms })
    }
}

/// Adds one to `map[key]`.
pub fn bump(map: &mut BTreeMap<String, u64>, key: impl Into<String>) {
    *map.entry(key.into()).or_default() += 1;
}
