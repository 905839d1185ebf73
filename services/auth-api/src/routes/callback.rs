//! `GET /platforms/auth/callback`: where the platform's consent page sends the browser. No
//! bearer token (a browser redirect); the `state` we issued is the credential.

use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use leadgen_http::ApiError;

use super::consent;
use crate::service::oauth::{self, CallbackQuery};
use crate::startup::AppState;

/// Where the platform's consent page sends the browser; no bearer token (the `state` is the
/// credential), and it must come back to the browser that asked (its consent cookie, unless
/// `[oauth] bind_state_to_browser` is off). With a `redirectUrl` the browser is sent on (302).
/// HEAD is refused (405): it would spend the consent without anyone seeing the answer.
#[utoipa::path(get, path = "/platforms/auth/callback", tag = "platforms", operation_id = "authCallback",
    // The platform sends the merchant's browser here: no bearer token, on purpose.
    security(()),
    params(
        ("code" = Option<String>, Query, description = "授权码"),
        ("state" = Option<String>, Query, description = "发起授权时的 state"),
        ("error" = Option<String>, Query, description = "商家拒绝授权时平台给出"),
        ("error_description" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "授权完成", body = leadgen_http::openapi::Envelope<crate::service::oauth::Completed>),
        (status = 302, description = "发起授权时给了 redirectUrl 时，跳转回前端。Location 是该 redirectUrl，在其查询串中（片段之前）追加 platformId、platformType 和 status（授权后的状态，成功时为 ACTIVE）；商家拒绝授权或授权失败时还追加 error=<业务码>（与不带 redirectUrl 时错误响应的 code 相同）",
            headers(("Location" = String, description = "redirectUrl?…&platformId=<id>&platformType=<平台>&status=<状态>[&error=<业务码>]"))),
        (status = 400, description = "参数错误（含业务码）；40002：state 无效、已过期，或不是在发起授权的浏览器中完成", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 405, description = "HEAD 请求不处理授权回调", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 502, description = "电商平台调用失败", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    if leadgen_http::server::came_as_head(&req) {
        return Ok(leadgen_http::server::method_not_allowed("GET"));
    }
    leadgen_http::nul::refuse_marked(&req)?;
    let query = query.into_inner();
    let raw_state = query.state.clone().unwrap_or_default();
    let bound = !state.oauth.bind_state_to_browser || consent::presented(&req, &raw_state);
    let completed = oauth::complete(&state, query, bound).await;
    // A failure on the platform's or our side keeps the consent for another try.
    let kept = match &completed {
        Ok(completed) => completed.keeps_consent,
        Err(e) => e.keeps_consent(),
    };
    let mut response = match completed {
        Ok(completed) => match &completed.redirect_to {
            Some(url) => HttpResponse::Found()
                .insert_header(("Location", url.as_str()))
                .finish(),
            None => leadgen_http::ok(completed),
        },
        Err(e) => ApiError::from(e).error_response(),
    };
    if let Some(spent) = consent::spent(&req, &state, &raw_state).filter(|_| !kept) {
        // Best effort: the consent is spent either way, and the cookie expires on its own.
        if let Err(e) = response.add_cookie(&spent) {
            tracing::warn!(error = %e, "Could not remove the consent cookie");
        }
    }
    Ok(response)
}
