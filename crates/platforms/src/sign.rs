//! Request and push-channel signatures, exactly as each platform documents them.
//!
//! Empty-value policy: a parameter whose value is empty is neither signed nor sent. This is the
//! rule of the official TOP and JOS Java SDKs; since we never send empty parameters, the
//! platforms that would sign `key + ""` (some PDD SDKs) see the same request either way.
//!
//! | platform | string to sign | secret | output |
//! |---|---|---|---|
//! | Taobao `md5` | sorted `k+v` | `S + q + S` | upper hex |
//! | Taobao `hmac` / `hmac-sha256` | sorted `k+v` | HMAC key | upper hex |
//! | JD `md5` (`hmacmd5`, `hmacsha256`) | sorted `k+v` | `S + q + S` (HMAC: key) | upper hex |
//! | PDD `md5` | sorted `k+v` | `S + q + S` | upper hex |
//! | Douyin | `app_key…method…param_json…timestamp…v2` | `S + p + S` (HMAC also keyed) | lower hex |
//! | Kuaishou | sorted `k=v&…&signSecret=S` | appended; HMAC key | MD5 lower hex, HMAC Base64 |

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use ring::hmac as ring_hmac;

use leadgen_domain::PlatformType;

/// Parameters in byte-wise ascending key order (the order every sorted-`k+v` scheme uses).
pub type Params = BTreeMap<String, String>;

/// The digest a platform's `sign_method` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignMethod {
    Md5,
    HmacMd5,
    HmacSha256,
}

/// What is being signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignKind {
    /// An API call through the platform's gateway.
    ApiRequest,
    /// A push message the platform sends us (Douyin `event-sign`).
    Webhook,
    /// The Taobao TMC WebSocket handshake.
    TmcConnect,
    /// The PDD message-service WebSocket URL.
    WsConnect,
}

/// A sign method or kind that a platform does not offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    #[error("{platform} has no sign method `{method}`")]
    UnsupportedMethod {
        platform: PlatformType,
        method: String,
    },
    #[error("{platform} has no `{kind}` signature")]
    UnsupportedKind {
        platform: PlatformType,
        kind: &'static str,
    },
    #[error("parameter `{0}` is required for this signature")]
    MissingParam(&'static str),
}

impl SignKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignKind::ApiRequest => "api_request",
            SignKind::Webhook => "webhook",
            SignKind::TmcConnect => "tmc_connect",
            SignKind::WsConnect => "ws_connect",
        }
    }
}

impl FromStr for SignKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "api_request" => Ok(SignKind::ApiRequest),
            "webhook" => Ok(SignKind::Webhook),
            "tmc_connect" => Ok(SignKind::TmcConnect),
            "ws_connect" => Ok(SignKind::WsConnect),
            other => Err(format!(
                "unknown kind `{other}`; expected api_request, webhook, tmc_connect or ws_connect"
            )),
        }
    }
}

impl fmt::Display for SignKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SignMethod {
    /// Reads a platform's own spelling of its sign method (`md5`, `hmac`, `hmac-sha256`,
    /// `hmacmd5`, `hmacsha256`, `MD5`, `HMAC_SHA256`).
    pub fn parse_for(platform: PlatformType, text: &str) -> Result<Self, SignError> {
        let unsupported = || SignError::UnsupportedMethod {
            platform,
            method: text.to_owned(),
        };
        // One arm per platform, so that a new platform must say which spellings it takes.
        let m = match platform {
            PlatformType::Taobao => match text {
                "md5" => Some(SignMethod::Md5),
                "hmac" => Some(SignMethod::HmacMd5),
                "hmac-sha256" => Some(SignMethod::HmacSha256),
                _ => None,
            },
            PlatformType::Jd => match text {
                "md5" => Some(SignMethod::Md5),
                "hmacmd5" => Some(SignMethod::HmacMd5),
                "hmacsha256" => Some(SignMethod::HmacSha256),
                _ => None,
            },
            PlatformType::Pdd => matches!(text, "md5" | "MD5").then_some(SignMethod::Md5),
            PlatformType::Douyin => match text {
                "md5" => Some(SignMethod::Md5),
                "hmac-sha256" => Some(SignMethod::HmacSha256),
                _ => None,
            },
            PlatformType::Kuaishou => match text {
                "MD5" => Some(SignMethod::Md5),
                "HMAC_SHA256" => Some(SignMethod::HmacSha256),
                _ => None,
            },
        };
        m.ok_or_else(unsupported)
    }

