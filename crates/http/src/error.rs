//! [`ApiError`]: every service maps its own errors into it in one place; it renders the envelope.
//! 5xx responses are opaque: the cause is logged once here, the client sees a generic message
//! and the trace id.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;

use crate::codes::BusinessCode;
use crate::envelope::Envelope;

/// One invalid field of a request (422).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's path in the request, camelCase (`authInfo.appKey`).
    pub field: String,
    pub message: String,
}

/// An error response.
#[derive(Clone)]
pub struct ApiError {
    status: StatusCode,
    code: u32,
    message: Cow<'static, str>,
    errors: Vec<FieldError>,
    /// The cause of a 5xx, logged and never shown.
    source: Option<String>,
    /// Seconds until a refused request may succeed (`Retry-After`, RFC 9110 §10.2.3).
    retry_after: Option<u64>,
    /// The resource's current version where a stale one was sent (`ETag`, RFC 9110 §8.8.3).
    etag: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            code: u32::from(status.as_u16()),
            message: message.into(),
            errors: Vec::new(),
            source: None,
            retry_after: None,
            etag: None,
        }
    }

    /// Names the resource's current version (`ETag: "<version>"`), for a client refused for
    /// sending a stale one: it can read what changed and send the version again.
    pub fn with_etag(mut self, version: impl std::fmt::Display) -> Self {
        self.etag = Some(crate::envelope::etag(version));
        self
    }

    /// Says when to try again: `Retry-After` in whole seconds, rounded up (at least 1).
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 400: malformed request.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 413: the body is larger than the service reads.
    pub fn payload_too_large(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// 405: the path exists, the method does not.
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "该接口不支持此请求方法")
    }

    /// 401: no, invalid or expired token.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "未登录或登录已过期")
    }

    /// 403: valid token without the permission, named as an administrator grants it.
    pub fn forbidden(permission: crate::auth::Permission) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            format!(
                "没有权限：需要“{}”权限（{}），请联系管理员开通",
                permission.name_zh(),
                permission.as_str()
            ),
        )
    }

    /// 404: absent, or another tenant's.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what}不存在"))
    }

    /// 422: every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "请求参数校验失败");
        e.errors = errors;
        e
    }

    /// A documented business error.
    pub fn business(code: BusinessCode) -> Self {
        let status = StatusCode::from_u16(code.status).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError {
            status,
            code: code.code,
            message: Cow::Borrowed(code.message),
            errors: Vec::new(),
            source: None,
            retry_after: None,
            etag: None,
        }
    }

    /// A documented business error with a more specific message.
    pub fn business_with(code: BusinessCode, message: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::business(code);
        e.message = message.into();
        e
    }

    /// 503 with `Retry-After: 1`: the service cannot serve the request now (its database
    /// connections are all in use, or the database does not answer); the same request may
    /// succeed in a moment. `cause` is logged, never returned.
    #[track_caller]
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        let location = std::panic::Location::caller();
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "服务繁忙，请稍后重试");
        e.source = Some(format!(
            "{cause} (at {}:{})",
            location.file(),
            location.line()
        ));
        e.retry_after = Some(1);
        e
    }

    /// 500 with an opaque message; `cause` is logged, never returned.
    #[track_caller]
    pub fn internal(cause: impl fmt::Display) -> Self {
        let location = std::panic::Location::caller();
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "服务器内部错误，请稍后重试",
        );
        e.source = Some(format!(
            "{cause} (at {}:{})",
            location.file(),
            location.line()
        ));
        e
    }

    pub fn code(&self) -> u32 {
        self.code
    }

    /// The message the envelope shows (Simplified Chinese; generic for a 5xx).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)?;
        if let Some(source) = &self.source {
            write!(f, " caused by {source}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.source {
            tracing::error!(error.cause = %source, http.status = self.status.as_u16(), "Request failed");
        }
        let errors = (!self.errors.is_empty()).then_some(self.errors.as_slice());
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §11.6.1: a 401 names the scheme the resource takes.
            response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(etag) = &self.etag {
            response.insert_header((actix_web::http::header::ETAG, etag.as_str()));
        }
        response.json(Envelope::<()> {
            code: self.code,
            message: &self.message,
            data: None,
            trace_id: leadgen_telemetry::current_trace_id(),
            errors,
        })
    }
}

/// Turns `validator` errors into field errors with camelCase paths (`authInfo.appKey`).
pub fn from_validation(errors: &validator::ValidationErrors) -> ApiError {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    ApiError::validation(out)
}

fn collect(errors: &validator::ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            camel(field)
        } else {
            format!("{prefix}.{}", camel(field))
        };
        match kind {
            validator::ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map_or_else(|| format!("{path} 不合法"), ToString::to_string);
                    out.push(FieldError {
                        field: path.clone(),
                        message,
                    });
                }
            }
            validator::ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            validator::ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A caller's text (a field or parameter name) as a message may show it: no control
/// characters, at most 64 of the rest.
pub fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// Malformed JSON bodies: 400 in the envelope, in Chinese, without the parser's text.
pub fn json_config() -> web::JsonConfig {
    use actix_web::error::JsonPayloadError;
    web::JsonConfig::default()
        .limit(crate::body::LIMIT_BYTES)
        .error_handler(|err, _req: &HttpRequest| {
            let message = match &err {
                JsonPayloadError::ContentType => crate::body::NOT_JSON,
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    return crate::body::too_large().into();
                }
                JsonPayloadError::Deserialize(e) => return crate::body::error(e).into(),
                _ => "请求体不是合法的 JSON",
            };
            ApiError::bad_request(message).into()
        })
}

/// Wrong query parameter types, or a parameter sent twice: 400 in the envelope.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|_err, req: &HttpRequest| {
        match crate::query::reject_repeated(req.query_string(), &[]) {
            Err(repeated) => repeated.into(),
            Ok(()) => ApiError::bad_request("查询参数格式不正确").into(),
        }
    })
}

/// Malformed path parameters (a non-numeric id): 400 in the envelope.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req: &HttpRequest| {
        ApiError::bad_request("路径参数格式不正确，ID 必须是不超过 9223372036854775807 的整数")
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_cases_paths() {
        assert_eq!(camel("auth_info"), "authInfo");
        assert_eq!(camel("app_key"), "appKey");
        assert_eq!(camel("redirectUrl"), "redirectUrl");
    }
}
