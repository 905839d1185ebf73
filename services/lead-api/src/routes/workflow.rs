//! `GET /leads/{leadId}`, `PATCH /leads/{leadId}` and the bulk `PATCH /leads`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use leadgen_domain::{LeadId, LeadProcessStatus};
use leadgen_http::paging::Paging;
use leadgen_http::query::int;
use leadgen_http::{ApiError, AuthUser, Authorized, FieldError, Permission, needs};
use serde::Deserialize;
use validator::Validate;

use crate::error::LeadApiError;
use crate::service::workflow::{self, ChangeStatus, MAX_BULK, MAX_NOTE_CHARS};
use crate::service::{audit, detail};
use crate::startup::AppState;

/// `ordersPage`, `ordersSize`: the page of the buyer's orders.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailQuery {
    orders_page: Option<String>,
    orders_size: Option<String>,
}

/// One lead in full: the buyer's orders, reasons, contact validity, status history, version.
#[utoipa::path(get, path = "/leads/{leadId}", tag = "leads", operation_id = "getLead",
    params(
        ("leadId" = i64, Path, description = "线索 ID（已合并的线索返回合并后的线索）"),
        ("ordersPage" = Option<i64>, Query, minimum = 1, maximum = 2147483647, description = "从 1 开始，默认 1"),
        ("ordersSize" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100，默认 10"),
    ),
    security(("bearer" = ["lead:order:view"])),
    responses(
        (status = 200, description = "线索详情（ETag 为版本号）", body = leadgen_http::openapi::Envelope<crate::service::detail::LeadDetail>,
            headers(("ETag" = String, description = "线索版本号，例如 \"3\"；修改状态时放入 If-Match"))),
        (status = 400, description = "参数错误（含业务码）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 404, description = "不存在（或属于其他租户）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn get(
    user: Authorized<needs::View>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    req: HttpRequest,
    query: leadgen_http::query::Query<DetailQuery>,
) -> Result<HttpResponse, ApiError> {
    leadgen_http::query::reject_unknown(req.query_string(), &["ordersPage", "ordersSize"])?;
    let paging = Paging::named(
        (
            "ordersPage",
            int("ordersPage", query.orders_page.as_deref())?,
        ),
        (
            "ordersSize",
            int("ordersSize", query.orders_size.as_deref())?,
        ),
    )?;
    let lead = detail::get(
        &state,
        user.tenant_id,
        LeadId::new(path.into_inner()),
        paging,
    )
    .await?;
    let version = lead.lead.version;
    Ok(leadgen_http::ok_versioned(lead, version))
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeadStatusBody {
    /// `PENDING`, `PROCESSED` or `INVALID`.
    #[validate(
        required(message = "processStatus 不能为空"),
        custom(function = "super::validate::process_status")
    )]
    #[schema(required = true, value_type = crate::openapi::LeadProcessStatusSchema)]
    process_status: Option<String>,
    /// At most 500 characters.
    #[serde(default)]
    #[validate(length(max = 500, message = "note 不能超过 500 个字符"))]
    #[schema(max_length = 500)]
    note: Option<String>,
}

const _: () = assert!(
    MAX_NOTE_CHARS == 500,
    "the note's limit is written in LeadStatusBody and BulkBody"
);

/// The validated status: present and known once `validate` passed.
fn status_of(value: Option<&str>) -> Result<LeadProcessStatus, ApiError> {
    value.and_then(|v| v.trim().parse().ok()).ok_or_else(|| {
        ApiError::validation(vec![FieldError {
            field: "processStatus".into(),
            message: super::validate::PROCESS_STATUS_MESSAGE.into(),
        }])
    })
}

/// The change a `PATCH /leads/{leadId}` asks for: its body and its If-Match.
fn change_of(
    lead_id: LeadId,
    req: &HttpRequest,
    body: Result<leadgen_http::body::Json<LeadStatusBody>, actix_web::Error>,
) -> Result<ChangeStatus, ApiError> {
    let body = super::validate::checked_body(body)?;
    Ok(ChangeStatus {
        lead_id,
        version: if_match(req)?,
        to: status_of(body.process_status.as_deref())?,
        note: super::validate::free_text(body.note),
    })
}

/// The version in `If-Match` (`"3"`, `W/"3"` or `3`); `None` when absent or `*` (the service
/// refuses it, 42801, and logs it: `*`, "whatever the version", is the overwrite the version
/// check exists to prevent). A list of versions is refused: one lead has one version.
fn if_match(req: &HttpRequest) -> Result<Option<i32>, LeadApiError> {
    let mut values = req.headers().get_all(header::IF_MATCH);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = || LeadApiError::BadRequest("If-Match 必须是线索的版本号，例如 \"3\"".into());
    let value = value.to_str().map_err(|_| invalid())?.trim();
    // Two If-Match headers are one list (RFC 9110 §5.3), as a comma in one is.
    let more = values.next().is_some();
    if value == "*" && !more {
        return Ok(None);
    }
    if more || value.contains(',') {
        return Err(LeadApiError::BadRequest(
            "If-Match 只能带一个版本号，例如 \"3\"".into(),
        ));
    }
    value
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| invalid())
}

/// Changes a lead's process status; `If-Match` carries the lead's version.
#[utoipa::path(patch, path = "/leads/{leadId}", tag = "leads", operation_id = "updateLeadStatus",
    params(
        ("leadId" = i64, Path),
        ("If-Match" = String, Header, pattern = r#"^(W/)?"?[0-9]{1,9}"?$"#, description = "线索版本号，例如 \"3\""),
    ),
    request_body = LeadStatusBody,
    security(("bearer" = ["lead:order:process"])),
    responses(
        (status = 200, description = "已更新（或状态未变）", body = leadgen_http::openapi::Envelope<crate::service::workflow::Changed>,
            headers(("ETag" = String, description = "新的版本号"))),
        (status = 400, description = "参数错误（含业务码）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 404, description = "不存在（或属于其他租户）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 409, description = "冲突：40902 If-Match 的版本之后处理状态已被他人修改（ETag 为线索的当前版本号，刷新后可用它重试）；40903 线索已与同一买家的另一条线索合并", body = leadgen_http::openapi::ErrorEnvelope,
            headers(("ETag" = String, description = "40902 时：线索的当前版本号，例如 \"5\""))),
        (status = 422, description = "字段校验失败", body = leadgen_http::openapi::ValidationErrorEnvelope),
        (status = 428, description = "42801：缺少 If-Match（线索版本号），或为 *", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn patch(
    user: AuthUser,
    query: Result<leadgen_http::query::NoQuery, ApiError>,
    state: web::Data<AppState>,
    path: Result<web::Path<i64>, actix_web::Error>,
    req: HttpRequest,
    body: Result<leadgen_http::body::Json<LeadStatusBody>, actix_web::Error>,
) -> actix_web::Result<HttpResponse> {
    // The permission first, as for every endpoint; a refusal is audited like a refused change
    // (design 7: who tried what on which lead), and so is a request that cannot be read.
    if user.require(Permission::Process).is_err() {
        let refused = LeadApiError::Forbidden(Permission::Process);
        if let Ok(path) = &path {
            let lead_id = LeadId::new(**path);
            workflow::refused(&state, &user, &[lead_id], refused.audit())
                .await
                .map_err(ApiError::from)?;
        }
        return Err(ApiError::from(refused).into());
    }
    query?;
    let lead_id = LeadId::new(path?.into_inner());
    let request = match change_of(lead_id, &req, body) {
        Ok(request) => request,
        Err(refused) => {
            workflow::refused(&state, &user, &[lead_id], audit::refusal(&refused))
                .await
                .map_err(ApiError::from)?;
            return Err(refused.into());
        }
    };
    let changed = workflow::change(&state, &user, request)
        .await
        .map_err(ApiError::from)?;
    let version = changed.version;
    Ok(leadgen_http::ok_versioned(changed, version))
}

#[derive(Debug, Deserialize, serde::Serialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkItem {
    #[validate(required(message = "leadId 不能为空"))]
    #[schema(required = true, value_type = i64)]
    lead_id: Option<i64>,
    /// The version the caller saw, as in If-Match.
    #[validate(required(message = "version 不能为空"))]
    #[schema(required = true, value_type = i32)]
    version: Option<i32>,
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkBody {
    /// 1–100 leads.
    #[validate(
        required(message = "items 不能为空"),
        length(min = 1, max = 100, message = "items 必须包含 1 到 100 条线索"),
        custom(function = "unique_leads"),
        nested
    )]
    #[schema(required = true, value_type = Vec<BulkItem>, min_items = 1, max_items = 100)]
    items: Option<Vec<BulkItem>>,
    /// `PENDING`, `PROCESSED` or `INVALID`.
    #[validate(
        required(message = "processStatus 不能为空"),
        custom(function = "super::validate::process_status")
    )]
    #[schema(required = true, value_type = crate::openapi::LeadProcessStatusSchema)]
    process_status: Option<String>,
    #[serde(default)]
    #[validate(length(max = 500, message = "note 不能超过 500 个字符"))]
    #[schema(max_length = 500)]
    note: Option<String>,
}

