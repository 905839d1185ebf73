//! `GET /sync-records` (design 2.4).

use actix_web::{HttpRequest, HttpResponse, web};
use leadgen_domain::SyncStatus;
use leadgen_http::paging::{BoundedPage, Paging, parse_sort};
use leadgen_http::{ApiError, Authorized, needs};
use serde::Deserialize;

use crate::repo::sync_tasks::{RecordFilter, SORT_FIELDS};
use crate::routes::list::parse_enum;
use crate::service::syncs;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordsQuery {
    sync_id: Option<i64>,
    platform_id: Option<i64>,
    status: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    page: Option<String>,
    size: Option<String>,
    sort: Option<String>,
    order: Option<String>,
}

/// Sync records (design 2.4).
#[utoipa::path(get, path = "/sync-records", tag = "syncs", operation_id = "listSyncRecords",
    params(
        ("syncId" = Option<i64>, Query, description = "一个同步任务（POST …/sync 返回的 syncTaskId）"),
        ("platformId" = Option<i64>, Query),
        ("status" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(RUNNING|COMPLETED|FAILED|CANCELLED)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "RUNNING, COMPLETED, FAILED, CANCELLED"),
        ("startTime" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "带时区的 ISO 8601，如 2026-11-01T00:00:00+08:00（秒可省略；时区写 Z、+08:00、+0800 或 +08），含两端（结束时间写到整分或整秒时含该分或该秒内的全部记录）；startTime 晚于 endTime 为 400"),
        ("endTime" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "带时区的 ISO 8601，如 2026-11-01T00:00:00+08:00（秒可省略；时区写 Z、+08:00、+0800 或 +08），含两端（结束时间写到整分或整秒时含该分或该秒内的全部记录）；startTime 晚于 endTime 为 400"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 2147483647, description = "从 1 开始，默认 1；(page − 1) × size 达到 10000 且匹配超过 10000 条时为 40011（请缩小时间范围）"),
        ("size" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100，默认 10"),
        ("sort" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(syncTime|successCount|failureCount|status)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "syncTime, successCount, failureCount, status"),
        ("order" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(asc|desc)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "asc, desc"),
    ),
    security(("bearer" = ["lead:order:view"])),
    responses(
        (status = 200, description = "同步记录", body = leadgen_http::openapi::Envelope<leadgen_http::openapi::BoundedPageOf<crate::service::syncs::Record>>),
        (status = 400, description = "参数错误（含业务码 40011：页码超出前 10000 条的浏览范围）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn list(
    user: Authorized<needs::View>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: leadgen_http::query::Query<RecordsQuery>,
) -> Result<HttpResponse, ApiError> {
    leadgen_http::query::reject_unknown(
        req.query_string(),
        &[
            "syncId",
            "platformId",
            "status",
            "startTime",
            "endTime",
            "page",
            "size",
            "sort",
            "order",
        ],
    )?;
    let q = query.into_inner();
    let paging = Paging::from_raw(q.page.as_deref(), q.size.as_deref())?;
    let sort = parse_sort(
        q.sort.as_deref(),
        q.order.as_deref(),
        SORT_FIELDS,
        "syncTime",
    )?;
    let (from, to) = leadgen_http::query::time_range(
        ("startTime", q.start_time.as_deref()),
        ("endTime", q.end_time.as_deref()),
    )?;
    let filter = RecordFilter {
        sync_id: q.sync_id,
        platform_id: q.platform_id,
        status: parse_enum::<SyncStatus>(q.status.as_deref())?,
        from,
        to,
    };
    let (records, total) = syncs::records(&state, user.tenant_id, filter, sort, paging).await?;
    Ok(leadgen_http::ok(BoundedPage::new(
        records,
        total.total,
        total.exact,
        paging,
    )))
}
