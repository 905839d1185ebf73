//! Request bodies read the same way by every service: what a body serde could not read answers,
//! naming the field (`serde_path_to_error`); bodies that may be left out; and [`Json`], the
//! extractor that does both behind actix's own content-type, size and syntax checks.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::ApiError;

mod strict;
use strict::Strict;

/// The 400 for a body serde could not read, in Chinese and without the parser's text: an
/// unknown field by its name, a missing field or a wrong type by its path where known
/// (`authInfo.appKey`), or text that is not JSON.
pub fn error(e: &serde_json::Error) -> ApiError {
    error_at("", e)
}

fn error_at(path: &str, e: &serde_json::Error) -> ApiError {
    if !e.is_data() {
        // serde_json files a number it cannot hold (`1e400`, an integer past 64 bits) as a
        // syntax error, though the JSON is valid.
        if e.to_string().starts_with("number out of range") {
            return ApiError::bad_request("请求体中的数值超出范围");
        }
        return ApiError::bad_request("请求体不是合法的 JSON");
    }
    // serde's own wording: "unknown field `name`, expected …", "missing field `name`".
    let text = e.to_string();
    let named = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| crate::error::printable(name))
            .filter(|name| !name.is_empty())
    };
    let within = |name: &str| match path {
        "" => name.to_owned(),
        parent => format!("{parent}.{name}"),
    };
    if let Some(name) = named("unknown field `") {
        // The tracked path ends with the unknown key itself.
        let field = match crate::error::printable(path) {
            tracked if tracked.is_empty() => name,
            tracked => tracked,
        };
        return ApiError::bad_request(format!("请求体含不支持的字段：{field}"));
    }
    if let Some(name) = named("duplicate field `") {
        return ApiError::bad_request(format!("请求体字段重复：{}", within(&name)));
    }
    if let Some(name) = named("missing field `") {
        return ApiError::bad_request(format!("请求体缺少字段：{}", within(&name)));
    }
    match path {
        "" => ApiError::bad_request("请求体字段缺失或类型不正确"),
        field => ApiError::bad_request(format!(
            "请求体字段类型不正确：{}",
            crate::error::printable(field)
        )),
    }
}

/// The path serde_path_to_error tracked, `""` at the top (its own `.`).
fn path_of<E>(e: &serde_path_to_error::Error<E>) -> String {
    match e.path().to_string().as_str() {
        "." => String::new(),
        path => path.to_owned(),
    }
}

/// A JSON body that must be there.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    let Strict(value) = serde::Deserialize::deserialize(&mut reader).map_err(|e| error(&e))?;
    reader.end().map_err(|e| error(&e))?;
    from_value(value)
}

/// `value` read as `T`, a refusal naming the field where it fails. Every body of this API is a
/// JSON object: serde would read a struct from an array too, field by field in order
/// (`["INVALID", "备注"]` as a status change), which no document describes and no client means.
fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request("请求体必须是 JSON 对象"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| error_at(&path_of(&e), e.inner()))
}

/// A JSON body as [`web::Json`] reads it (content type, size limit and syntax by the
/// service's `JsonConfig`), then read as `T` by [`from_value`], so that a wrong type or a
/// missing field is refused by its name.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let charset = crate::nul::refuse_marked(req)
            .err()
            .or_else(|| charset_refused(req))
            .or_else(|| type_refused(req));
        let read = web::Json::<Strict>::from_request(req, payload);
        Box::pin(async move {
            if let Some(refused) = charset {
                return Err(refused.into());
            }
            let value = read.await?.into_inner().0;
            Ok(Json(from_value(value)?))
        })
    }
}

/// The refusal of a body whose `Content-Type` names another charset than UTF-8 (JSON is UTF-8,
/// RFC 8259 §8.1: a GBK body read as UTF-8 would be stored garbled or refused by its bytes).
/// Every `charset` counts (`charset=utf-8; charset=gbk` is refused), and a request gives one
/// `Content-Type` (with two, which one a reader takes is anyone's guess).
pub(crate) fn charset_refused(req: &HttpRequest) -> Option<ApiError> {
    let mut types = req.headers().get_all(actix_web::http::header::CONTENT_TYPE);
    let first = types.next()?;
    if types.next().is_some() {
        return Some(ApiError::bad_request("请求只能有一个 Content-Type"));
    }
    let mime: actix_web::mime::Mime = first.to_str().ok()?.parse().ok()?;
    let charset = mime
        .params()
        .filter(|(name, _)| *name == actix_web::mime::CHARSET)
        .map(|(_, value)| value)
        .find(|v| {
            !v.as_str().eq_ignore_ascii_case("utf-8") && !v.as_str().eq_ignore_ascii_case("utf8")
        })?;
    Some(ApiError::bad_request(format!(
        "请求体必须是 UTF-8 编码的 JSON（Content-Type 的 charset 为 {}）",
        crate::error::printable(charset.as_str())
    )))
}

