//! The platform adapters against the platform simulator (the built `platform-sim` binary; build
//! it first with `cargo build -p platform-sim`): for each platform, the consent flow, and a range
//! walked window by window and page by page that ends with exactly the orders the simulator
//! holds, with and without faults; and revealing a buyer's phone within the platform's rules
//! ([`reveal`]). The simulator plumbing is in [`harness`]; each platform's module holds its tests
//! and what is particular to it.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

mod harness;
mod reveal;

mod douyin;
mod jd;
mod kuaishou;
mod pdd;
mod taobao;