    /// The platform's own spelling, as sent in the request.
    pub fn wire_name(self, platform: PlatformType) -> &'static str {
        match (platform, self) {
            (PlatformType::Taobao, SignMethod::HmacMd5) => "hmac",
            (PlatformType::Taobao | PlatformType::Douyin, SignMethod::HmacSha256) => "hmac-sha256",
            (PlatformType::Jd, SignMethod::HmacMd5) => "hmacmd5",
            (PlatformType::Jd, SignMethod::HmacSha256) => "hmacsha256",
            (PlatformType::Kuaishou, SignMethod::Md5) => "MD5",
            (PlatformType::Kuaishou, SignMethod::HmacSha256 | SignMethod::HmacMd5) => "HMAC_SHA256",
            (
                PlatformType::Taobao | PlatformType::Jd | PlatformType::Pdd | PlatformType::Douyin,
                SignMethod::Md5,
            ) => "md5",
            (PlatformType::Pdd | PlatformType::Douyin, SignMethod::HmacMd5) => "hmac",
            (PlatformType::Pdd, SignMethod::HmacSha256) => "hmac-sha256",
        }
    }
}

/// Signs `params` for `platform` as its gateway or push channel expects, with the sign
/// parameter itself excluded. Douyin reads `app_key`, `method`, `param_json`, `timestamp`;
/// webhooks read `app_key` and `body`; TMC reads `app_key`, `group_name`, `timestamp`; PDD's
/// WebSocket reads `client_id` and `timestamp`.
pub fn sign(
    platform: PlatformType,
    kind: SignKind,
    method: SignMethod,
    secret: &str,
    params: &Params,
) -> Result<String, SignError> {
    let get = |k: &'static str| {
        params
            .get(k)
            .map(String::as_str)
            .ok_or(SignError::MissingParam(k))
    };
    match (platform, kind) {
        (PlatformType::Taobao | PlatformType::Jd | PlatformType::Pdd, SignKind::ApiRequest) => {
            Ok(sorted_concat_sign(method, secret, params))
        }
        (PlatformType::Douyin, SignKind::ApiRequest) => Ok(douyin_sign(
            method,
            secret,
            get("app_key")?,
            get("method")?,
            get("param_json")?,
            get("timestamp")?,
        )),
        (PlatformType::Kuaishou, SignKind::ApiRequest) => Ok(kuaishou_sign(method, secret, params)),
        (PlatformType::Douyin, SignKind::Webhook) => {
            Ok(douyin_webhook_sign(get("app_key")?, get("body")?, secret))
        }
        (PlatformType::Taobao, SignKind::TmcConnect) => Ok(taobao_tmc_sign(
            secret,
            get("app_key")?,
            get("group_name")?,
            get("timestamp")?,
        )),
        (PlatformType::Pdd, SignKind::WsConnect) => {
            Ok(pdd_ws_sign(get("client_id")?, get("timestamp")?, secret))
        }
        (_, kind) => Err(SignError::UnsupportedKind {
            platform,
            kind: kind.as_str(),
        }),
    }
}

/// Taobao, JD and PDD: sorted `k+v`, empties dropped, upper hex.
pub fn sorted_concat_sign(method: SignMethod, secret: &str, params: &Params) -> String {
    let mut q = String::new();
    for (k, v) in params
        .iter()
        .filter(|(k, v)| !k.is_empty() && !v.is_empty() && *k != "sign")
    {
        q.push_str(k);
        q.push_str(v);
    }
    let digest = match method {
        SignMethod::Md5 => md5_bytes(&format!("{secret}{q}{secret}")),
        SignMethod::HmacMd5 => hmac_md5(secret, &q),
        SignMethod::HmacSha256 => hmac_sha256(secret, &q),
    };
    hex::encode_upper(digest)
}

/// Douyin Shop: the fixed pattern, wrapped in the secret, lower hex.
pub fn douyin_sign(
    method: SignMethod,
    secret: &str,
    app_key: &str,
    api_method: &str,
    param_json: &str,
    timestamp: &str,
) -> String {
    let pattern =
        format!("app_key{app_key}method{api_method}param_json{param_json}timestamp{timestamp}v2");
    let wrapped = format!("{secret}{pattern}{secret}");
    match method {
        SignMethod::HmacSha256 => hex::encode(hmac_sha256(secret, &wrapped)),
        SignMethod::Md5 | SignMethod::HmacMd5 => hex::encode(md5_bytes(&wrapped)),
    }
}

/// Kuaishou: sorted `k=v&…` plus `&signSecret=S`; MD5 lower hex or HMAC-SHA256 Base64.
pub fn kuaishou_sign(method: SignMethod, secret: &str, params: &Params) -> String {
    let joined = params
        .iter()
        .filter(|(k, v)| !v.is_empty() && *k != "sign")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let text = format!("{joined}&signSecret={secret}");
    match method {
        SignMethod::Md5 | SignMethod::HmacMd5 => hex::encode(md5_bytes(&text)),
        SignMethod::HmacSha256 => {
            base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, &text))
        }
    }
}

