//! lead-api: the gateway's lead endpoints (design 2.5) and the sales workspace.
//!
//! - [`routes`] — `GET /leads`, `GET /leads/{leadId}`, `PATCH /leads/{leadId}`, bulk
//!   `PATCH /leads`, `POST /leads/{leadId}/contact/reveal`: permission, parse, call, answer.
//! - [`service`] — one lead in full; the status workflow (version check, history, operation log,
//!   `LeadUpdated`); revealing a number for a call (purpose, quotas, the platform's decrypt API,
//!   audit).
//! - [`repo`] — the documented couplings to order-processor's `t_order_lead`,
//!   `t_ecom_order_processed` and `t_lead_identity` and to sync-worker's `t_ecom_order_raw`, and
//!   lead-api's own `t_lead_status_change`, `t_contact_reveal`, `t_contact_reveal_quota`,
//!   `t_contact_search_mask` and `t_order_revealed_identity`.
//! - [`error`] — [`error::LeadApiError`] and its one mapping to the envelope.
//! - [`openapi`] — this service's part of the gateway's OpenAPI document.
//! - [`config`] — [`Settings`], with `[reveal]`'s limits.
//! - [`startup`] — [`Application`].

pub mod config;
pub mod error;
pub mod openapi;
pub mod repo;
pub mod routes;
pub mod service;
pub mod startup;

pub use config::Settings;
pub use startup::Application;

/// This service's name.
pub const SERVICE: &str = "lead-api";
