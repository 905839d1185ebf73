//! `POST /platforms/auth` (design 2.1): add a platform authorization, answer the consent URL.

use actix_web::{HttpRequest, HttpResponse, web};
use leadgen_domain::PlatformType;
use leadgen_http::{ApiError, Authorized, needs};
use serde::{Deserialize, Serialize};
use validator::Validate;

use crate::error::AuthApiError;
use crate::service::authorizations::{self, NewAuthorization};
use crate::startup::AppState;

/// The request body. Fields are optional here so that every missing or invalid one is reported
/// together (422) instead of failing on the first.
#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRequest {
    #[validate(
        required(message = "platformType 不能为空"),
        custom(function = "crate::service::validate::platform_type")
    )]
    #[schema(
        required = true,
        value_type = leadgen_http::openapi::PlatformTypeSchema
    )]
    pub platform_type: Option<String>,
    #[validate(required(message = "authInfo 不能为空"), nested)]
    #[schema(required = true, value_type = AuthInfo)]
    pub auth_info: Option<AuthInfo>,
    #[validate(
        custom(
            function = "crate::service::validate::http_url",
            message = "redirectUrl 必须是合法的 http(s) URL"
        ),
        length(max = 1024, message = "redirectUrl 过长")
    )]
    /// Where the merchant's browser returns after the consent: an http(s) URL whose origin
    /// (`scheme://host[:port]`) is one of the deployment's allowed front-end origins (`[oauth]
    /// allowed_redirect_origins`; none by default). Another origin is refused, 422
    /// (`redirectUrl 不在允许的前端地址范围内`).
    #[schema(format = "uri", max_length = 1024)]
    pub redirect_url: Option<String>,
}

// `Serialize` exists only because `validator` records checked values; the secrets are written
// redacted, and `Debug` shows neither them nor the platform's own keys' values.
/// The platform app's credentials (design 2.1): `appKey` and `appSecret`, optionally
/// `callbackUrl` (our callback as registered with the platform), and the keys the platform
/// reads beside them: Kuaishou `signSecret`; Douyin `serviceId` and `shopId`. Any other key is
/// refused (422 on `authInfo.<key>`).
#[derive(Deserialize, Serialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthInfo {
    #[validate(
        required(message = "appKey 不能为空"),
        custom(
            function = "crate::service::validate::not_blank",
            message = "appKey 不能为空"
        ),
        length(max = 128, message = "appKey 长度不能超过 128")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 128)]
    pub app_key: Option<String>,
    #[validate(
        required(message = "appSecret 不能为空"),
        custom(
            function = "crate::service::validate::not_blank",
            message = "appSecret 不能为空"
        ),
        length(max = 256, message = "appSecret 长度不能超过 256")
    )]
    #[serde(serialize_with = "redacted")]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 256)]
    pub app_secret: Option<String>,
    #[validate(custom(
        function = "crate::service::validate::http_url",
        message = "callbackUrl 必须是合法的 http(s) URL"
    ))]
    /// Our OAuth callback as registered with the platform's app. When given it must be this
    /// deployment's callback: its path (`[oauth] callback_url`), no query or fragment, on its
    /// origin or one of `[oauth] allowed_callback_origins`; anything else is refused, 422
    /// (`authInfo.callbackUrl 必须是本系统的授权回调地址`). Left out, the configured one is used.
    #[schema(format = "uri")]
    pub callback_url: Option<String>,
    /// The platform's own keys (Kuaishou `signSecret`; Douyin `serviceId`, `shopId`), kept sealed
    /// with the secret.
    #[serde(flatten, serialize_with = "keys_only")]
    #[schema(value_type = PlatformKeys)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for AuthInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthInfo")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret.as_ref().map(|_| "***"))
            .field("callback_url", &self.callback_url)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The `authInfo` keys a platform reads beside the app's key and secret; each platform takes
/// only its own (another key with a value is refused, 422). `null` is the same as leaving a
/// key out; a value of one of these keys that is not a string is the body's type error, 400.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformKeys {
    /// Kuaishou: the app's signing secret (required there), apart from its OAuth secret.
    #[schema(max_length = 256)]
    pub sign_secret: Option<String>,
    /// Douyin: the service-market id of the app for the consent page (required there).
    #[schema(max_length = 256)]
    pub service_id: Option<String>,
    /// Douyin: a self-built app's own shop, authorized without a consent page.
    #[schema(max_length = 256)]
    pub shop_id: Option<String>,
}

fn redacted<S: serde::Serializer>(_: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("***")
}

