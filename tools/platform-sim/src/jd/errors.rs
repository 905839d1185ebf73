//! JOS's answers to failures: gateway errors
//! `{"error_response":{"code":"19","zh_desc":"…","en_desc":"…"}}` (HTTP 200, `code` a string),
//! business failures inside a normal answer (`apiResult.success=false`), and the OAuth server's
//! `{"code","msg","requestId"}`.
//!
//! Gateway codes from the README's [3p] copy of JD's table: 2 call limit, 4/5 missing/unsupported
//! version, 7/8 missing/invalid timestamp, 11/12 missing/invalid signature, 14/15 missing/invalid
//! method, 19 invalid access_token; 21 invalid app_key is [3p: an ISV client's recorded answer].
//! Simulator choices: a missing `access_token` is also 19; an unknown `sign_method` is 12; a
//! `format` other than `json` is 16.

use serde_json::{Value, json};

/// A gateway error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdError {
    pub code: &'static str,
    pub zh_desc: String,
    pub en_desc: String,
}

impl JdError {
    fn new(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        JdError {
            code,
            zh_desc: zh.into(),
            en_desc: en.into(),
        }
    }

    pub fn call_limited() -> Self {
        JdError::new("2", "调用次数超限", "App Call Limited")
    }
    pub fn missing_version() -> Self {
        JdError::new("4", "缺少版本参数", "Missing version")
    }
    pub fn unsupported_version() -> Self {
        JdError::new("5", "不支持的版本号", "Unsupported version")
    }
    pub fn missing_timestamp() -> Self {
        JdError::new("7", "缺少时间戳参数", "Missing timestamp")
    }
    pub fn invalid_timestamp(why: &str) -> Self {
        JdError::new("8", format!("非法的时间戳参数：{why}"), "Invalid timestamp")
    }
    pub fn missing_signature() -> Self {
        JdError::new("11", "缺少签名参数", "Missing signature")
    }
    pub fn invalid_signature(why: &str) -> Self {
        JdError::new("12", format!("无效签名：{why}"), "Invalid signature")
    }
    pub fn missing_method() -> Self {
        JdError::new("14", "缺少方法名参数", "Missing method")
    }
    pub fn invalid_method(method: &str) -> Self {
        JdError::new("15", format!("不存在的方法名：{method}"), "Invalid method")
    }
    pub fn invalid_format() -> Self {
        JdError::new("16", "不支持的格式，仅支持 json", "Invalid format")
    }
    pub fn invalid_access_token(why: &str) -> Self {
        JdError::new(
            "19",
            format!("无效access_token（{why}）"),
            "Invalid access_token",
        )
    }
    pub fn invalid_app_key(key: &str) -> Self {
        JdError::new("21", format!("key={key} 信息无效"), "Invalid app_key")
    }

    pub fn to_json(&self) -> Value {
        json!({ "error_response": {
            "code": self.code, "zh_desc": self.zh_desc, "en_desc": self.en_desc
        } })
    }
}

/// A business failure of `enSearch`, answered as `apiResult.success=false` [numberCodes are
/// simulator choices].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub number_code: u64,
    pub chinese: String,
    pub english: String,
}

impl ApiFailure {
    pub fn new(number_code: u64, chinese: impl Into<String>, english: impl Into<String>) -> Self {
        ApiFailure {
            number_code,
            chinese: chinese.into(),
            english: english.into(),
        }
    }

    /// A missing or malformed business parameter.
    pub fn invalid_param(name: &str, zh_why: &str, en_why: &str) -> Self {
        ApiFailure::new(
            10_100_001,
            format!("参数{name}错误：{zh_why}"),
            format!("invalid parameter {name}: {en_why}"),
        )
    }

    pub fn range_too_long() -> Self {
        ApiFailure::new(
            10_100_012,
            "查询时间范围不能超过一个月",
            "the query time range cannot exceed one month",
        )
    }

    pub fn api_result(&self) -> Value {
        json!({
            "success": false,
            "englishErrCode": self.english,
            "chineseErrCode": self.chinese,
            "numberCode": self.number_code,
        })
    }
}

/// The OAuth server's refusal (HTTP 200) [codes are simulator choices]:
/// 400 bad request, 401 invalid app_key/app_secret, 402 invalid code, 403 invalid refresh token.
pub fn oauth_error(code: u32, msg: &str, request_id: &str) -> Value {
    json!({ "code": code, "msg": msg, "requestId": request_id })
}
