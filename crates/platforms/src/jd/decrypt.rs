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
//!   (`yyyy-MM-dd HH:mm:ss` Beijing [unverified]; epoch seconds or milliseconds are read too, and
//!   an expiry we cannot read is none: the reveal gets the assumed expiry, never a failure).
//!   The item is the one echoing the order id and the oaid, or the order id alone when the
//!   answer echoes no oaid ([`crate::json::echoed_item`]).
//! - The README documents the request only (§2.3), none of the answer's fields. `returnType.code`
//!   0 is success; absent, the answer is read by its `returnType.data` list when it has one (it
//!   says what was decrypted), and is `Malformed` without either. A receiver's phone is read from
//!   `consMobilePhone` / `customerPhone` [src], else from the names the README gives JD's
//!   consignee (`mobile` / `telephone`, §2.3).
//! - Errors: the gateway's as for every JOS call (19 invalid token,
//!   [`super::parse_error_response`]), but for code 2 ([`parse_decrypt_error`]). Code 2 is
//!   "调用次数/失败次数超限" (README §2.4: back off): the app's calls, or failed calls, of the API
//!   over a limit JD does not say the span of, a second's as much as a day's. On a decrypt it
//!   is a throttle with a stated wait of [`CALL_LIMIT_HOLD`]: answered at once, and the app's
//!   decrypt calls are held that long without being sent ([`crate::resilience::Limiter::hold`]),
//!   since every further call, failed ones too, may count against the same limit. Every
//!   `returnType.code` other than 0 is undocumented ("system busy" as much as a refusal), the
//!   simulator's 1001 (no decrypt permission) [simulator choice,
//!   `tools/platform-sim/src/jd/decrypt.rs`] included: `Unknown` with the platform's code and
//!   text (reported at once, [`crate::session`]), as a body `code` other than 0 is. An order the
//!   answer has no receiver for is `DecryptFailed`.
//! - `privacyProtection` is read as a bool, `"true"`/`"false"` or 1/0; without it a
//!   `main-extension` mobile is still a privacy number (`contact_from_text`), never a plain one.
//! - Quota: JOS counts calls per app per day (code 2 "调用次数超限" when spent; the daily quota is
//!   shown in the JOS console [3p]); no number for this API is in our sources.

use chrono::{DateTime, Utc};
use leadgen_domain::time::parse_beijing;
use serde_json::{Value, json};

use crate::client::PlatformError;
use crate::json::{echoed_item, flag, int, response_body, text};
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact, contact_from_text};

pub const DECRYPT_METHOD: &str = "jingdong.jos.order.oaid.decrypt";
/// The response key (JD's own spelling, `responce`).
pub const DECRYPT_RESPONSE: &str = "jingdong_jos_order_oaid_decrypt_responce";
/// The same, spelt `_response`.
const DECRYPT_RESPONSE_SPELT: &str = "jingdong_jos_order_oaid_decrypt_response";

/// The purposes JD permits here: fulfilment only.
pub const PURPOSES: &[RevealPurpose] = &[RevealPurpose::Fulfilment];

/// `360buy_param_json` for one reveal.
pub fn decrypt_param_json(request: &DecryptRequest) -> Result<String, PlatformError> {
    let order_id: u64 = request.order_id.trim().parse().map_err(|_| {
        PlatformError::InvalidRequest(format!("京东订单号 `{}` 不是数字", request.order_id))
    })?;
    Ok(json!({
        "getReceiverInfoListReqVO": {
            "orderInfos": [{ "oaid": request.ciphertext, "orderId": order_id }],
        }
    })
    .to_string())
}

/// How long the app's decrypt calls are held after JD's code 2 on one: JD states no wait, and
/// a call sent sooner may count as one more failed call against the limit it reported.
pub const CALL_LIMIT_HOLD: std::time::Duration = std::time::Duration::from_secs(60);

/// The gateway's error on a decrypt: as on every JOS call, but code 2 (the app's calls or failed
/// calls of the API over a limit) states a wait of [`CALL_LIMIT_HOLD`].
pub fn parse_decrypt_error(json: &Value) -> Option<PlatformError> {
    match super::parse::parse_error_response(json)? {
        PlatformError::Throttled { detail, .. } => Some(PlatformError::Throttled {
            retry_after: Some(CALL_LIMIT_HOLD),
            detail,
        }),
        other => Some(other),
    }
}

