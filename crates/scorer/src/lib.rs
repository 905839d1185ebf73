//! Calls the optional external intention scorer (`AiFilteringService.predictIntention` over
//! HTTP); on any [`ScorerError`] the caller falls back to the built-in model
//! ([`leadgen_domain::scoring::predict_intention`]).
//!
//! - [`ScorerSettings`]: where the scorer is (absent URL = disabled) and how patient to be.
//! - [`Scorer::predict`]: one call, bounded everywhere: at most `max_concurrency` requests in
//!   flight, `timeout_ms` per attempt, `retries` more attempts with jittered exponential backoff
//!   for timeouts, 5xx and transport errors (never for 4xx or a garbage answer), and a circuit
//!   breaker that opens after `breaker_failures` consecutive failed calls, rejects at once
//!   ([`ScorerError::CircuitOpen`]) for `breaker_cooldown_secs`, then lets one trial call
//!   through.
//! - [`contract`]: the request and response bodies; `proto-events/scorer/` holds their JSON
//!   Schemas, generated from these types and checked by a test.
//!
//! The breaker is a small module of this crate, not a dependency: the crates available admit
//! every call while half-open, and this client promises exactly one trial.

mod breaker;
mod client;
pub mod contract;
mod error;
mod settings;

pub use client::Scorer;
pub use contract::{ModelInput, PredictRequest, PredictResponse, ResponseReason};
pub use error::ScorerError;
pub use settings::ScorerSettings;

#[cfg(test)]
mod tests;
