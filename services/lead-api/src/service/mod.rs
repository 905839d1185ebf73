//! lead-api's use cases: the list ([`list`]), one lead in full ([`detail`]), the sales
//! workflow ([`workflow`]) and a number for a call ([`reveal`]).

pub mod detail;
pub mod list;
pub mod reveal;
pub mod view;
pub mod workflow;
