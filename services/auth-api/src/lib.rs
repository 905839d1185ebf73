//! auth-api: the gateway's platform endpoints (design 2.1–2.4).
//!
//! - [`routes`] — one handler per endpoint; permission check, call the service, answer.
//! - [`service`] — business rules, one transaction per use case, events through the outbox.
//! - [`repo`] — diesel queries, each scoped by tenant.
//! - [`error`] — the service's errors and their one mapping to the envelope.
//! - [`openapi`] — this service's part of the gateway's OpenAPI document.
//! - [`startup`] — [`Application`], which owns the listener, the relay and the broker.

pub mod config;
pub mod error;
pub mod openapi;
pub mod repo;
pub mod routes;
pub mod service;
pub mod startup;

pub use config::Settings;
pub use startup::Application;

/// This service's name in logs, events and the operation log.
pub const SERVICE: &str = "auth-api";
