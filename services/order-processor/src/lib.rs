//! order-processor: the design's `OrderProcessingService` (design 4.4).
//!
//! - [`handler`] — the `RawOrdersFetched` consumer; one transaction per message.
//! - [`processing`] — one raw order → processed order → lead (rules in `leadgen_domain::lead`).
//! - [`repo`] — `t_ecom_order_processed` and `t_order_lead` (owned here) and the documented
//!   coupling to sync-worker's `t_ecom_order_raw` ([`repo::raw_orders`]).
//! - [`startup`] — [`Application`].

pub mod config;
pub mod handler;
pub mod processing;
pub mod repo;
pub mod startup;

pub use config::Settings;
pub use startup::Application;

/// This service's name in logs, events, the ledger and the operation log.
pub const SERVICE: &str = "order-processor";
