//! lead-api's use cases: the list ([`list`]), one lead in full ([`detail`]), the sales
//! workflow ([`workflow`]) and a number for a call ([`reveal`]); what they write to the
//! operation log ([`audit`]).

pub mod audit;
pub mod detail;
pub mod list;
pub mod quota;
pub mod reveal;
pub mod slots;
pub mod view;
pub mod workflow;
