//! The gateway API's conventions (`docs/api-conventions.md`), written once for every service:
//!
//! - [`envelope`] — `{code, message, data, traceId}` for every JSON response.
//! - [`error`] — [`ApiError`], the one type every service maps its errors into, and the
//!   extractor error handlers that turn malformed JSON, queries and paths into 400s.
//! - [`codes`] — the business error codes, listed in one place.
//! - [`auth`] — the bearer-token identity ([`AuthUser`]) and permission checks.
//! - [`paging`] — `page`/`size`, sort allow-lists and the page payload.
//! - [`query`] — query parameter names an endpoint does not document, and request times.
//! - [`openapi`] — the OpenAPI pieces every service shares (envelope, page, error, bearer,
//!   shared 405/413/503 answers, string enums from the domain's value lists).
//! - [`nul`] — NUL characters in queries and JSON bodies answered 400, never passed on.
//! - [`metrics`] — HTTP request metrics and `GET /metrics`.
//! - [`server`] — health and readiness endpoints, request tracing, graceful serving.
//! - [`throttle`] — how many requests one tenant may make of one process.

pub mod auth;
pub mod body;
pub mod codes;
pub mod envelope;
pub mod error;
pub mod metrics;
pub mod nul;
pub mod openapi;
pub mod paging;
pub mod query;
pub mod server;
pub mod throttle;

pub use auth::{AuthUser, Authorized, Claims, JwtVerifier, Permission, needs};
pub use envelope::{created, etag, ok, ok_versioned};
pub use error::{ApiError, FieldError};
pub use paging::{BoundedPage, Page, SortOrder};

/// The path every gateway endpoint of the module is under (design 2.x; the nginx gateway and
/// the Ingress route it to auth-api and lead-api).
pub const BASE: &str = "/api/v1/lead-generation/orders";
