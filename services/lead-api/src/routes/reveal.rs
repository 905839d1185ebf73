//! `POST /leads/{leadId}/contact/reveal` (`lead:order:contact`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use leadgen_http::{ApiError, AuthUser, FieldError, Permission};
use leadgen_platforms::reveal::RevealPurpose;
use serde::Deserialize;
use validator::Validate;

use crate::error::LeadApiError;
use crate::service::audit;
use crate::service::reveal::{self, RevealRequest};
use crate::startup::AppState;

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevealBody {
    /// `AFTER_SALES`, `CUSTOMER_CARE` or `FULFILMENT`.
    #[validate(
        required(message = "purpose 不能为空"),
        custom(function = "super::validate::purpose")
    )]
    #[schema(required = true, value_type = crate::openapi::RevealPurposeSchema)]
    purpose: Option<String>,
    /// Why, at most 200 characters (audited).
    #[serde(default)]
    #[validate(length(max = 200, message = "reason 不能超过 200 个字符"))]
    #[schema(max_length = 200)]
    reason: Option<String>,
}

/// Reveals the buyer's number for a call through the platform's decrypt API (audited).
#[utoipa::path(post, path = "/leads/{leadId}/contact/reveal", tag = "leads", operation_id = "revealContact",
    params(("leadId" = i64, Path)),
    request_body = RevealBody,
    security(("bearer" = ["lead:order:contact"])),
    responses(
        (status = 200, description = "可拨打的号码（不缓存）", body = leadgen_http::openapi::Envelope<crate::service::reveal::Revealed>,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "参数错误（含业务码：40006 用途不被平台允许，40007 无可解密的联系方式，40009 店铺已停用，40010 平台无法提供可拨打的号码，40001 授权状态异常，40005 该平台暂不支持）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限（或平台拒绝解密 40301）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 404, description = "不存在（或属于其他租户）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 422, description = "字段校验失败", body = leadgen_http::openapi::ValidationErrorEnvelope),
        (status = 429, description = "超出限额或同时解密过多（业务码 42901/42902/42903/42904），或本企业请求过于频繁（42907）", body = leadgen_http::openapi::ErrorEnvelope,
            headers(("Retry-After" = u64, description = "多少秒后可重试：每日限额到北京时间次日零点；平台额度或限流在平台告知时"))),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 502, description = "电商平台调用失败（平台告知何时可重试时带 Retry-After）", body = leadgen_http::openapi::ErrorEnvelope,
            headers(("Retry-After" = u64, description = "多少秒后可重试（平台告知时）"))),
        (status = 503, description = "服务暂不可用（如无法预留平台调用的限流时段，未调用平台），可稍后重试", body = leadgen_http::openapi::ErrorEnvelope,
            headers(("Retry-After" = u64, description = "多少秒后可重试")))
    ))]
pub async fn reveal(
    user: AuthUser,
    query: Result<leadgen_http::query::NoQuery, ApiError>,
    state: web::Data<AppState>,
    path: Result<web::Path<i64>, actix_web::Error>,
    body: Result<leadgen_http::body::Json<RevealBody>, actix_web::Error>,
) -> actix_web::Result<HttpResponse> {
    // The permission comes first, as for every endpoint (a query or lead id that cannot be read
    // is answered after it), and a refusal is audited: who tried to see a number they may not,
    // with the purpose and reason they gave when the body says them.
    if user.require(Permission::Contact).is_err() {
        let refused = LeadApiError::Forbidden(Permission::Contact);
        if let Ok(path) = &path {
            let lead_id = leadgen_domain::LeadId::new(**path);
            let request = request_of(lead_id, body);
            reveal::refused(
                &state,
                &user,
                lead_id,
                request.as_ref().ok(),
                refused.audit(),
            )
            .await
            .map_err(ApiError::from)?;
        }
        return Err(ApiError::from(refused).into());
    }
    let lead_id = leadgen_domain::LeadId::new(path?.into_inner());
    let request = query.and_then(|_| request_of(lead_id, body));
    // A request that cannot be read (its query or its body) is refused, and audited: probing
    // with bad purposes leaves a trace as a refused reveal does.
    let request = match request {
        Ok(request) => request,
        Err(refused) => {
            reveal::refused(&state, &user, lead_id, None, audit::refusal(&refused))
                .await
                .map_err(ApiError::from)?;
            return Err(refused.into());
        }
    };
    let revealed = reveal::reveal(state.into_inner(), user, request)
        .await
        .map_err(ApiError::from)?;
    let mut response = leadgen_http::ok(revealed);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The reveal the body asks for: a purpose from the fixed list and an optional reason.
fn request_of(
    lead_id: leadgen_domain::LeadId,
    body: Result<leadgen_http::body::Json<RevealBody>, actix_web::Error>,
) -> Result<RevealRequest, ApiError> {
    let body = super::validate::checked_body(body)?;
    let purpose: RevealPurpose = body
        .purpose
        .as_deref()
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::validation(vec![FieldError {
                field: "purpose".into(),
                message: super::validate::PURPOSE_MESSAGE.into(),
            }])
        })?;
    let reason = super::validate::free_text(body.reason);
    Ok(RevealRequest {
        lead_id,
        purpose,
        reason,
    })
}
