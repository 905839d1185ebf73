//! `GET /operation-logs` (`lead:order:audit`): the tenant's operation log, newest first, filtered
//! by operator, action, target, result and time range, with the design's paging.

use actix_web::{HttpRequest, HttpResponse, web};
use leadgen_domain::audit::{AuditAction, AuditResult, AuditTarget};
use leadgen_http::paging::{BoundedPage, Paging, SortOrder, parse_sort};
use leadgen_http::{ApiError, Authorized, needs};
use serde::Deserialize;

use crate::repo::operation_logs::LogFilter;
use crate::routes::list::parse_enum;
use crate::service::audit;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogQuery {
    operator_id: Option<i64>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<i64>,
    result: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    page: Option<String>,
    size: Option<String>,
}

/// The tenant's operation log (design 7).
#[utoipa::path(get, path = "/operation-logs", tag = "audit", operation_id = "listOperationLogs",
    params(
        ("operatorId" = Option<i64>, Query),
        ("action" = Option<crate::openapi::AuditActionSchema>, Query, description = "未知的取值为 400"),
        ("targetType" = Option<crate::openapi::AuditTargetSchema>, Query, description = "未知的取值为 400"),
        ("targetId" = Option<i64>, Query, description = "目标 ID；不带 targetType 时，店铺 ID 也查到该店铺的同步任务和由其订单识别的线索；带 targetType 时为该类目标的 ID"),
        ("result" = Option<crate::openapi::OperationResultSchema>, Query, description = "未知的取值为 400"),
        ("startTime" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "带时区的 ISO 8601，如 2026-11-01T00:00:00+08:00（秒可省略；时区写 Z、+08:00、+0800 或 +08），含两端（结束时间写到整分或整秒时含该分或该秒内的全部记录）；startTime 晚于 endTime 为 400"),
        ("endTime" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "带时区的 ISO 8601，如 2026-11-01T00:00:00+08:00（秒可省略；时区写 Z、+08:00、+0800 或 +08），含两端（结束时间写到整分或整秒时含该分或该秒内的全部记录）；startTime 晚于 endTime 为 400"),
        ("sort" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(time)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "time（默认）"),
        ("order" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(asc|desc)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "asc, desc（默认）"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 2147483647, description = "从 1 开始，默认 1；(page − 1) × size 达到 10000 且匹配超过 10000 条时为 40011（请缩小时间范围）"),
        ("size" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100，默认 10"),
    ),
    security(("bearer" = ["lead:order:audit"])),
    responses(
        (status = 200, description = "操作日志", body = leadgen_http::openapi::Envelope<leadgen_http::openapi::BoundedPageOf<crate::service::audit::LogEntry>>),
        (status = 400, description = "参数错误（含业务码 40011：页码超出前 10000 条的浏览范围）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn list(
    user: Authorized<needs::Audit>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: leadgen_http::query::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    leadgen_http::query::reject_unknown(
        req.query_string(),
        &[
            "operatorId",
            "action",
            "targetType",
            "targetId",
            "result",
            "startTime",
            "endTime",
            "sort",
            "order",
            "page",
            "size",
        ],
    )?;
    let q = query.into_inner();
    let paging = Paging::from_raw(q.page.as_deref(), q.size.as_deref())?;
    let result = parse_enum::<AuditResult>(q.result.as_deref())?;
    let (_, order) = parse_sort(q.sort.as_deref(), q.order.as_deref(), &["time"], "time")?;
    let (from, to) = leadgen_http::query::time_range(
        ("startTime", q.start_time.as_deref()),
        ("endTime", q.end_time.as_deref()),
    )?;
    let filter = LogFilter {
        ascending: order == SortOrder::Asc,
        operator_id: q.operator_id,
        action: parse_enum::<AuditAction>(q.action.as_deref())?,
        target_type: parse_enum::<AuditTarget>(q.target_type.as_deref())?,
        target_id: q.target_id,
        result,
        from,
        to,
    };
    let (records, total) = audit::list(&state, user.tenant_id, filter, paging).await?;
    Ok(leadgen_http::ok(BoundedPage::new(
        records,
        total.total,
        total.exact,
        paging,
    )))
}
