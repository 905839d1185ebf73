//! Kuaishou's answers [unverified: README §5 only gives `result=1` for success; the codes and
//! shapes here are this simulator's design, mirrored by `leadgen_platforms::kuaishou`]:
//!
//! - API: `{"result":N,"msg":…,"error_msg":…}` (HTTP 200); success `{"result":1,"msg":
//!   "success","data":{…}}`. N: 10 missing system parameter, 11 unknown appkey, 12 unknown
//!   method or method ≠ path, 13 version, 14 signMethod, 15 timestamp, 16 signature, 17 rate
//!   limited, 24 access token expired, 25 access token unknown or another app's, 28 the app may
//!   not call the API, 2001 business parameters (as a public client's log shows: `result 2001,
//!   "endTime无效"`), 2002 the shop's decrypt quota spent.
//! - OAuth: `{"result":N,"error":…,"error_msg":…}`: 100200100 `invalid_request`, 100200101
//!   `invalid_client`, 100200102 `invalid_grant`, 100200103 `unsupported_grant_type`.
//!
//! Because none of these codes is the platform's documented one, the adapter classifies none of
//! the API's `result`s: every N ≠ 1 is unknown there (bounded backoff, one token refresh, then
//! reported with N and the text), and a token answer is a refused grant only by its OAuth 2.0
//! `error` name (RFC 6749 §5.2). The simulator keeps sending them to exercise that path.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KsError {
    pub result: u32,
    pub msg: &'static str,
    pub error_msg: String,
}

fn e(result: u32, msg: &'static str, error_msg: impl Into<String>) -> KsError {
    KsError {
        result,
        msg,
        error_msg: error_msg.into(),
    }
}

impl KsError {
    pub fn missing(param: &str) -> Self {
        e(10, "缺少系统参数", format!("缺少系统参数{param}"))
    }
    pub fn unknown_app() -> Self {
        e(11, "appkey不存在", "appkey不存在或已停用")
    }
    pub fn unknown_method(method: &str) -> Self {
        e(12, "API不存在", format!("API {method} 不存在"))
    }
    pub fn method_mismatch(method: &str, path: &str) -> Self {
        e(
            12,
            "API不存在",
            format!("method {method} 与请求路径 {path} 不一致"),
        )
    }
    pub fn version() -> Self {
        e(13, "version不支持", "version只支持1")
    }
    pub fn sign_method() -> Self {
        e(14, "signMethod不支持", "signMethod只支持MD5、HMAC_SHA256")
    }
    pub fn timestamp(why: &str) -> Self {
        e(15, "timestamp无效", why.to_owned())
    }
    pub fn signature() -> Self {
        e(16, "签名验证失败", "sign校验失败，请检查signSecret及参数")
    }
    pub fn rate_limited() -> Self {
        e(17, "调用频率超限", "API调用频率超过限制，请稍后重试")
    }
    pub fn token_expired() -> Self {
        e(24, "access_token已过期", "access_token已过期，请刷新")
    }
    pub fn token_invalid() -> Self {
        e(25, "access_token无效", "access_token不存在或不属于该应用")
    }
    /// The app was not granted the API.
    pub fn no_permission(method: &str) -> Self {
        e(28, "无权限", format!("应用无权限调用{method}"))
    }
    /// The shop's decrypt quota is spent (shared by its PC and app clients and the API).
    pub fn decrypt_quota() -> Self {
        e(2002, "解密额度不足", "商家今日解密额度已用完")
    }
    /// Business parameter `field` is invalid (`"endTime无效"`).
    pub fn business(field: &str, detail: &str) -> Self {
        e(2001, "业务处理失败", format!("{field}无效：{detail}"))
    }

    pub fn to_json(&self) -> Value {
        json!({ "result": self.result, "msg": self.msg, "error_msg": self.error_msg })
    }
}

/// An OAuth failure: `(result, error, error_msg)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthError {
    pub result: u64,
    pub error: &'static str,
    pub error_msg: String,
}

impl OauthError {
    pub fn invalid_request(msg: &str) -> Self {
        OauthError {
            result: 100_200_100,
            error: "invalid_request",
            error_msg: msg.into(),
        }
    }
    pub fn invalid_client() -> Self {
        let msg = "app_id或app_secret错误".into();
        OauthError {
            result: 100_200_101,
            error: "invalid_client",
            error_msg: msg,
        }
    }
    pub fn invalid_grant(msg: &str) -> Self {
        OauthError {
            result: 100_200_102,
            error: "invalid_grant",
            error_msg: msg.into(),
        }
    }
    pub fn unsupported_grant_type(grant: &str) -> Self {
        let msg = format!("不支持的grant_type：{grant}");
        OauthError {
            result: 100_200_103,
            error: "unsupported_grant_type",
            error_msg: msg,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "result": self.result, "error": self.error, "error_msg": self.error_msg })
    }
}

/// A successful API answer.
pub fn success(data: Value) -> Value {
    json!({ "result": 1, "msg": "success", "data": data })
}
