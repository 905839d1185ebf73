//! The pieces of the gateway's OpenAPI document every service shares: the envelope around every
//! answer, the page payload, the error answer, the answers every operation can get (405, 413, 414, 431,
//! 503), the bearer scheme, the business codes, and string enums built from the domain's own
//! value lists (`string_enum`, `string_enum_schema!`, `PlatformTypeSchema`). Each
//! service describes its own paths with utoipa; `leadctl openapi` merges them into
//! `docs/openapi.json`, the one document of the gateway API.

use leadgen_domain::PlatformType;
use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, ToSchema};

#[doc(hidden)]
pub use utoipa;

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
    #[schema(schema_with = null_schema, required = true)]
    pub data: Option<()>,
    pub trace_id: String,
}

/// A 422: the [`ErrorEnvelope`] (code 422) with every field that failed its check.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationErrorEnvelope {
    /// 422.
    pub code: u32,
    /// Simplified Chinese: what failed, as a sentence.
    pub message: String,
    /// Always null.
    #[schema(schema_with = null_schema, required = true)]
    pub data: Option<()>,
    pub trace_id: String,
    /// Every failed field (`field` the path in the body, `message` why).
    pub errors: Vec<FieldErrorBody>,
}

/// `ErrorEnvelope.data`: JSON `null`, nothing else.
fn null_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Null)
        .description(Some("Always null."))
}

/// A string that takes only `values` (`enum`), for a field whose Rust type is a `String` (or a
/// domain enum without utoipa's derive). Pass the domain's own list (`PlatformType::ALL` through
/// `as_str`), never a copy of it. A field can use it directly with
/// `#[schema(schema_with = …)]` (a function returning this, with the field's description, as
/// utoipa then drops the doc comment), or through a named schema ([`string_enum_schema!`]).
pub fn string_enum<S: Into<String>>(values: impl IntoIterator<Item = S>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.into_iter().map(Into::into)))
}

