//! Shop management (design 4.1 `updateAuthStatus`): `PUT /platforms/{platformId}/status`,
//! `DELETE /platforms/{platformId}`, `POST /platforms/{platformId}/reauthorize`.

use actix_web::{HttpRequest, HttpResponse, web};
use leadgen_domain::{AuthStatus, PlatformId};
use leadgen_http::{ApiError, Authorized, FieldError, needs};
use serde::Deserialize;
use validator::Validate;

use crate::service::shops;
use crate::startup::AppState;

/// `{"status": "DISABLED" | "ACTIVE"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopStatusBody {
    /// `DISABLED` pauses the shop (not synced); `ACTIVE` resumes it. Missing, blank or another
    /// value: 422.
    #[schema(schema_with = crate::openapi::settable_status, required = true)]
    pub status: Option<String>,
}

/// `{"redirectUrl": "…"}` (optional): where the browser goes after the consent, checked as at
/// `POST /platforms/auth`.
#[derive(Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReauthorizeBody {
    #[validate(
        custom(
            function = "crate::service::validate::http_url",
            message = "redirectUrl 必须是合法的 http(s) URL"
        ),
        length(max = 1024, message = "redirectUrl 过长")
    )]
    #[schema(format = "uri", max_length = 1024)]
    pub redirect_url: Option<String>,
}

fn invalid(message: &str) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: "status".into(),
        message: message.into(),
    }])
}

/// Pauses (`DISABLED`) or resumes (`ACTIVE`) a shop. A paused shop is not synced and a sync
/// request answers 40009; a running sync is cancelled. Resuming needs a grant (else 40001).
#[utoipa::path(put, path = "/platforms/{platformId}/status", tag = "platforms", operation_id = "updatePlatformStatus",
    params(("platformId" = i64, Path, description = "授权 ID")),
    request_body = ShopStatusBody,
    security(("bearer" = ["lead:order:auth"])),
    responses(
        (status = 200, description = "授权当前状态", body = leadgen_http::openapi::Envelope<crate::service::authorizations::Listed>),
        (status = 400, description = "参数错误（含业务码 40001）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 404, description = "不存在（或属于其他租户）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 422, description = "字段校验失败", body = leadgen_http::openapi::ValidationErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn set_status(
    user: Authorized<needs::Auth>,
    _: leadgen_http::query::NoQuery,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: leadgen_http::body::Json<ShopStatusBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let target = body
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("status 不能为空"))?
        .parse::<AuthStatus>()
        .ok()
        .filter(|s| shops::settable(*s))
        .ok_or_else(|| invalid("status 只能是 DISABLED 或 ACTIVE"))?;
    let platform =
        shops::set_status(&state, &user, PlatformId::new(path.into_inner()), target).await?;
    Ok(leadgen_http::ok(platform))
}

/// Disconnects a shop: tokens wiped, `REVOKED`, a running sync cancelled, never scheduled
/// again; its orders, leads and sync records are kept. Idempotent.
#[utoipa::path(delete, path = "/platforms/{platformId}", tag = "platforms", operation_id = "revokePlatform",
    params(("platformId" = i64, Path, description = "授权 ID")),
    security(("bearer" = ["lead:order:auth"])),
    responses(
        (status = 200, description = "已解除授权", body = leadgen_http::openapi::Envelope<crate::service::authorizations::Listed>),
        (status = 400, description = "参数错误", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 404, description = "不存在（或属于其他租户）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn revoke(
    user: Authorized<needs::Auth>,
    _: leadgen_http::query::NoQuery,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let platform = shops::revoke(&state, &user, PlatformId::new(path.into_inner())).await?;
    Ok(leadgen_http::ok(platform))
}

/// A new consent URL for the same authorization record (same id, same history). Approving it
/// makes the record ACTIVE with the new grant; it must be the same shop (else 40003).
#[utoipa::path(post, path = "/platforms/{platformId}/reauthorize", tag = "platforms", operation_id = "reauthorizePlatform",
    params(("platformId" = i64, Path, description = "授权 ID")),
    request_body(content = Option<ReauthorizeBody>, description = "可选：授权完成后跳转的前端地址"),
    security(("bearer" = ["lead:order:auth"])),
    responses(
        (status = 200, description = "新的授权链接", body = leadgen_http::openapi::Envelope<crate::service::authorizations::Created>,
            headers(("Set-Cookie" = String, description = "__Host-leadgen_oauth_…（HTTPS；纯 HTTP 下为 leadgen_oauth_…，只发往授权回调地址）：把这次授权绑定到发起它的浏览器（HttpOnly；HTTPS 下 Secure）；回调须由同一浏览器完成"))),
        (status = 400, description = "参数错误", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 404, description = "不存在（或属于其他租户）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 422, description = "字段校验失败", body = leadgen_http::openapi::ValidationErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn reauthorize(
    req: HttpRequest,
    user: Authorized<needs::Auth>,
    _: leadgen_http::query::NoQuery,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: leadgen_http::body::OptionalJson<ReauthorizeBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    body.validate()
        .map_err(|e| leadgen_http::error::from_validation(&e))?;
    let created = shops::reauthorize(
        &state,
        &user,
        PlatformId::new(path.into_inner()),
        body.redirect_url,
    )
    .await?;
    let consent = created.consent.clone();
    let mut response = leadgen_http::ok(created);
    super::consent::bind(&req, &state, &consent, &mut response);
    Ok(response)
}