const _: () = assert!(MAX_BULK == 100, "the bulk limit is written in BulkBody");

fn unique_leads(items: &[BulkItem]) -> Result<(), validator::ValidationError> {
    super::validate::unique(items.iter().filter_map(|i| i.lead_id))
}

/// Changes up to 100 leads' status; answers per lead.
#[utoipa::path(patch, path = "/leads", tag = "leads", operation_id = "updateLeadStatuses",
    request_body = BulkBody,
    security(("bearer" = ["lead:order:process"])),
    responses(
        (status = 200, description = "逐条结果", body = leadgen_http::openapi::Envelope<crate::openapi::BulkResults>),
        (status = 400, description = "参数错误（含业务码）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 422, description = "字段校验失败", body = leadgen_http::openapi::ValidationErrorEnvelope),
        (status = 500, description = "内部错误（未做任何修改）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 503, description = "服务暂不可用（未做任何修改），可稍后重试", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn patch_many(
    user: AuthUser,
    query: Result<leadgen_http::query::NoQuery, ApiError>,
    state: web::Data<AppState>,
    body: Result<leadgen_http::body::Json<BulkBody>, actix_web::Error>,
) -> actix_web::Result<HttpResponse> {
    // As the single form: the permission first, and a refusal is audited, naming the leads the
    // body names when it can be read; so is a body that cannot be read or is refused.
    // At most the bulk limit's worth, each once: an oversized body does not write a line naming
    // thousands of ids.
    let named: Vec<LeadId> = body
        .as_ref()
        .ok()
        .and_then(|b| b.0.items.as_ref())
        .map(|items| {
            let ids: std::collections::BTreeSet<i64> =
                items.iter().filter_map(|i| i.lead_id).collect();
            ids.into_iter().take(MAX_BULK).map(LeadId::new).collect()
        })
        .unwrap_or_default();
    if user.require(Permission::Process).is_err() {
        let refused = LeadApiError::Forbidden(Permission::Process);
        workflow::refused(&state, &user, &named, refused.audit())
            .await
            .map_err(ApiError::from)?;
        return Err(ApiError::from(refused).into());
    }
    query?;
    let requests = match bulk_of(body) {
        Ok(requests) => requests,
        Err(refused) => {
            workflow::refused(&state, &user, &named, audit::refusal(&refused))
                .await
                .map_err(ApiError::from)?;
            return Err(refused.into());
        }
    };
    let results = workflow::change_many(&state, &user, requests)
        .await
        .map_err(ApiError::from)?;
    Ok(leadgen_http::ok(serde_json::json!({ "results": results })))
}

/// The bulk body, read and checked, as one change per lead.
fn bulk_of(
    body: Result<leadgen_http::body::Json<BulkBody>, actix_web::Error>,
) -> Result<Vec<ChangeStatus>, ApiError> {
    let body = super::validate::checked_body(body)?;
    let to = status_of(body.process_status.as_deref())?;
    let note = super::validate::free_text(body.note);
    // Validation has refused an item without its leadId or version; should one still come
    // through, it is a bad request, never silently left out of the answer.
    body.items
        .unwrap_or_default()
        .into_iter()
        .map(|i| match (i.lead_id, i.version) {
            (Some(id), Some(version)) => Ok(ChangeStatus {
                lead_id: LeadId::new(id),
                version: Some(version),
                to,
                note: note.clone(),
            }),
            _ => Err(ApiError::bad_request(
                "items 的每一项都需要 leadId 和 version",
            )),
        })
        .collect()
}
