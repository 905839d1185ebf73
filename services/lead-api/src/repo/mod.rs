//! lead-api's queries.

pub mod leads;