/// A privacy number's expiry: `yyyy-MM-dd HH:mm:ss` Beijing time as JOS writes times, or epoch
/// seconds or milliseconds. JOS documents `expiration` in the request only, so an answer's value
/// we cannot read is no expiry (the number is then given the assumed one,
/// [`RevealedContact::with_assumed_expiry`](crate::reveal::RevealedContact::with_assumed_expiry)),
/// never a failed reveal.
fn expiry(item: &Value) -> Option<DateTime<Utc>> {
    let raw = text(item.get("expiration")).unwrap_or_default();
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let read = parse_beijing(raw).or_else(|| match raw.parse::<i64>() {
        Ok(ms) if ms >= 100_000_000_000 => DateTime::from_timestamp_millis(ms),
        Ok(secs) if secs > 0 => DateTime::from_timestamp(secs, 0),
        _ => None,
    });
    if read.is_none() {
        tracing::warn!(
            expiration = raw,
            "JOS decrypt: unreadable expiration; taken as none"
        );
    }
    read
}

/// The first of `keys` whose value in `item` is written as a phone number, else "". The decrypt
/// answer's own names first [src], then the README's consignee names (§2.3), which no source
/// ties to this answer but a gateway may well use, and which carry ciphertexts and masks in
/// order lists: a value that is no number is never handed to a salesperson to dial.
fn phone_at(item: &Value, keys: &[&str]) -> String {
    keys.iter()
        .filter_map(|k| text(item.get(*k)))
        .find(|v| crate::contact::is_phone_number(v))
        .unwrap_or_default()
}

