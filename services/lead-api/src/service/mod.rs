//! lead-api's use cases: one lead in full ([`detail`]), the sales workflow ([`workflow`]) and a
//! number for a call ([`reveal`]).

pub mod detail;
pub mod reveal;
pub mod view;
pub mod workflow;
