//! lead-api against the real PostgreSQL: each test starts the service on a free port with its own
//! database, writes the leads order-processor would have written, and reads them over HTTP like
//! the front end would.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

mod health;
mod helpers;
mod leads;
mod list_plans;
mod reveal;
mod search;
mod workspace;
