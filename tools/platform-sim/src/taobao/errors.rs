//! TOP's error envelope: `{"error_response":{"code","msg","sub_code","sub_msg","request_id"}}`,
//! answered with HTTP 200.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopError {
    pub code: u32,
    pub msg: String,
    pub sub_code: Option<String>,
    pub sub_msg: Option<String>,
}

impl TopError {
    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        TopError {
            code,
            msg: msg.into(),
            sub_code: None,
            sub_msg: None,
        }
    }

    pub fn with_sub(mut self, sub_code: impl Into<String>, sub_msg: impl Into<String>) -> Self {
        self.sub_code = Some(sub_code.into());
        self.sub_msg = Some(sub_msg.into());
        self
    }

    pub fn missing_method() -> Self {
        TopError::new(21, "Missing Method")
    }
    pub fn invalid_method(method: &str) -> Self {
        TopError::new(22, "Invalid method")
            .with_sub("isv.invalid-method", format!("方法 {method} 不存在"))
    }
    pub fn invalid_format() -> Self {
        TopError::new(23, "Invalid format")
    }
    pub fn missing_signature() -> Self {
        TopError::new(24, "Missing signature")
    }
    pub fn invalid_signature() -> Self {
        TopError::new(25, "Invalid signature")
    }
    pub fn missing_session() -> Self {
        TopError::new(26, "Missing session")
    }
    /// `sub_msg` says why (unknown, expired, replaced by a refresh…).
    pub fn invalid_session(why: &str) -> Self {
        TopError::new(27, "Invalid session").with_sub("invalid-sessionkey", why)
    }
    pub fn missing_app_key() -> Self {
        TopError::new(28, "Missing app key")
    }
    pub fn invalid_app_key() -> Self {
        TopError::new(29, "Invalid app key")
    }
    pub fn missing_timestamp() -> Self {
        TopError::new(30, "Missing timestamp")
    }
    pub fn invalid_timestamp(why: &str) -> Self {
        TopError::new(31, "Invalid timestamp").with_sub("isv.invalid-timestamp", why)
    }
    pub fn missing_version() -> Self {
        TopError::new(32, "Missing version")
    }
    pub fn invalid_version() -> Self {
        TopError::new(33, "Invalid version")
    }
    pub fn unsupported_version() -> Self {
        TopError::new(34, "Unsupported version")
    }
    /// Code 40 naming the missing argument.
    pub fn missing_argument(field: &str) -> Self {
        TopError::new(40, format!("Missing required arguments:{field}")).with_sub(
            "isv.missing-parameter",
            format!("Missing required arguments:{field}"),
        )
    }
    /// Code 41 with `isv.invalid-parameter` and a `sub_msg` naming the field.
    pub fn invalid_argument(field: &str, detail: &str) -> Self {
        TopError::new(41, format!("Invalid arguments:{field}"))
            .with_sub("isv.invalid-parameter", format!("{field}: {detail}"))
    }
    /// Code 7 with the ban length TOP clients parse.
    pub fn app_call_limited(seconds: u64) -> Self {
        TopError::new(7, "App Call Limited").with_sub(
            "accesscontrol.limited-by-app-access-count",
            format!("This ban will last for {seconds} more seconds"),
        )
    }

    /// Code 11 (Insufficient ISV permissions, README §1.4): the app was not granted the API's
    /// permission package [sub_code: simulator choice after TOP's `isv.permission-*` family].
    pub fn insufficient_isv_permissions(method: &str) -> Self {
        TopError::new(11, "Insufficient isv permissions").with_sub(
            "isv.permission-api-package-limit",
            format!("应用没有调用 {method} 的权限"),
        )
    }
    /// Code 11 for a decrypt scene the app was not granted [sub_code: simulator choice].
    pub fn scene_not_authorized(scene: &str) -> Self {
        TopError::new(11, "Insufficient isv permissions").with_sub(
            "isv.scene-not-authorized",
            format!("应用未开通解密场景 {scene}"),
        )
    }
    /// Code 7 for a spent call-count quota on one API, banned until it renews.
    pub fn api_quota_spent(seconds: u64) -> Self {
        TopError::new(7, "App Call Limited").with_sub(
            "accesscontrol.limited-by-app-api-access-count",
            format!("This ban will last for {seconds} more seconds"),
        )
    }

    /// The envelope TOP answers.
    pub fn to_json(&self, request_id: &str) -> Value {
        let mut body = Map::new();
        body.insert("code".into(), json!(self.code));
        body.insert("msg".into(), json!(self.msg));
        if let Some(sub_code) = &self.sub_code {
            body.insert("sub_code".into(), json!(sub_code));
        }
        if let Some(sub_msg) = &self.sub_msg {
            body.insert("sub_msg".into(), json!(sub_msg));
        }
        body.insert("request_id".into(), json!(request_id));
        json!({ "error_response": body })
    }
}
