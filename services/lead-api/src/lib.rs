//! lead-api: the gateway's lead endpoints (design 2.5) and the sales workspace.
//!
//! - [`routes`] — `GET /leads`, `GET /leads/{leadId}`, `PATCH /leads/{leadId}`, bulk
//!   `PATCH /leads`: permission, parse, call, answer.
//! - [`service`] — one lead in full; the status workflow (version check, history, operation log,
//!   `LeadUpdated`).
//! - [`repo`] — the documented couplings to order-processor's `t_order_lead` and
//!   `t_ecom_order_processed`, and lead-api's own `t_lead_status_change`.
//! - [`error`] — [`error::LeadApiError`] and its one mapping to the envelope.
//! - [`openapi`] — this service's part of the gateway's OpenAPI document.
//! - [`startup`] — [`Application`].

pub mod error;
pub mod openapi;
pub mod repo;
pub mod routes;
pub mod service;
pub mod startup;

pub use startup::{Application, Settings};

/// This service's name.
pub const SERVICE: &str = "lead-api";
