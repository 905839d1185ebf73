//! auth-api's part of the gateway's OpenAPI document, generated from its handlers and types
//! (`leadctl openapi` merges it with lead-api's into `docs/openapi.json`, which this service
//! serves at `…/openapi.json`).

use utoipa::OpenApi;

use leadgen_http::openapi::BearerAuth;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::create::create,
        routes::list::list,
        routes::detail::detail,
        routes::callback::callback,
        routes::sync::sync,
        routes::sync_records::list,
        routes::sync_cancel::cancel,
        routes::shops::set_status,
        routes::shops::revoke,
        routes::shops::reauthorize,
        routes::operation_logs::list,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "platforms", description = "电商平台授权（设计 2.1–2.2、4.1）"),
        (name = "syncs", description = "订单同步与同步记录（设计 2.3–2.4）"),
        (name = "audit", description = "操作日志（设计 7）"),
    )
)]
pub struct ApiDoc;
