//! Douyin's error envelope (HTTP 200): `{"code","msg","sub_code","sub_msg","log_id","data":{}}`.
//! Codes and `sub_code`s from the platform's table (README §4.4); the ones marked
//! [unverified] are not in it and were chosen here.

use rand::Rng;
use serde_json::{Value, json};

use leadgen_domain::time::beijing;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DyError {
    pub code: u32,
    pub msg: &'static str,
    pub sub_code: String,
    pub sub_msg: String,
}

fn e(code: u32, msg: &'static str, sub_code: &str, sub_msg: impl Into<String>) -> DyError {
    DyError {
        code,
        msg,
        sub_code: sub_code.to_owned(),
        sub_msg: sub_msg.into(),
    }
}

const MISSING: &str = "缺少必选参数";
const INVALID: &str = "非法的参数";
const TOKEN_FAILED: &str = "平台处理失败";

impl DyError {
    pub fn app_key_missing() -> Self {
        e(
            40001,
            MISSING,
            "isv.app-id-missing",
            "认证失败，app_key不存在",
        )
    }
    pub fn app_key_invalid() -> Self {
        e(
            40003,
            INVALID,
            "isv.app-id-invalid",
            "认证失败，app_key不存在或格式不正确",
        )
    }
    /// [unverified] sub_code.
    pub fn method_missing() -> Self {
        e(40001, MISSING, "isv.method-missing", "method不能为空")
    }
    /// `method` names another API than the path [unverified sub_code].
    pub fn method_mismatch(method: &str, path_method: &str) -> Self {
        let why = format!("method {method} 与请求路径 {path_method} 不一致");
        e(40003, INVALID, "isv.method-invalid", why)
    }
    pub fn api_off(path_method: &str) -> Self {
        let why = format!("API不存在或API已下线：{path_method}");
        e(70000, "接口服务已下线", "isp.api-service-off", why)
    }
    pub fn rate_limited() -> Self {
        e(60000, "触发限流，请稍后重试", "", "触发限流，请稍后重试")
    }
    /// `v` must be `2` [unverified sub_code].
    pub fn version_invalid() -> Self {
        e(40003, INVALID, "isv.version-invalid", "v参数不正确，应为2")
    }
    /// [unverified sub_code].
    pub fn sign_method_invalid() -> Self {
        let why = "sign_method不正确，应为md5或hmac-sha256";
        e(40003, INVALID, "isv.sign-method-invalid", why)
    }
    pub fn timestamp_format() -> Self {
        let why = "时间戳格式错误，应为yyyy-MM-dd HH:mm:ss或unix秒";
        e(40003, INVALID, "isv.timestamp-format-error", why)
    }
    pub fn timestamp_invalid() -> Self {
        e(
            40003,
            INVALID,
            "isv.timestamp-invalid",
            "时间戳不合法，与服务器时间相差超过10分钟",
        )
    }
    pub fn signature_missing() -> Self {
        let why = "获取签名失败，请根据文档确保参数拼装正确";
        e(40001, MISSING, "isv.signature-missing", why)
    }
    pub fn signature_invalid() -> Self {
        e(40003, INVALID, "isv.signature-invalid", "签名校验失败")
    }
    pub fn param_json_invalid() -> Self {
        let why = "业务参数json解析失败，所有参数需为string类型";
        e(40003, INVALID, "isv.parameter-format-invalid", why)
    }
    pub fn token_missing() -> Self {
        e(
            40001,
            MISSING,
            "isv.access-token-missing",
            "认证失败，access_token不能为空",
        )
    }
    pub fn token_unknown() -> Self {
        let why = "access_token不存在，请使用最新的access_token访问";
        e(40003, INVALID, "isv.access-token-no-existed", why)
    }
    pub fn token_other_app() -> Self {
        let why = "app_key和access_token不匹配，请仔细检查";
        e(40003, INVALID, "isv.access-token-invalid", why)
    }
    pub fn token_expired() -> Self {
        e(
            40003,
            INVALID,
            "isv.access-token-expired",
            "access_token已过期",
        )
    }
    /// A business parameter failed validation: code 40003 "invalid param" (README §4.4) [unverified sub_code].
    pub fn bad_param(field: &str, detail: &str) -> Self {
        let why = format!("{field}: {detail}");
        e(40003, INVALID, "isv.parameter-invalid", why)
    }
    /// The app was not granted the API: 30001 `isv.app-permissions-insufficient` (README §4.4).
    pub fn permissions_insufficient(method: &str) -> Self {
        let why = format!("应用没有调用 {method} 的权限");
        e(30001, "权限不足", "isv.app-permissions-insufficient", why)
    }
    /// The shop's daily decrypt quota is spent: 50002 (business failure, README §4.4) with a
    /// `sub_code` naming the quota [unverified sub_code].
    pub fn decrypt_quota_spent() -> Self {
        let why = "今日解密额度已用完，请明日再试";
        e(
            50002,
            "业务处理失败",
            "isv.business-failed:decrypt-quota-exceeded",
            why,
        )
    }
    /// `dop.token-generate-failed:{reason}` with the table's text.
    pub fn token_generate(reason: &str) -> Self {
        let why = match reason {
            "code-expired" => "生成token失败，code已经失效（code的有效期为10分钟）",
            "code-invalid" => "生成token失败，code参数不正确，请引导商家重新授权获取code",
            "grant-type-invalid" => {
                "生成token失败，grant_type参数取值不正确，请参照文档根据应用类型填写不同的值"
            }
            "token-expired" => "生成token失败，token已过期",
            "token-invalid" => "生成token失败，token不存在",
            _ => "生成token失败，店铺授权已失效，请重新引导商家完成店铺授权",
        };
        let sub = format!("dop.token-generate-failed:{reason}");
        e(50001, TOKEN_FAILED, &sub, why)
    }

    /// The envelope the gateway answers.
    pub fn to_json(&self, log_id: &str) -> Value {
        json!({
            "data": {},
            "code": self.code,
            "msg": self.msg,
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
            "log_id": log_id,
        })
    }
}

/// A `log_id` like Douyin's: Beijing `yyyyMMddHHmmss` and 18 upper-case hex digits.
pub fn log_id() -> String {
    const HEX: &[u8] = b"0123456789ABCDEF";
    let mut rng = rand::thread_rng();
    let stamp = chrono::Utc::now()
        .with_timezone(&beijing())
        .format("%Y%m%d%H%M%S");
    let tail: String = (0..18)
        .map(|_| {
            char::from(
                HEX.get(rng.gen_range(0..HEX.len()))
                    .copied()
                    .unwrap_or(b'0'),
            )
        })
        .collect();
    format!("{stamp}{tail}")
}

/// A successful answer with `data`.
pub fn success(data: Value) -> Value {
    json!({
        "data": data,
        "code": 10000,
        "msg": "success",
        "sub_code": "",
        "sub_msg": "",
        "log_id": log_id(),
    })
}
