//! lead-api's use cases: one lead in full ([`detail`]) and the sales workflow ([`workflow`]).

pub mod detail;
pub mod workflow;
