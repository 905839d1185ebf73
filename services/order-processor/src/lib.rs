//! order-processor: the design's `OrderProcessingService` (design 4.4).
//!
//! - [`handler`] — the `RawOrdersFetched` consumer; one transaction per message.
//! - [`batch`] — the unit of work: raw orders → processed orders → buyer-leads rebuilt from all
//!   of each buyer's orders (rules in `leadgen_domain::{buyer, scoring, lead}`).
//! - [`orders`] and [`lead_record`] — one order's identities and processed row; a buyer's lead row
//!   and event snapshot.
//! - [`rescore`] — re-ranks and rescores a shop's buyers once its leads settle, and daily.
//! - [`sweep`] — processes raw orders left pending (lost pages, rebuilds, the migration).
//! - [`retention`] — deletes the history of a shop disconnected, or whose grant the platform
//!   ended, once its retention period ends.
//! - [`housekeeping`] — deletes the processed-message ledger and the operation log by age.
//! - [`statistics`] — analyzes the tables autovacuum does not look after (a server with it off).
//! - [`repo`] — `t_ecom_order_processed`, `t_order_lead`, `t_lead_identity`, `t_lead_shop_stats`,
//!   `t_lead_legacy_status` (owned here) and the documented couplings: sync-worker's
//!   `t_ecom_order_raw`, lead-api's `t_order_revealed_identity` (read) and the retention purge
//!   of a disconnected shop's rows.
//! - [`unreadable`] — stored values that no longer read, described without their content.
//! - [`startup`] — [`Application`].

pub mod batch;
pub mod config;
pub mod handler;
pub mod housekeeping;
pub mod lead_record;
pub mod orders;
pub mod processor;
pub mod repo;
pub mod rescore;
pub mod retention;
pub mod startup;
pub mod statistics;
pub mod sweep;
pub mod unreadable;

pub use config::Settings;
pub use startup::Application;

/// This service's name in logs, events, the ledger and the operation log.
pub const SERVICE: &str = "order-processor";