/// The platform's own keys with their values redacted (Kuaishou's `signSecret` is a secret).
fn keys_only<S: serde::Serializer>(
    extra: &serde_json::Map<String, serde_json::Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap as _;
    let mut map = s.serialize_map(Some(extra.len()))?;
    for key in extra.keys() {
        map.serialize_entry(key, "***")?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::AuthInfo;

    #[test]
    fn the_secrets_show_in_neither_debug_nor_serialized_form() {
        let info: AuthInfo = serde_json::from_str(
            r#"{"appKey":"k","appSecret":"s3cr3t-app","signSecret":"s3cr3t-sign"}"#,
        )
        .unwrap();
        let shown = [format!("{info:?}"), serde_json::to_string(&info).unwrap()];
        for text in shown {
            assert!(!text.contains("s3cr3t"), "{text}");
            assert!(text.contains("signSecret"), "{text}");
        }
        assert_eq!(info.extra["signSecret"], "s3cr3t-sign", "kept for sealing");
    }
}

/// Adds a platform authorization and answers the platform's consent URL (design 2.1).
#[utoipa::path(post, path = "/platforms/auth", tag = "platforms", operation_id = "createAuthorization", request_body = CreateRequest,
    security(("bearer" = ["lead:order:auth"])),
    responses(
        (status = 201, description = "创建成功，Location 指向新授权", body = leadgen_http::openapi::Envelope<crate::service::authorizations::Created>,
            headers(
                ("Location" = String, description = "新授权的地址：/api/v1/lead-generation/orders/platforms/{platformId}"),
                ("Set-Cookie" = String, description = "__Host-leadgen_oauth_…（HTTPS；纯 HTTP 下为 leadgen_oauth_…，只发往授权回调地址）：把这次授权绑定到发起它的浏览器（HttpOnly；HTTPS 下 Secure）；回调须由同一浏览器完成")
            )),
        (status = 400, description = "参数错误（含业务码）", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 401, description = "缺少或无效的令牌", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 403, description = "没有权限", body = leadgen_http::openapi::ErrorEnvelope),
        (status = 422, description = "字段校验失败", body = leadgen_http::openapi::ValidationErrorEnvelope),
        (status = 429, description = "本企业待完成授权的店铺过多（业务码 42906，`[oauth] max_pending_per_tenant`）：完成或等待已发起的授权失效后再试；或本企业请求过于频繁（42907）", body = leadgen_http::openapi::ErrorEnvelope,
            headers(("Retry-After" = u64, description = "距最早一个待完成授权失效的秒数"))),
        (status = 500, description = "内部错误", body = leadgen_http::openapi::ErrorEnvelope)
    ))]
pub async fn create(
    req: HttpRequest,
    user: Authorized<needs::Auth>,
    _: leadgen_http::query::NoQuery,
    state: web::Data<AppState>,
    body: leadgen_http::body::Json<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = match add(&state, &user, body.into_inner()).await {
        Ok(created) => created,
        Err(e) => {
            authorizations::record_create_refusal(&state, &user, &e).await;
            return Err(e.into());
        }
    };
    let location = format!("{}/platforms/{}", super::BASE, created.platform_id);
    let consent = created.consent.clone();
    let mut response = leadgen_http::created(created, &location);
    super::consent::bind(&req, &state, &consent, &mut response);
    Ok(response)
}

/// Checks every field at once, then adds the authorization.
async fn add(
    state: &AppState,
    user: &leadgen_http::AuthUser,
    mut body: CreateRequest,
) -> Result<authorizations::Created, AuthApiError> {
    // A platform key sent as `null` is a key not sent (the document types them nullable, and a
    // generated client sends every one); one of another JSON type is the body's type error, 400,
    // as for the request's other fields. A key no platform reads is the validation's (422).
    if let Some(info) = body.auth_info.as_mut() {
        info.extra.retain(|_, v| !v.is_null());
        let typed = |key: &str| {
            PlatformType::ALL.iter().any(|p| {
                state
                    .platforms
                    .get(*p)
                    .is_some_and(|c| c.auth_info_keys().contains(&key))
            })
        };
        if let Some(key) = info
            .extra
            .iter()
            .find_map(|(k, v)| (!v.is_string() && typed(k)).then_some(k))
        {
            return Err(AuthApiError::BadRequest(format!(
                "请求体字段类型不正确：authInfo.{}",
                leadgen_http::error::printable(key)
            )));
        }
    }
    // Every failed field at once: the fields' own checks, a well-formed redirectUrl outside the
    // allowed front-end origins, and a well-formed callbackUrl that is not our callback.
    let mut errors = match body.validate() {
        Ok(()) => Vec::new(),
        Err(e) => leadgen_http::error::from_validation(&e)
            .field_errors()
            .to_vec(),
    };
    if let Some(url) = body.redirect_url.as_deref()
        && !errors.iter().any(|e| e.field == "redirectUrl")
        && let Err(AuthApiError::Invalid(refused)) = authorizations::check_redirect(state, url)
    {
        errors.extend(refused);
    }
    // The platform's own keys (Kuaishou's signSecret) in the same answer as the rest.
    if let (Some(platform), Some(info)) = (
        body.platform_type
            .as_deref()
            .and_then(|t| t.parse::<PlatformType>().ok()),
        body.auth_info.as_ref(),
    ) && let Some(client) = state.platforms.get(platform)
    {
        errors.extend(authorizations::platform_key_errors(
            client.as_ref(),
            platform,
            &info.extra,
        ));
    }
    if let Some(url) = body
        .auth_info
        .as_ref()
        .and_then(|i| i.callback_url.as_deref())
        && !errors.iter().any(|e| e.field == "authInfo.callbackUrl")
        && let Err(AuthApiError::Invalid(refused)) = authorizations::check_callback(state, url)
    {
        errors.extend(refused);
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        return Err(AuthApiError::Invalid(errors));
    }
    let new = NewAuthorization::try_from(body)?;
    authorizations::create(state, user, new).await
}