/// Douyin push: `event-sign = lower_hex(MD5(app_key + raw_body + app_secret))`.
pub fn douyin_webhook_sign(app_key: &str, body: &str, secret: &str) -> String {
    hex::encode(md5_bytes(&format!("{app_key}{body}{secret}")))
}

/// Taobao TMC handshake: `HEX_UPPER(MD5(S + "app_key"k + "group_name"g + "timestamp"ts + S))`.
pub fn taobao_tmc_sign(secret: &str, app_key: &str, group_name: &str, timestamp: &str) -> String {
    let text =
        format!("{secret}app_key{app_key}group_name{group_name}timestamp{timestamp}{secret}");
    hex::encode_upper(md5_bytes(&text))
}

/// PDD message service: `Base64(lower_hex(MD5(client_id + timestamp_ms + secret)))` (URL-encode
/// it when placing it in the path).
pub fn pdd_ws_sign(client_id: &str, timestamp_ms: &str, secret: &str) -> String {
    let hex = hex::encode(md5_bytes(&format!("{client_id}{timestamp_ms}{secret}")));
    base64::engine::general_purpose::STANDARD.encode(hex)
}

/// Compares two signatures in constant time (case-sensitive: each platform fixes its case).
pub fn signatures_match(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn md5_bytes(text: &str) -> Vec<u8> {
    Md5::digest(text.as_bytes()).to_vec()
}

fn hmac_md5(key: &str, text: &str) -> Vec<u8> {
    match Hmac::<Md5>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(text.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC accepts keys of any length; this arm cannot be reached.
        Err(_) => Vec::new(),
    }
}

fn hmac_sha256(key: &str, text: &str) -> Vec<u8> {
    let key = ring_hmac::Key::new(ring_hmac::HMAC_SHA256, key.as_bytes());
    ring_hmac::sign(&key, text.as_bytes()).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        id: String,
        platform: String,
        kind: String,
        sign_method: String,
        secret: String,
        params: Params,
        expected_sign: String,
        edge_case: Option<String>,
    }

    fn platform(name: &str) -> PlatformType {
        match name {
            "taobao" => PlatformType::Taobao,
            "jd" => PlatformType::Jd,
            "pdd" => PlatformType::Pdd,
            "doudian" => PlatformType::Douyin,
            "kuaishou" => PlatformType::Kuaishou,
            other => panic!("unknown platform {other}"),
        }
    }

    fn method(p: PlatformType, kind: SignKind, text: &str) -> SignMethod {
        match kind {
            SignKind::ApiRequest => SignMethod::parse_for(p, text).unwrap(),
            SignKind::Webhook | SignKind::TmcConnect | SignKind::WsConnect => SignMethod::Md5,
        }
    }

    #[test]
    fn every_public_vector_without_an_edge_case_passes() {
        let all: Vectors =
            serde_json::from_str(include_str!("../tests/fixtures/signing-vectors.json")).unwrap();
        let mut checked = 0;
        for v in all.vectors.iter().filter(|v| v.edge_case.is_none()) {
            let p = platform(&v.platform);
            let kind: SignKind = v.kind.parse().unwrap();
            let got = sign(
                p,
                kind,
                method(p, kind, &v.sign_method),
                &v.secret,
                &v.params,
            )
            .unwrap();
            assert_eq!(got, v.expected_sign, "vector {}", v.id);
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} vectors checked");
    }

    #[test]
    fn empty_values_are_dropped_as_the_java_sdks_do() {
        let all: Vectors =
            serde_json::from_str(include_str!("../tests/fixtures/signing-vectors.json")).unwrap();
        let v = all
            .vectors
            .iter()
            .find(|v| v.id == "taobao-md5-empty-values-dropped")
            .unwrap();
        let got = sign(
            PlatformType::Taobao,
            SignKind::ApiRequest,
            SignMethod::Md5,
            &v.secret,
            &v.params,
        )
        .unwrap();
        assert_eq!(got, v.expected_sign);
    }

    #[test]
    fn unsupported_methods_and_kinds_are_errors() {
        assert!(SignMethod::parse_for(PlatformType::Pdd, "hmac-sha256").is_err());
        let err = sign(
            PlatformType::Jd,
            SignKind::Webhook,
            SignMethod::Md5,
            "s",
            &Params::new(),
        );
        assert!(matches!(err, Err(SignError::UnsupportedKind { .. })));
        assert!(signatures_match("ABC", "ABC"));
        assert!(!signatures_match("ABC", "abc"));
    }
}
