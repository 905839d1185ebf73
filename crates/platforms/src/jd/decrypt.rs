//! Revealing a receiver's phone with `jingdong.jos.order.oaid.decrypt`.
//!
//! - Request [src: the JD Java SDK's `JosOrderOaidDecryptRequest` / `GetReceiverInfoListReqVO` /
//!   `OrderInfoReqVO`, and the generated Python SDK `seven_jd`]: `360buy_param_json` =
//!   `{"getReceiverInfoListReqVO": {orderType, appName, extendProps, orderInfos: [{orderId
//!   (number), oaid}], expiration, region, scenesType}}`. We send `orderInfos` with one item only:
//!   no source gives the values of `orderType`, `appName`, `region`, `expiration` or
//!   `scenesType` [unverified], so none is guessed.
//! - Purposes: fulfilment only [choice]. `scenesType` exists but its values are undocumented in
//!   our sources; what the API documents is opening the consignee data, which serves delivery.
//!   After-sales and customer care are refused ([`crate::reveal`]).
//! - Answer [src: `JosOrderOaidDecryptResponse`, `ResponseData`, `OrderReceiverInfoModel`]:
//!   `jingdong_jos_order_oaid_decrypt_responce.returnType` = `{code, message, requestId, data:
//!   [{orderId, oaid, customerName, consMobilePhone, customerPhone, address, privacyProtection,
//!   expiration, consMobilePhoneFuzzy}]}`. With `privacyProtection=true` the mobile is a privacy
//!   number `main-extension` [unverified, as Taobao writes it] forwarding until `expiration`
//!   (`yyyy-MM-dd HH:mm:ss` Beijing [unverified]).
//! - Errors: the gateway's as for every JOS call (2 throttled, 19 invalid token,
//!   [`super::parse_error_response`]); `returnType.code` [simulator choice, mirrored by
//!   `tools/platform-sim/src/jd/decrypt.rs`]: 0 ok, 1001 no decrypt permission →
//!   `DecryptNotPermitted`, 1002 daily decrypt quota used up → `QuotaExhausted`, anything else
//!   → `DecryptFailed` with the platform's text (not retried: each call counts against the daily
//!   quota); a body `code` other than 0 → `Unknown` with its text, retried as the gateway's
//!   unknown codes are. An order the answer has no receiver for is `DecryptFailed`.
//! - Quota: JOS counts calls per app per day (code 2 "调用次数超限" when spent; the daily quota is
//!   shown in the JOS console [3p]); no number for this API is in our sources.

use chrono::{DateTime, Utc};
use leadgen_domain::time::parse_beijing;
use serde_json::{Value, json};

use crate::client::PlatformError;
use crate::json::{int, text};
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact, contact_from_text};

pub const DECRYPT_METHOD: &str = "jingdong.jos.order.oaid.decrypt";
/// The response key (JD's own spelling, `responce`).
pub const DECRYPT_RESPONSE: &str = "jingdong_jos_order_oaid_decrypt_responce";

/// The purposes JD permits here: fulfilment only.
pub const PURPOSES: &[RevealPurpose] = &[RevealPurpose::Fulfilment];

/// `returnType.code` values [simulator choice].
pub const NO_PERMISSION: i64 = 1001;
pub const QUOTA_USED_UP: i64 = 1002;

/// `360buy_param_json` for one reveal.
pub fn decrypt_param_json(request: &DecryptRequest) -> Result<String, PlatformError> {
    let order_id: u64 = request.order_id.trim().parse().map_err(|_| {
        PlatformError::InvalidRequest(format!(
            "JD order id `{}` is not a number",
            request.order_id
        ))
    })?;
    Ok(json!({
        "getReceiverInfoListReqVO": {
            "orderInfos": [{ "oaid": request.ciphertext, "orderId": order_id }],
        }
    })
    .to_string())
}

fn expiry(item: &Value) -> Result<Option<DateTime<Utc>>, PlatformError> {
    match text(item.get("expiration")).unwrap_or_default().trim() {
        "" => Ok(None),
        t => parse_beijing(t).map(Some).ok_or_else(|| {
            PlatformError::Malformed("expiration is not yyyy-MM-dd HH:mm:ss".into())
        }),
    }
}

