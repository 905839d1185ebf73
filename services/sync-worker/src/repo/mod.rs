//! sync-worker's queries.

pub mod credentials;
pub mod raw_orders;
pub mod tasks;
