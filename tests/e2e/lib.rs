//! The end-to-end harness: starts the built binaries (`cargo build --workspace --bins` first)
//! as processes with a database and broker prefix of their own, behind a real nginx gateway.

#![expect(
    clippy::expect_used,
    reason = "a broken harness must stop the test at once"
)]

pub mod gateway;
pub mod process;
pub mod system;
