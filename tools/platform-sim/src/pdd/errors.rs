//! PDD's error envelope, answered with HTTP 200:
//! `{"error_response":{"error_code","error_msg","sub_code","sub_msg","request_id"}}`.
//!
//! Codes from the README: 70031 调用过于频繁 (the `qps_limit` fault), 10019 access_token已过期 (also
//! for tokens that never existed or were replaced). [3p, an ISV client's recorded answers]:
//! 10001 公共参数错误, 10002 业务参数错误, 10016 client下线或者clientId不正确, 20001 授权码无效.
//! Simulator choices: a bad signature is 10001 with `sub_code` `sign-check-failure`; an unknown
//! `type` is 10001 with `sub_code` `type-not-exist`; an invalid refresh token is 20002; the
//! decrypt API refused to the app (`--decrypt-denied`) is 10003; its daily quota spent is 70032
//! (next to 70031, the frequency limit).

use rand::Rng;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PddError {
    pub error_code: u32,
    pub error_msg: &'static str,
    pub sub_code: String,
    pub sub_msg: String,
}

impl PddError {
    fn new(error_code: u32, error_msg: &'static str, sub_code: &str, sub_msg: &str) -> Self {
        PddError {
            error_code,
            error_msg,
            sub_code: sub_code.to_owned(),
            sub_msg: sub_msg.to_owned(),
        }
    }

    /// A missing or invalid system parameter.
    pub fn common(sub_code: &str, sub_msg: &str) -> Self {
        PddError::new(10001, "公共参数错误", sub_code, sub_msg)
    }
    pub fn bad_sign() -> Self {
        PddError::common("sign-check-failure", "签名校验失败")
    }
    pub fn unknown_type(api_type: &str) -> Self {
        PddError::common("type-not-exist", &format!("接口 {api_type} 不存在"))
    }
    /// A missing or invalid business parameter.
    pub fn business(sub_msg: &str) -> Self {
        PddError::new(10002, "业务参数错误", "", sub_msg)
    }
    pub fn invalid_client(sub_msg: &str) -> Self {
        PddError::new(10016, "client下线或者clientId不正确", "", sub_msg)
    }
    pub fn token_expired(sub_msg: &str) -> Self {
        PddError::new(10019, "access_token已过期", "", sub_msg)
    }
    pub fn too_frequent() -> Self {
        PddError::new(70031, "调用过于频繁，请调整调用频率", "", "")
    }
    /// The app was not granted the API [simulator choice].
    pub fn no_permission(api_type: &str) -> Self {
        let why = format!("应用无权限调用 {api_type}");
        PddError::new(10003, "无接口访问权限", "api-permission-denied", &why)
    }
    /// The app's daily decrypt quota is spent [simulator choice].
    pub fn decrypt_quota_spent() -> Self {
        let why = "今日解密次数已达上限，请明日再试";
        PddError::new(70032, "解密次数超限", "decrypt-quota-exceeded", why)
    }
    pub fn invalid_code(sub_msg: &str) -> Self {
        PddError::new(20001, "授权码无效", "", sub_msg)
    }
    pub fn invalid_refresh_token(sub_msg: &str) -> Self {
        PddError::new(20002, "refresh_token无效", "", sub_msg)
    }

    pub fn to_json(&self) -> Value {
        json!({ "error_response": {
            "error_code": self.error_code,
            "error_msg": self.error_msg,
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
            "request_id": request_id(),
        } })
    }
}

/// A request id like PDD's: epoch milliseconds and four random digits.
pub fn request_id() -> String {
    let digits: u32 = rand::thread_rng().gen_range(0..10_000);
    format!("{}{digits:04}", chrono::Utc::now().timestamp_millis())
}
