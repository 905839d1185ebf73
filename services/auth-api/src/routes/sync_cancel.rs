//! `POST /sync-records/{syncId}/cancel`: stop a running sync.

use actix_web::{HttpResponse, web};
use leadgen_domain::SyncTaskId;
use leadgen_http::{ApiError, Authorized, needs};

use crate::service::sync_cancel;
use crate::startup::AppState;

/// Cancels a running sync: it ends `CANCELLED` at once and the shop accepts a new sync; the
/// worker stops before its next page. A task that already ended is 40904.
#[utoipa::path(post, path = "/sync-records/{syncId}/cancel", tag = "syncs", operation_id = "cancelSync",
    params(("syncId" = i64, Path, description = "同步任务 ID")),
    security(("bearer" = ["lead:order:sync"])),
    responses(
        (status = 200, description = "已取消", body = leadgen_http::openapi::Envelope<crate::service::syncs::Record>),
        (status = 400, description = "参数错误", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 404, description = "不存在（或属于其他租户）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 409, description = "任务已结束（40904）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn cancel(
    user: Authorized<needs::Sync>,
    _: leadgen_http::query::NoQuery,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let record = sync_cancel::cancel(&state, &user, SyncTaskId::new(path.into_inner())).await?;
    Ok(leadgen_http::ok(record))
}