/// The phone of `request`'s receiver in a 200 answer without a gateway error.
pub fn parse_decrypt_response(
    json: &Value,
    request: &DecryptRequest,
) -> Result<RevealedContact, PlatformError> {
    let body = response_body(json, &[DECRYPT_RESPONSE, DECRYPT_RESPONSE_SPELT])
        .ok_or_else(|| PlatformError::Malformed(format!("响应缺少 {DECRYPT_RESPONSE}")))?;
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
        .ok_or_else(|| PlatformError::Malformed("响应缺少 returnType".into()))?;
    let code = int(result.get("code"));
    match code {
        Some(0) => {}
        // No code is documented (the README gives no field of this answer): "system busy" is
        // one as much as "not this shop's order" or "no permission". Unknown, the safe default:
        // retried a bounded number of times, then once after a refresh, and reported with
        // JOS's code and text; never a final refusal on a guess.
        Some(code) => {
            return Err(PlatformError::Unknown {
                code: format!("returnType.code {code}"),
                message: text(result.get("message")).unwrap_or_default(),
            });
        }
        // Without a code, the list of receivers says what was decrypted (below).
        None if result.get("data").is_some_and(Value::is_array) => {}
        None => {
            return Err(PlatformError::Malformed(
                "returnType 既无 code 也无 data 列表".into(),
            ));
        }
    }
    let code = code.map(|c| c.to_string()).unwrap_or_default();
    let items = crate::json::list_at(result, "data")
        .map_err(|_| PlatformError::Malformed("字段 returnType.data 不是列表".into()))?;
    let item = echoed_item(
        items,
        ("orderId", &request.order_id),
        ("oaid", &request.ciphertext),
    )
    .ok_or_else(|| PlatformError::DecryptFailed {
        code: code.clone(),
        message: format!("订单 {} 没有该 oaid 对应的收货人", request.order_id),
    })?;
    let mobile = phone_at(item, &["consMobilePhone", "mobile"]);
    let mobile = mobile.trim();
    let expires_at = expiry(item);
    if flag(item.get("privacyProtection")) == Some(true) {
        let revealed = contact_from_text(mobile, expires_at);
        if revealed.expose_extension().is_none() {
            return Err(PlatformError::Malformed(
                "privacyProtection 已标记为隐私号，但手机号不是“主号-分机号”格式".into(),
            ));
        }
        return Ok(revealed);
    }
    let phone = phone_at(item, &["customerPhone", "telephone"]);
    match (mobile, phone.trim()) {
        ("", "") => Err(PlatformError::DecryptFailed {
            code,
            message: "收货人既无手机号也无固定电话".into(),
        }),
        // Without the flag (absent, or false) a privacy number is still read as one: handed on
        // as a plain number, its extension would be lost and the call reach nobody.
        ("", phone) => Ok(contact_from_text(phone, expires_at)),
        (mobile, _) => Ok(contact_from_text(mobile, expires_at)),
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
    fn a_call_limit_on_a_decrypt_states_a_wait_and_other_gateway_errors_read_as_always() {
        let limited = json!({"error_response": {"code": "2", "zh_desc": "调用次数超限", "en_desc": "App Call Limited"}});
        assert_eq!(
            parse_decrypt_error(&limited),
            Some(PlatformError::Throttled {
                retry_after: Some(CALL_LIMIT_HOLD),
                detail: "2 调用次数超限 App Call Limited".into(),
            })
        );
        let token = json!({"error_response": {"code": "19", "zh_desc": "无效access_token"}});
        assert_eq!(
            parse_decrypt_error(&token),
            super::super::parse::parse_error_response(&token)
        );
        assert_eq!(parse_decrypt_error(&answer(json!({"code": 0}))), None);
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
        // An undocumented business code ("system busy" as much as a refusal) is unknown, its
        // code and text kept: never a final refusal on a guess. So is a body code other than
        // 0. The README documents no `returnType.code` at all: the simulator's 1001 (no
        // permission) is no exception.
        for (code, message) in [
            (1001, "无权限"),
            (1002, "今日解密额度已用完"),
            (1999, "订单状态不允许解密"),
            (5000, "系统繁忙，请稍后重试"),
        ] {
            let other = answer(json!({"code": code, "message": message}));
            assert_eq!(
                parse_decrypt_response(&other, &request()),
                Err(PlatformError::Unknown {
                    code: format!("returnType.code {code}"),
                    message: message.into()
                })
            );
        }
        let body = json!({ DECRYPT_RESPONSE: { "code": "5", "zh_desc": "参数错误" } });
        assert!(matches!(
            parse_decrypt_response(&body, &request()),
            Err(PlatformError::Unknown { ref message, .. }) if message == "参数错误"
        ));
    }

    /// `privacyProtection` is read as a bool, "true"/"false" or 1/0; without it a
    /// `main-extension` mobile is still a privacy number: handed on as plain, its extension was
    /// lost and the call reached nobody.
    #[test]
    fn a_privacy_number_without_its_flag_is_never_plain() {
        let item = |flag: Option<Value>| {
            let mut item = json!({"orderId": "281234567890", "oaid": "oaid-x",
                "consMobilePhone": "17012345678-4321", "expiration": "2026-01-02 08:00:00"});
            if let Some(flag) = flag {
                item["privacyProtection"] = flag;
            }
            answer(json!({"code": 0, "data": [item]}))
        };
        for flag in [
            None,
            Some(Value::Null),
            Some(json!(true)),
            Some(json!("true")),
            Some(json!(1)),
            Some(json!("1")),
            Some(json!(false)),
            Some(json!("0")),
        ] {
            let c = parse_decrypt_response(&item(flag.clone()), &request()).unwrap();
            assert_eq!(
                (c.kind(), c.expose_number(), c.expose_extension()),
                (ContactKind::Virtual, "17012345678", Some("4321")),
                "{flag:?}"
            );
            assert_eq!(
                c.expires_at().map(|t| t.to_rfc3339()).as_deref(),
                Some("2026-01-02T00:00:00+00:00")
            );
        }
        // Flagged as a string, the extension is required as with a bool.
        let mut flagged = item(Some(json!("true")));
        flagged[DECRYPT_RESPONSE]["returnType"]["data"][0]["consMobilePhone"] =
            "13800000001".into();
        assert!(matches!(
            parse_decrypt_response(&flagged, &request()),
            Err(PlatformError::Malformed(_))
        ));
    }

    /// The answer under another letter case or spelling of its key, or the one `…_responce`
    /// key the answer has, is read.
    #[test]
    fn the_answer_is_read_under_its_key_in_any_case_or_spelling() {
        let return_type = json!({"code": 0, "data": [{"orderId": 281234567890u64,
            "oaid": "oaid-x", "consMobilePhone": "13800000001"}]});
        for key in [
            "jingdong_jos_order_oaid_decrypt_responce",
            "JINGDONG_JOS_ORDER_OAID_DECRYPT_RESPONCE",
            "jingdong_jos_order_oaid_decrypt_response",
            "jingdong_jos_order_oaidDecrypt_responce",
        ] {
            let answer = json!({ key: { "code": "0", "returnType": return_type } });
            let c = parse_decrypt_response(&answer, &request()).unwrap();
            assert_eq!(c.expose_number(), "13800000001", "{key}");
        }
        let two = json!({"a_responce": {"returnType": return_type}, "b_responce": {}});
        assert!(matches!(
            parse_decrypt_response(&two, &request()),
            Err(PlatformError::Malformed(_))
        ));
    }

    /// JOS documents `expiration` in the request only: an answer's expiry in epoch seconds or
    /// milliseconds is read, one we cannot read is none (the reveal still succeeds), and an item
    /// that echoes the order id but no oaid is this order's.
    #[test]
    fn an_answer_without_our_date_or_our_oaid_still_reveals() {
        let item = |expiration: Value| {
            answer(json!({"code": 0, "data": [{"orderId": "281234567890",
                "consMobilePhone": "17012345678-4321", "privacyProtection": true,
                "expiration": expiration}]}))
        };
        let expiry = |expiration: Value| {
            parse_decrypt_response(&item(expiration), &request())
                .unwrap()
                .expires_at()
                .map(|t| t.to_rfc3339())
        };
        let at = Some("2026-01-02T00:00:00+00:00".to_owned());
        assert_eq!(expiry(json!("2026-01-02 08:00:00")), at);
        assert_eq!(expiry(json!(1_767_312_000_000_i64)), at);
        assert_eq!(expiry(json!("1767312000")), at);
        assert_eq!(expiry(json!("15 天")), None);
        assert_eq!(expiry(json!("")), None);
        let other = json!({"code": 0, "data": [{"orderId": "281234567890", "oaid": "oaid-y",
            "consMobilePhone": "13800000001"}]});
        assert!(matches!(
            parse_decrypt_response(&answer(other), &request()),
            Err(PlatformError::DecryptFailed { .. })
        ));
    }

    /// `returnType.code` is not in the README (nor is any field of this answer): an answer
    /// without it whose `returnType.data` is a list was `Malformed`, and the reveal failed.
    /// The list says what was decrypted. A receiver may also carry its phone under the names
    /// the README gives JD's consignee (`mobile`, `telephone`, §2.3).
    #[test]
    fn an_answer_without_a_return_code_is_read_by_its_list() {
        let item = json!({"orderId": "281234567890", "oaid": "oaid-x",
            "consMobilePhone": "13800000001"});
        let c = parse_decrypt_response(&answer(json!({"data": [item]})), &request()).unwrap();
        assert_eq!(c.expose_number(), "13800000001");
        let c = parse_decrypt_response(
            &answer(json!({"code": null, "message": "成功", "data": [item]})),
            &request(),
        )
        .unwrap();
        assert_eq!(c.expose_number(), "13800000001");
        // No list and no code: nothing says the call succeeded.
        for return_type in [json!({}), json!({"message": "成功"}), json!({"data": {}})] {
            assert!(
                matches!(
                    parse_decrypt_response(&answer(return_type.clone()), &request()),
                    Err(PlatformError::Malformed(_))
                ),
                "{return_type}"
            );
        }
        let readme_names = json!({"data": [{"orderId": "281234567890", "oaid": "oaid-x",
            "mobile": "13800000002"}]});
        let c = parse_decrypt_response(&answer(readme_names), &request()).unwrap();
        assert_eq!(c.expose_number(), "13800000002");
        let landline = json!({"data": [{"orderId": "281234567890", "oaid": "oaid-x",
            "telephone": "010-12345678"}]});
        let c = parse_decrypt_response(&answer(landline), &request()).unwrap();
        assert_eq!(c.expose_number(), "010-12345678");
        // A ciphertext or a mask in those fields is no number to dial: the next one is read, or
        // nothing was decrypted.
        let opaque = json!({"data": [{"orderId": "281234567890", "oaid": "oaid-x",
            "mobile": "<encrypted>", "telephone": "010-12345678"}]});
        let c = parse_decrypt_response(&answer(opaque), &request()).unwrap();
        assert_eq!(c.expose_number(), "010-12345678");
        let masked = json!({"data": [{"orderId": "281234567890", "oaid": "oaid-x",
            "consMobilePhone": "138****0001"}]});
        assert!(matches!(
            parse_decrypt_response(&answer(masked), &request()),
            Err(PlatformError::DecryptFailed { .. })
        ));
    }
}
