//! Request bodies read the same way by every service: what a body serde could not read answers,
//! and bodies that may be left out.

use serde::de::DeserializeOwned;

use crate::ApiError;

/// The 400 for a body serde could not read, in Chinese and without the parser's text: an
/// unknown field by its name, a missing field or a wrong type, or text that is not JSON.
pub fn error(e: &serde_json::Error) -> ApiError {
    if !e.is_data() {
        return ApiError::bad_request("请求体不是合法的 JSON");
    }
    // serde's own wording for `deny_unknown_fields`: "unknown field `name`, expected …".
    let text = e.to_string();
    match text
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| crate::error::printable(name))
    {
        Some(name) if !name.is_empty() => {
            ApiError::bad_request(format!("请求体含不支持的字段：{name}"))
        }
        _ => ApiError::bad_request("请求体字段缺失或类型不正确"),
    }
}

/// A JSON body that must be there.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| error(&e))
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
    fn each_failure_has_its_own_message() {
        assert!(message(r#"{"foo":1}"#).contains("请求体含不支持的字段：foo"));
        assert!(message(r#"{"status":1}"#).contains("请求体字段缺失或类型不正确"));
        assert!(message(r#"{"status":"#).contains("请求体不是合法的 JSON"));
        assert!(message("").contains("请求体不是合法的 JSON"));
        let nul = message("{\"a\\u0000b\":1}");
        assert!(nul.contains("请求体含不支持的字段：ab"), "{nul}");
        assert!(optional_json::<Body>(b" \n").is_ok());
        assert!(optional_json::<Body>(b"null").is_ok());
        let read = optional_json::<Body>(br#"{"status":"ACTIVE"}"#).unwrap();
        assert_eq!(read.status.as_deref(), Some("ACTIVE"));
        assert!(optional_json::<Body>(br#"{"x":1}"#).is_err());
    }
}