/// The phone of `request`'s receiver in a 200 answer without a gateway error.
pub fn parse_decrypt_response(
    json: &Value,
    request: &DecryptRequest,
) -> Result<RevealedContact, PlatformError> {
    let body = json
        .get(DECRYPT_RESPONSE)
        .ok_or_else(|| PlatformError::Malformed(format!("no {DECRYPT_RESPONSE}")))?;
    let outer = text(body.get("code")).unwrap_or_default();
    if !outer.is_empty() && outer != "0" {
        return Err(super::parse::body_code_error(
            DECRYPT_RESPONSE,
            &outer,
            body,
        ));
    }
    let result = body
        .get("returnType")
        .ok_or_else(|| PlatformError::Malformed("no returnType".into()))?;
    let code = int(result.get("code"))
        .ok_or_else(|| PlatformError::Malformed("returnType.code is missing".into()))?;
    let message = text(result.get("message")).unwrap_or_default();
    match code {
        0 => {}
        NO_PERMISSION => {
            return Err(PlatformError::DecryptNotPermitted {
                code: code.to_string(),
                message,
            });
        }
        QUOTA_USED_UP => {
            return Err(PlatformError::QuotaExhausted {
                code: code.to_string(),
                message,
                retry_after: None,
            });
        }
        // Other codes are not documented. A decrypt answer's business code is returned at once
        // with its text, as the other decrypt refusals are: each retry would be another call
        // counted against the app's daily quota while a salesperson waits.
        _ => {
            return Err(PlatformError::DecryptFailed {
                code: format!("returnType.code {code}"),
                message,
            });
        }
    }
    let items = match result.get("data") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => {
            return Err(PlatformError::Malformed(
                "returnType.data is not a list".into(),
            ));
        }
    };
    let item = items
        .iter()
        .find(|i| {
            text(i.get("orderId")).unwrap_or_default() == request.order_id.trim()
                && text(i.get("oaid")).unwrap_or_default() == request.ciphertext
        })
        .ok_or_else(|| PlatformError::DecryptFailed {
            code: code.to_string(),
            message: format!("no receiver for order {} and this oaid", request.order_id),
        })?;
    let mobile = text(item.get("consMobilePhone")).unwrap_or_default();
    let mobile = mobile.trim();
    if item.get("privacyProtection").and_then(Value::as_bool) == Some(true) {
        let revealed = contact_from_text(mobile, expiry(item)?);
        if revealed.expose_extension().is_none() {
            return Err(PlatformError::Malformed(
                "privacyProtection is set but the mobile is not main-extension".into(),
            ));
        }
        return Ok(revealed);
    }
    let phone = text(item.get("customerPhone")).unwrap_or_default();
    match (mobile, phone.trim()) {
        ("", "") => Err(PlatformError::DecryptFailed {
            code: code.to_string(),
            message: "the receiver has neither mobile nor phone".into(),
        }),
        ("", phone) => Ok(RevealedContact::plain(phone)),
        (mobile, _) => Ok(RevealedContact::plain(mobile)),
    }
}

#[cfg(test)]
mod tests {
    use leadgen_domain::ContactKind;

    use super::*;

    fn request() -> DecryptRequest {
        DecryptRequest {
            order_id: "281234567890".into(),
            ciphertext: "oaid-x".into(),
            purpose: RevealPurpose::Fulfilment,
        }
    }

    fn answer(return_type: Value) -> Value {
        json!({ DECRYPT_RESPONSE: { "code": "0", "returnType": return_type } })
    }

    #[test]
    fn the_request_names_the_order_and_its_oaid() {
        let text = decrypt_param_json(&request()).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({"getReceiverInfoListReqVO": {"orderInfos": [{"oaid": "oaid-x", "orderId": 281234567890u64}]}})
        );
        let bad = DecryptRequest {
            order_id: "x1".into(),
            ..request()
        };
        assert!(matches!(
            decrypt_param_json(&bad),
            Err(PlatformError::InvalidRequest(_))
        ));
    }

    #[test]
    fn reads_receivers_and_business_codes() {
        let ok = answer(
            json!({"code": 0, "message": "成功", "requestId": "r", "data": [
            {"orderId": 281234567890u64, "oaid": "oaid-x", "consMobilePhone": "13800000001",
             "privacyProtection": false}]}),
        );
        let c = parse_decrypt_response(&ok, &request()).unwrap();
        assert_eq!(
            (c.kind(), c.expose_number()),
            (ContactKind::Plain, "13800000001")
        );
        let virt = answer(json!({"code": 0, "data": [
            {"orderId": 281234567890u64, "oaid": "oaid-x", "consMobilePhone": "17012345678-4321",
             "privacyProtection": true, "expiration": "2026-01-02 08:00:00"}]}));
        let c = parse_decrypt_response(&virt, &request()).unwrap();
        assert_eq!(c.expose_extension(), Some("4321"));
        assert_eq!(
            c.expires_at().unwrap().to_rfc3339(),
            "2026-01-02T00:00:00+00:00"
        );
        let empty = answer(json!({"code": 0, "data": []}));
        assert!(matches!(
            parse_decrypt_response(&empty, &request()),
            Err(PlatformError::DecryptFailed { .. })
        ));
        let quota = answer(json!({"code": 1002, "message": "今日解密额度已用完"}));
        assert!(matches!(
            parse_decrypt_response(&quota, &request()),
            Err(PlatformError::QuotaExhausted { ref code, .. }) if code == "1002"
        ));
        let denied = answer(json!({"code": 1001, "message": "无权限"}));
        assert!(matches!(
            parse_decrypt_response(&denied, &request()),
            Err(PlatformError::DecryptNotPermitted { .. })
        ));
        // An undocumented business code is returned at once with its text (each retry would
        // count against the daily quota); a body code other than 0 is unknown, text kept.
        let other = answer(json!({"code": 1999, "message": "订单状态不允许解密"}));
        assert_eq!(
            parse_decrypt_response(&other, &request()),
            Err(PlatformError::DecryptFailed {
                code: "returnType.code 1999".into(),
                message: "订单状态不允许解密".into()
            })
        );
        let body = json!({ DECRYPT_RESPONSE: { "code": "5", "zh_desc": "参数错误" } });
        assert!(matches!(
            parse_decrypt_response(&body, &request()),
            Err(PlatformError::Unknown { ref message, .. }) if message == "参数错误"
        ));
    }
}