/// A doc comment's lines (`#[doc = "…"]`) as one description, as utoipa writes them.
#[doc(hidden)]
pub fn doc_text(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Declares a type that only documents: a string [`string_enum`] named `$name` among the
/// document's schemas, described by the doc comment. A field refers to it with
/// `#[schema(value_type = $ty)]` (or `Option<$ty>`, `Vec<$ty>`), and keeps its own doc comment.
///
/// ```ignore
/// leadgen_http::string_enum_schema! {
///     /// Status of a platform authorization.
///     pub struct AuthStatusSchema as "AuthStatus" = AuthStatus::ALL.iter().map(|s| s.as_str());
/// }
/// ```
#[macro_export]
macro_rules! string_enum_schema {
    ($(#[doc = $doc:literal])* $vis:vis struct $ty:ident as $name:literal = $values:expr;) => {
        $(#[doc = $doc])*
        $vis struct $ty;

        impl $crate::openapi::utoipa::PartialSchema for $ty {
            fn schema() -> $crate::openapi::utoipa::openapi::RefOr<
                $crate::openapi::utoipa::openapi::schema::Schema,
            > {
                $crate::openapi::string_enum($values)
                    .description(Some($crate::openapi::doc_text(&[$($doc),*])))
                    .into()
            }
        }

        impl $crate::openapi::utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
}

string_enum_schema! {
    /// The e-commerce platform (`TAOBAO` covers Tmall too).
    pub struct PlatformTypeSchema as "PlatformType" = PlatformType::ALL.iter().map(|p| p.as_str());
}

/// The answers every operation can get whatever it does (`docs/api-conventions.md`): 405 with
/// `Allow` for a method its path does not take, 413 for a body over 256 KB (the service; the
/// gateway refuses over 1 MB), 414 and 431 from the gateway for a request line or headers over
/// its buffers, 429 with `Retry-After` for a tenant past its share of requests, and
/// 503 with `Retry-After` when the service's database is saturated or does not answer; and from
/// the gateway, 500 for a failure of its own, 502 when the service cannot be reached, 504 when
/// it does not answer in time. Each is written once under `components/responses` and referenced
/// from every operation that does not describe the status itself.
pub struct SharedResponses;

/// Said of every answer the gateway may write itself: the local nginx writes the envelope, the
/// cluster's Ingress controller may write its own page (`k8s/README.md`).
const GATEWAY_BODY_NOTE: &str =
    "。网关自己的应答在集群中可能是 Ingress 的 HTML 页面而非 JSON：先看 Content-Type 再解析";

/// `(status, name under components/responses, response)`.
fn shared_responses() -> [(&'static str, &'static str, Response); 9] {
    let envelope = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
            .build()
    };
    let header = |schema_type: Type, description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(schema_type))
            .description(Some(description))
            .build()
    };
    [
        (
            "405",
            "MethodNotAllowed",
            ResponseBuilder::new()
                .description("该路径不支持此请求方法（Allow 列出支持的方法）")
                .content("application/json", envelope())
                .header(
                    "Allow",
                    header(Type::String, "该路径支持的方法，例如 GET, HEAD"),
                )
                .build(),
        ),
        (
            "413",
            "PayloadTooLarge",
            ResponseBuilder::new()
                .description("请求体过大（上限 256 KB）")
                .content("application/json", envelope())
                .build(),
        ),
        (
            "414",
            "UriTooLong",
            ResponseBuilder::new()
                .description(format!("请求地址过长（网关）{GATEWAY_BODY_NOTE}"))
                .content("application/json", envelope())
                .build(),
        ),
        (
            "431",
            "HeadersTooLarge",
            ResponseBuilder::new()
                .description(format!("请求头过大（网关）{GATEWAY_BODY_NOTE}"))
                .content("application/json", envelope())
                .build(),
        ),
        (
            "429",
            "TooManyRequests",
            ResponseBuilder::new()
                .description(
                    "本企业的请求过于频繁（业务码 42907，`[http] tenant_requests_per_second`），\
                     或该操作自己的限额已用完（见业务码）：Retry-After 秒后重试",
                )
                .content("application/json", envelope())
                .header("Retry-After", header(Type::Integer, "多少秒后可重试"))
                .build(),
        ),
        (
            "500",
            "InternalError",
            ResponseBuilder::new()
                .description(format!("内部错误（服务或网关）{GATEWAY_BODY_NOTE}"))
                .content("application/json", envelope())
                .build(),
        ),
        (
            "502",
            "BadGateway",
            ResponseBuilder::new()
                .description(format!("服务暂不可用（网关连不上服务）{GATEWAY_BODY_NOTE}"))
                .content("application/json", envelope())
                .build(),
        ),
        (
            "504",
            "GatewayTimeout",
            ResponseBuilder::new()
                .description(format!("服务响应超时（网关）{GATEWAY_BODY_NOTE}"))
                .content("application/json", envelope())
                .build(),
        ),
        (
            "503",
            "ServiceUnavailable",
            ResponseBuilder::new()
                .description("服务繁忙，请稍后重试（数据库连接已用尽或数据库无响应）")
                .content("application/json", envelope())
                .header(
                    "Retry-After",
                    header(Type::Integer, "多少秒后可重试（服务繁忙时为 1）"),
                )
                .build(),
        ),
    ]
}

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let shared = shared_responses();
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, response) in &shared {
            components
                .responses
                .insert((*name).to_owned(), RefOr::T(response.clone()));
        }
        for operation in operations_mut(openapi) {
            // A tenant's share is counted once its token is verified: an operation that takes
            // none (the OAuth callback) is never refused for it.
            let authenticated = operation.security.as_ref().is_none_or(|requirements| {
                requirements.iter().any(|r| {
                    serde_json::to_value(r)
                        .is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                })
            });
            for (status, name, _) in &shared {
                if *status == "429" && !authenticated {
                    continue;
                }
                operation
                    .responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
            }
        }
    }
}

/// Every operation of the document.
fn operations_mut(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
    })
}

/// White space as `str::trim` reads it: what a blank query parameter may hold.
const BLANK: &str =
    r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

/// An optional query parameter sent empty or blank (`platformId=`, as front ends send an unset
/// filter) is read as absent (`crate::query`): each one that is not already a string says so,
/// as `anyOf` its own schema or a blank string, so that the document admits what the service
/// accepts.
pub struct BlankQueryIsAbsent;

impl Modify for BlankQueryIsAbsent {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::schema::{AnyOfBuilder, Schema};
        use utoipa::openapi::{Required, schema::SchemaType};
        for operation in operations_mut(openapi) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in != ParameterIn::Query
                    || parameter.required == Required::True
                {
                    continue;
                }
                let Some(schema) = parameter.schema.take() else {
                    continue;
                };
                let already_text = matches!(
                    &schema,
                    RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::String)
                );
                parameter.schema = Some(if already_text {
                    schema
                } else {
                    let blank = ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(BLANK));
                    AnyOfBuilder::new().item(schema).item(blank).into()
                });
            }
        }
    }
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
