//! `POST /platforms/{platformId}/sync` (design 2.3): start a manual sync. The body is optional.

use actix_web::{HttpResponse, web};
use leadgen_domain::PlatformId;
use leadgen_http::{ApiError, Authorized, needs};

use crate::service::syncs::{self, SyncBody};
use crate::startup::AppState;

/// Triggers a sync of one authorization's orders (design 2.3); the body is optional.
#[utoipa::path(post, path = "/platforms/{platformId}/sync", tag = "syncs", operation_id = "requestSync",
    params(("platformId" = i64, Path, description = "授权 ID")),
    request_body(content = Option<crate::service::syncs::SyncBody>, description = "可选：同步时间范围"),
    security(("bearer" = ["lead:order:sync"])),
    responses(
        (status = 200, description = "已受理", body = leadgen_http::openapi::Envelope<crate::service::syncs::Accepted>),
        (status = 400, description = "参数错误（含业务码：40001 授权状态不是 ACTIVE，40004 同步时间范围不合法，40009 店铺已停用）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 404, description = "不存在（或属于其他租户）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 409, description = "40901：该店铺正在同步订单，请等本次同步完成后再试", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 422, description = "字段校验失败", body = leadgen_http::openapi::ValidationErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn sync(
    user: Authorized<needs::Sync>,
    _: leadgen_http::query::NoQuery,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: leadgen_http::body::OptionalJson<SyncBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let window = syncs::parse_window(&body, chrono::Utc::now())?;
    let accepted =
        syncs::request(&state, &user, PlatformId::new(path.into_inner()), window).await?;
    Ok(leadgen_http::ok(accepted))
}
