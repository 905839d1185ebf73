//! sync-worker's queries.

pub mod audit;
pub mod credentials;
pub mod raw_orders;
pub mod tasks;
