//! order-processor against the real PostgreSQL (and RabbitMQ for the consumers): buyer-leads are
//! the same whatever the arrival order, batch split or number of replicas; changes reach leads;
//! merges and sales decisions survive.

#![expect(
    clippy::unwrap_used,
    reason = "tests stop at the first broken expectation"
)]

mod consumers;
mod determinism;
mod housekeeping;
mod identities;
mod lifecycle;
mod migration;
mod retention;
mod scorer;
mod settle;
mod statistics;
mod support;
mod sweep;
mod unreadable;
