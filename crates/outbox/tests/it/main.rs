//! Integration tests of `leadgen-messaging` and `leadgen-outbox` against the real RabbitMQ and
//! PostgreSQL (see `leadgen-test-support` for the server locations). Every test has a database
//! and a broker prefix of its own, so they run in parallel.

#![expect(
    clippy::expect_used,
    reason = "a failed fixture or broker call should stop the test at once"
)]

mod connection_loss;
mod consuming;
mod relay;
mod shutdown;
mod support;
