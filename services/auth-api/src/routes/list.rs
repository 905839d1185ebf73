//! `GET /platforms` (design 2.2): the tenant's authorizations.

use actix_web::{HttpRequest, HttpResponse, web};
use leadgen_domain::{AuthStatus, PlatformType};
use leadgen_http::paging::{Paging, SortOrder, parse_sort};
use leadgen_http::{ApiError, Authorized, Page, needs};
use serde::Deserialize;

use crate::repo::platforms::AuthFilter;
use crate::service::authorizations;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    platform_type: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    page: Option<String>,
    size: Option<String>,
}

/// The sorts `GET /platforms` accepts (newest first by default).
pub const SORT_FIELDS: &[&str] = &["createTime", "updateTime"];

/// The tenant's platform authorizations (design 2.2).
#[utoipa::path(get, path = "/platforms", tag = "platforms", operation_id = "listPlatforms",
    params(
        ("platformType" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(TAOBAO|JD|PDD|DOUYIN|KUAISHOU)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "TAOBAO, JD, PDD, DOUYIN, KUAISHOU"),
        ("status" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(PENDING_AUTH|ACTIVE|EXPIRED|INVALID|DISABLED|REVOKED)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "PENDING_AUTH, ACTIVE, EXPIRED, INVALID, DISABLED, REVOKED"),
        ("sort" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(createTime|updateTime)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "createTime（默认）, updateTime"),
        ("order" = Option<String>, Query, pattern = r"^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(asc|desc)?[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "asc, desc（默认）"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 2147483647, description = "从 1 开始，默认 1"),
        ("size" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100，默认 10"),
    ),
    security(("bearer" = ["lead:order:view"])),
    responses(
        (status = 200, description = "授权列表", body = leadgen_http::openapi::Envelope<leadgen_http::openapi::PageOf<crate::service::authorizations::Listed>>),
        (status = 400, description = "参数错误（含业务码）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn list(
    user: Authorized<needs::View>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: leadgen_http::query::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    leadgen_http::query::reject_unknown(
        req.query_string(),
        &["platformType", "status", "sort", "order", "page", "size"],
    )?;
    let q = query.into_inner();
    let paging = Paging::from_raw(q.page.as_deref(), q.size.as_deref())?;
    let (sort, order) = parse_sort(
        q.sort.as_deref(),
        q.order.as_deref(),
        SORT_FIELDS,
        "createTime",
    )?;
    let filter = AuthFilter {
        platform_type: parse_enum::<PlatformType>(q.platform_type.as_deref())?,
        status: parse_enum::<AuthStatus>(q.status.as_deref())?,
        ascending: order == SortOrder::Asc,
        by_update: sort == "updateTime",
    };
    let (records, total) = authorizations::list(&state, user.tenant_id, filter, paging).await?;
    Ok(leadgen_http::ok(Page::new(records, total, paging)))
}

/// An optional enum filter: absent or empty is no filter; anything else must be a valid name.
pub fn parse_enum<T>(value: Option<&str>) -> Result<Option<String>, ApiError>
where
    T: std::str::FromStr + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<T>()
            .map(|t| Some(t.to_string()))
            .map_err(|e| ApiError::bad_request(e.to_string())),
    }
}
