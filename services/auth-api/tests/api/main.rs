//! auth-api against the real PostgreSQL and RabbitMQ: each test starts the service on a free
//! port with its own database and broker prefix and drives it over HTTP like the front end (and
//! the merchant's browser) would.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

mod callback;
mod create;
mod health;
mod helpers;
mod list;
mod operation_logs;
mod shops;
mod strict;
mod sync;
mod sync_cancel;
mod sync_records;
