//! order-processor's queries, one module per table.

pub mod identities;
pub mod leads;
pub mod legacy;
pub mod processed;
pub mod purge;
pub mod raw_orders;
pub mod revealed;
pub mod shop_stats;
