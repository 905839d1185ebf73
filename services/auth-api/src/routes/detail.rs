//! `GET /platforms/{platformId}`: one authorization (design 4.1 `getAuthDetail`; the `Location`
//! of a created authorization).

use actix_web::{HttpResponse, web};
use leadgen_domain::PlatformId;
use leadgen_http::{ApiError, Authorized, needs};

use crate::service::authorizations;
use crate::startup::AppState;

/// One authorization (design 4.1 getAuthDetail).
#[utoipa::path(get, path = "/platforms/{platformId}", tag = "platforms", operation_id = "getPlatform",
    params(("platformId" = i64, Path, description = "授权 ID")),
    security(("bearer" = ["lead:order:view"])),
    responses(
        (status = 200, description = "授权详情", body = leadgen_http::openapi::Envelope<crate::service::authorizations::Listed>),
        (status = 400, description = "参数错误（含业务码）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 404, description = "不存在（或属于其他租户）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn detail(
    user: Authorized<needs::View>,
    _: leadgen_http::query::NoQuery,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let platform =
        authorizations::detail(&state, user.tenant_id, PlatformId::new(path.into_inner())).await?;
    Ok(leadgen_http::ok(platform))
}