/// The most a service reads of a body (the gateway allows more, 1 MB: the service's own refusal
/// is the one a caller sees).
pub const LIMIT_BYTES: usize = 256 * 1024;

/// The refusal of a body that does not say it is JSON.
pub const NOT_JSON: &str = "请求体必须是 JSON（Content-Type: application/json）";

/// The refusal of a body over [`LIMIT_BYTES`] (413).
pub fn too_large() -> ApiError {
    ApiError::payload_too_large("请求体过大（上限 256 KB）")
}

/// A JSON body that may be left out: empty, white space or `null` reads as `T::default()`.
pub fn optional_json<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let body = body.trim_ascii();
    if body.is_empty() || body == b"null" {
        Ok(T::default())
    } else {
        json(body)
    }
}

/// The refusal of a body whose `Content-Type` is another than [`is_json`]'s (actix's own check,
/// which a configuration can only widen, takes `text/json` too); a missing one actix refuses.
fn type_refused(req: &HttpRequest) -> Option<ApiError> {
    use actix_web::HttpMessage;
    match req.mime_type() {
        Ok(Some(m)) if !is_json(&m) => Some(ApiError::bad_request(NOT_JSON)),
        _ => None,
    }
}

/// Whether the request says its body is JSON ([`is_json`]).
fn says_json(req: &HttpRequest) -> bool {
    use actix_web::HttpMessage;
    req.mime_type().ok().flatten().is_some_and(|m| is_json(&m))
}

/// `application/json`, or an `application/…+json` type: what every body must say it is,
/// required or optional alike.
pub(crate) fn is_json(m: &actix_web::mime::Mime) -> bool {
    m.type_() == actix_web::mime::APPLICATION
        && (m.subtype() == actix_web::mime::JSON || m.suffix() == Some(actix_web::mime::JSON))
}

