//! lead-api: the gateway's lead endpoints (design 2.5).
//!
//! - [`routes`] — `GET /leads`.
//! - [`repo`] — the documented read-only coupling to order-processor's `t_order_lead`.
//! - [`startup`] — [`Application`].

pub mod repo;
pub mod routes;
pub mod startup;

pub use startup::{Application, Settings};

/// This service's name.
pub const SERVICE: &str = "lead-api";
