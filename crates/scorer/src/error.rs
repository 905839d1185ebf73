//! Why a call to the scorer gave no intention. Every variant means "use the built-in model".

/// A failed [`crate::Scorer`] call or construction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScorerError {
    /// No complete answer within `timeout_ms` (after every retry).
    #[error("the scorer did not answer in time")]
    Timeout,
    /// A status other than 2xx; 5xx were retried, 4xx were not.
    #[error("the scorer answered HTTP {0}")]
    Status(u16),
    /// A 2xx answer that breaks the contract (bad JSON, intention out of range, …); not retried.
    #[error("the scorer's answer breaks the contract: {0}")]
    Garbage(String),
    /// The circuit breaker is open: recent calls failed, so this one was not sent.
    #[error("the scorer's circuit breaker is open")]
    CircuitOpen,
    /// Connecting, sending or reading failed (after every retry).
    #[error("the scorer could not be reached: {0}")]
    Transport(String),
    /// The settings cannot make a client (bad URL, zero concurrency, …).
    #[error("invalid scorer settings: {0}")]
    Config(String),
}

impl ScorerError {
    /// The call's `outcome` as `leadgen_scorer_calls_total` labels it.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ScorerError::Timeout => "timeout",
            ScorerError::Status(_) | ScorerError::Transport(_) | ScorerError::Config(_) => "error",
            ScorerError::Garbage(_) => "invalid",
            ScorerError::CircuitOpen => "breaker_open",
        }
    }

    /// Worth another attempt within the same call: the scorer may answer next time.
    pub fn is_retryable(&self) -> bool {
        match self {
            ScorerError::Timeout | ScorerError::Transport(_) => true,
            ScorerError::Status(code) => *code >= 500,
            ScorerError::Garbage(_) | ScorerError::CircuitOpen | ScorerError::Config(_) => false,
        }
    }
}
