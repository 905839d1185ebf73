//! lead-api's queries: the list and the detail (read-only couplings to order-processor's lead
//! and order tables), and the sales workflow's writes.

pub mod detail;
pub mod leads;
pub mod list;
pub mod reveal;
pub mod workflow;
