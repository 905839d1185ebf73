//! order-processor's queries.

pub mod leads;
pub mod processed;
pub mod raw_orders;
