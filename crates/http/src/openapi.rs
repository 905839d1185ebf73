//! The pieces of the gateway's OpenAPI document every service shares: the envelope around every
//! answer, the page payload, the error answer, the bearer scheme and the business codes. Each
//! service describes its own paths with utoipa; `leadctl openapi` merges them into
//! `docs/openapi.json`, the one document of the gateway API.

use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, ToSchema};

/// Every successful answer: `code` 200 (or 201), `message` `success`, the payload in `data`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T: ToSchema> {
    /// 200, or 201 for a create.
    pub code: u32,
    pub message: String,
    pub data: T,
    /// The request's OpenTelemetry trace id (32 hex digits).
    pub trace_id: String,
}

/// A page of records (design: `records`, `total`, `size`, `current`, `pages`).
#[derive(Serialize, ToSchema)]
pub struct PageOf<T: ToSchema> {
    pub records: Vec<T>,
    pub total: i64,
    pub size: i64,
    pub current: i64,
    pub pages: i64,
}

/// A page whose total stops counting at a bound (the lead list): `total` is exact when
/// `totalExact`, otherwise a lower bound, and `pages` follows from it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoundedPageOf<T: ToSchema> {
    pub records: Vec<T>,
    /// Exact when `totalExact`; otherwise "at least this many" (the browsing window).
    pub total: i64,
    pub size: i64,
    pub current: i64,
    pub pages: i64,
    pub total_exact: bool,
}

/// One failed field of a 422.
#[derive(Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// The field's path, e.g. `authInfo.appKey`.
    pub field: String,
    pub message: String,
}

/// Every error answer: the HTTP status or a five-digit business code (`docs/api-conventions.md`),
/// a Simplified Chinese message, `data` null, and the trace id.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    /// The HTTP status, or a business code whose first three digits are the status.
    pub code: u32,
    /// Simplified Chinese; never a stack trace, SQL or secret.
    pub message: String,
    /// Always null.
    #[schema(value_type = Option<String>)]
    pub data: Option<()>,
    pub trace_id: String,
    /// With 422: every failed field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldErrorBody>>,
}

/// Adds the bearer scheme every path but the OAuth callback uses.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".to_owned());
        http.description = Some(
            "JWT with `sub` (user), `tenant_id`, `name`, `perms` (lead:order:auth, \
             lead:order:sync, lead:order:view, lead:order:process, lead:order:audit, \
             lead:order:contact)"
                .to_owned(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// The business codes as a Markdown table, for the document's description.
pub fn business_codes_markdown() -> String {
    let mut out = String::from("| code | HTTP | message |\n|---|---|---|\n");
    for c in crate::codes::ALL {
        out.push_str(&format!("| {} | {} | {} |\n", c.code, c.status, c.message));
    }
    out
}
