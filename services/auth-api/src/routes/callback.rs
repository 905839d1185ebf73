//! `GET /platforms/auth/callback`: where the platform's consent page sends the browser. No
//! bearer token (a browser redirect); the `state` we issued is the credential.

use actix_web::{HttpResponse, web};
use leadgen_http::ApiError;

use crate::service::oauth::{self, CallbackQuery};
use crate::startup::AppState;

/// Where the platform's consent page sends the browser; no bearer token (the `state` is the
/// credential). With a `redirectUrl` the browser is sent on (302).
#[utoipa::path(get, path = "/platforms/auth/callback", tag = "platforms", operation_id = "authCallback",
    params(
        ("code" = Option<String>, Query, description = "授权码"),
        ("state" = Option<String>, Query, description = "发起授权时的 state"),
        ("error" = Option<String>, Query, description = "商家拒绝授权时平台给出"),
        ("error_description" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "授权完成", body = leadgen_http::openapi::Envelope<crate::service::oauth::Completed>),
        (status = 302, description = "跳转到前端 redirectUrl"),
        (status = 400, description = "参数错误（含业务码）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 502, description = "电商平台调用失败", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let completed = oauth::complete(&state, query.into_inner()).await?;
    Ok(match &completed.redirect_to {
        Some(url) => HttpResponse::Found()
            .insert_header(("Location", url.as_str()))
            .finish(),
        None => leadgen_http::ok(completed),
    })
}
