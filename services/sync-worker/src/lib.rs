//! sync-worker: the design's `OrderSyncService` (design 4.2).
//!
//! - [`handler`] — the `SyncRequested` consumer: dedupe, run, record the outcome.
//! - [`sync`] — one task's run: windows, pages, retries, token refresh; [`sync::store`] persists
//!   each page with its `RawOrdersFetched` in one transaction.
//! - [`scheduler`] — periodic syncs of every ACTIVE authorization.
//! - [`recovery`] — tasks whose lease ran out: resumed (a new `SyncRequested`) or failed.
//! - [`refresher`] — shops' tokens refreshed before they expire, one replica per shop.
//! - [`repo`] — the tables it writes (`t_ecom_sync_task`, `t_ecom_order_raw`), the documented
//!   coupling to `t_ecom_platform_auth` ([`repo::credentials`]), and its operation-log entries
//!   for tasks ([`repo::audit`]).
//! - [`startup`] — [`Application`].

pub mod config;
pub mod handler;
pub mod recovery;
pub mod refresher;
pub mod repo;
pub mod scheduler;
pub mod startup;
pub mod sync;

pub use config::Settings;
pub use startup::Application;

/// This service's name in logs, events, the ledger and the operation log.
pub const SERVICE: &str = "sync-worker";