/// A JSON body that may be left out ([`optional_json`]). One that is sent is held to what
/// [`Json`] requires: it says it is JSON, and it is at most [`LIMIT_BYTES`] (413).
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = says_json(req);
        let nul = crate::nul::refuse_marked(req);
        let charset = charset_refused(req);
        let read = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            nul?;
            let body =
                read.await
                    .map_err(|e| match e.as_error::<actix_web::error::PayloadError>() {
                        Some(actix_web::error::PayloadError::Overflow) => too_large(),
                        _ => ApiError::bad_request(crate::nul::UNREADABLE),
                    })?;
            let trimmed = body.trim_ascii();
            if !is_json && !trimmed.is_empty() && trimmed != b"null" {
                return Err(ApiError::bad_request(NOT_JSON).into());
            }
            if let Some(refused) = charset.filter(|_| !trimmed.is_empty()) {
                return Err(refused.into());
            }
            Ok(OptionalJson(optional_json(trimmed)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        status: Option<String>,
    }

    fn message(body: &str) -> String {
        json::<Body>(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn a_body_in_another_charset_than_utf8_is_refused() {
        let request = |content_type: &str| {
            actix_web::test::TestRequest::default()
                .insert_header(("content-type", content_type))
                .to_http_request()
        };
        let refused = charset_refused(&request("application/json; charset=gbk"))
            .expect("GBK refused")
            .to_string();
        assert!(
            refused.contains("UTF-8") && refused.contains("gbk"),
            "{refused}"
        );
        assert!(
            charset_refused(&request("application/json; charset=utf-8; charset=gbk")).is_some()
        );
        let two = actix_web::test::TestRequest::default()
            .append_header(("content-type", "application/json"))
            .append_header(("content-type", "application/json; charset=gbk"))
            .to_http_request();
        assert!(charset_refused(&two).is_some(), "two Content-Types");
        for fine in [
            "application/json",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/merge-patch+json; charset=utf8",
        ] {
            assert!(charset_refused(&request(fine)).is_none(), "{fine}");
        }
    }

    #[test]
    fn required_and_optional_bodies_take_the_same_json_types() {
        for (content_type, json) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/json", false),
            ("text/plain", false),
        ] {
            let mime: actix_web::mime::Mime = content_type.parse().unwrap();
            assert_eq!(is_json(&mime), json, "{content_type}");
            let req = actix_web::test::TestRequest::default()
                .insert_header(("content-type", content_type))
                .to_http_request();
            assert_eq!(says_json(&req), json, "{content_type}");
        }
    }

    #[test]
    fn a_body_that_is_no_object_is_refused_even_when_its_values_fit_in_order() {
        for body in [r#"["ACTIVE"]"#, "[]", "\"ACTIVE\"", "7", "null"] {
            assert_eq!(message(body), "请求体必须是 JSON 对象", "{body}");
        }
        assert!(json::<Body>(br#"{"status":"ACTIVE"}"#).is_ok());
    }

    #[test]
    fn each_failure_has_its_own_message() {
        assert!(message(r#"{"foo":1}"#).contains("请求体含不支持的字段：foo"));
        let wrong = message(r#"{"status":1}"#);
        assert!(wrong.contains("请求体字段类型不正确：status"), "{wrong}");
        assert!(message(r#"{"status":"#).contains("请求体不是合法的 JSON"));
        assert!(message("").contains("请求体不是合法的 JSON"));
        let nul = message("{\"a\\u0000b\":1}");
        assert!(nul.contains("请求体含不支持的字段：ab"), "{nul}");
        assert!(optional_json::<Body>(b" \n").is_ok());
        assert!(optional_json::<Body>(b"null").is_ok());
        let read = optional_json::<Body>(br#"{"status":"ACTIVE"}"#).unwrap();
        assert_eq!(read.status.as_deref(), Some("ACTIVE"));
        assert!(optional_json::<Body>(br#"{"x":1}"#).is_err());
        assert!(message(r#"{"status":"A"} x"#).contains("请求体不是合法的 JSON"));
        assert_eq!(message(r#"{"status":1e400}"#), "请求体中的数值超出范围");
        // A key named twice, at the top or within: which one was meant is unknown.
        let twice = message(r#"{"status":"A","status":"B"}"#);
        assert!(twice.contains("请求体字段重复：status"), "{twice}");
        let nested = json::<serde_json::Value>(br#"{"a":[{"c":0},{"b":1,"b":2}]}"#)
            .unwrap_err()
            .to_string();
        assert!(nested.contains("请求体字段重复：a[1].b"), "{nested}");
        let deep = json::<serde_json::Value>(br#"{"x":{"y":[[],[{"k":1,"k":2}]]}}"#)
            .unwrap_err()
            .to_string();
        assert!(deep.contains("请求体字段重复：x.y[1][0].k"), "{deep}");
        let escaped = message(r#"{"status":"A","st\u0061tus":"B"}"#);
        assert!(escaped.contains("请求体字段重复：status"), "{escaped}");
        let read = json::<serde_json::Value>(br#"{"a":[1,2.5,-3,true,null,"x",{}]}"#).unwrap();
        assert_eq!(read, serde_json::json!({"a":[1,2.5,-3,true,null,"x",{}]}));
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Outer {
        #[expect(dead_code, reason = "only what fails to read matters")]
        auth_info: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Inner {
        #[expect(dead_code, reason = "only what fails to read matters")]
        app_key: String,
    }

    #[test]
    fn a_nested_field_is_named_by_its_path() {
        let message = |body: &str| json::<Outer>(body.as_bytes()).unwrap_err().to_string();
        let wrong = message(r#"{"authInfo":{"appKey":1}}"#);
        assert!(
            wrong.contains("请求体字段类型不正确：authInfo.appKey"),
            "{wrong}"
        );
        let missing = message(r#"{"authInfo":{}}"#);
        assert!(
            missing.contains("请求体缺少字段：authInfo.appKey"),
            "{missing}"
        );
        let unknown = message(r#"{"authInfo":{"appKey":"k","x":1}}"#);
        assert!(
            unknown.contains("请求体含不支持的字段：authInfo.x"),
            "{unknown}"
        );
        let not_object = message(r#"{"authInfo":"abc"}"#);
        assert!(
            not_object.contains("请求体字段类型不正确：authInfo"),
            "{not_object}"
        );
        let from_value = from_value::<Outer>(serde_json::json!({"authInfo": {"appKey": []}}))
            .unwrap_err()
            .to_string();
        assert!(from_value.contains("authInfo.appKey"), "{from_value}");
    }
}
