//! The parts of `leadctl` that integration tests call directly, with explicit settings rather
//! than through the binary and its configuration files.

pub mod data_key;
pub mod dlq;
