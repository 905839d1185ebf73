//! Revealing a receiver's phone with `taobao.top.oaid.decrypt` (OAID解密,
//! developer.alibaba.com/docs/api.htm?apiId=54714) [doc unless marked]:
//!
//! - Request: the signed TOP call with `query_list`, JSON text of at most 20
//!   `{oaid, tid, scene, secret_no_days}`; we send one item and no `secret_no_days` (the
//!   platform's default binding time for privacy numbers).
//! - Scenes: 1001–1004 electronic-waybill shipping (顺丰 / 四通一达 / EMS / other), 1005 线下门店发货,
//!   1006 手工单发货, 1007 代发货, 2001 客户售后服务, 2002 客户关怀. Purposes: after-sales → `2001`,
//!   customer care → `2002`, fulfilment → `1006` [choice among 1001–1007: a salesperson handling
//!   an order by hand is neither a waybill printer, a store nor a drop-shipper]. Every purpose is
//!   permitted; the app must hold the scene, else the platform refuses.
//! - Answer: `top_oaid_decrypt_response.receiver_list` (TOP wraps lists as
//!   `{"receiver": […]}`; a bare array is read too) of `{name, mobile, phone, address_detail,
//!   state, city, district, town, oaid, tid, matched, privacy_protection,
//!   secret_no_expire_time}`. With `privacy_protection=true` the mobile is a privacy number
//!   `18877771111-123` that forwards until `secret_no_expire_time` (`yyyy-MM-dd HH:mm:ss`,
//!   Beijing [unverified: the README does not document the field]; epoch seconds or
//!   milliseconds and RFC 3339 are read too, and one we cannot read is no expiry, never a failed
//!   reveal). We return `mobile`, else `phone` (a landline). The flag is read as a bool,
//!   `"true"`/`"false"` or 1/0; without it a `main-extension` mobile is still a privacy number
//!   (`contact_from_text`), never a plain one.
//! - `matched=false` means the oaid is no longer the trade's receiver: refused as
//!   [`PlatformError::DecryptFailed`] so nobody calls a former receiver [choice]. A trade the
//!   answer has no receiver for is `DecryptFailed` too (TOP documents no per-item error code
//!   [choice]).
//! - Errors: as every TOP call ([`super::parse_error_response`]): code 7 (whichever `sub_code`,
//!   `…limited-by-api-access-count` and `…limited-by-app-api-access-count` on this API included)
//!   and the other 4–8 → `Throttled`, with the ban of "This ban will last for N more seconds"
//!   as `retry_after` (README §1.4: back off N s; the transport holds the API's calls until it
//!   ends); 26/27 → `SessionExpired`. Read first here: 11/12 (insufficient ISV / user
//!   permissions: the API or the scene not granted) → `DecryptNotPermitted`.
//! - Quota: TOP sets API call quotas per app (code 7 when spent, the ban lasting until the quota
//!   renews); no number for this API is in our sources [unverified], and TOP documents no
//!   separate daily decrypt-quota code, so nothing here is `QuotaExhausted`: a spent quota is
//!   the stated ban, waited out like any other.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::parse::parse_error_response;
use crate::client::PlatformError;
use crate::json::{flag, instant, response_body, str_at};
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact, contact_from_text};

pub const DECRYPT_METHOD: &str = "taobao.top.oaid.decrypt";
pub const DECRYPT_RESPONSE: &str = "top_oaid_decrypt_response";

/// Every purpose maps to a documented scene.
pub const PURPOSES: &[RevealPurpose] = RevealPurpose::ALL;

/// The TOP scene code a purpose is decrypted under.
pub fn scene(purpose: RevealPurpose) -> &'static str {
    match purpose {
        RevealPurpose::AfterSales => "2001",
        RevealPurpose::CustomerCare => "2002",
        RevealPurpose::Fulfilment => "1006",
    }
}

/// The business parameters of one reveal: `query_list` with one item.
pub fn decrypt_params(request: &DecryptRequest) -> BTreeMap<String, String> {
    let item = json!([{
        "oaid": request.ciphertext,
        "tid": request.order_id,
        "scene": scene(request.purpose),
    }]);
    BTreeMap::from([("query_list".to_owned(), item.to_string())])
}

/// The error envelope of a decrypt call, with the decrypt-specific class (permission) read
/// first; `None` when the answer is not an error.
pub fn parse_decrypt_error(json: &Value) -> Option<PlatformError> {
    let e = json.get("error_response")?;
    let code = match e.get("code") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let sub_code = str_at(e, "sub_code");
    let sub_msg = str_at(e, "sub_msg");
    let platform_code = if sub_code.is_empty() {
        code.clone()
    } else {
        format!("{code}/{sub_code}")
    };
    let message = [str_at(e, "msg"), sub_msg]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(": ");
    // Code 7 on this API's call count (`…-by-api-access-count`, `…-by-app-api-access-count`)
    // is TOP's throttle with a stated ban (README §1.4: back off N s), read as on every call:
    // the ban is the wait, and the call goes again once it ends.
    match code.as_str() {
        "11" | "12" => Some(PlatformError::DecryptNotPermitted {
            code: platform_code,
            message,
        }),
        _ => parse_error_response(json),
    }
}

fn receivers(body: &Value) -> Result<&[Value], PlatformError> {
    match body.get("receiver_list") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Object(wrapped)) => match wrapped.get("receiver") {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(PlatformError::Malformed(
                "字段 receiver_list.receiver 不是列表".into(),
            )),
        },
        Some(_) => Err(PlatformError::Malformed(
            "字段 receiver_list 不是列表".into(),
        )),
    }
}

/// A privacy number's expiry, `secret_no_expire_time`: `yyyy-MM-dd HH:mm:ss` Beijing time as TOP
/// writes times, epoch seconds or milliseconds, or RFC 3339 ([`instant`]). The README does not
/// document the field (§1.3 names `secret_no_days` in the request only), so a value we cannot
/// read is no expiry (the number is then given the assumed one,
/// [`RevealedContact::with_assumed_expiry`](crate::reveal::RevealedContact::with_assumed_expiry)),
/// never a failed reveal of a number the platform did decrypt; as JD's `expiration`.
fn expiry(receiver: &Value) -> Option<DateTime<Utc>> {
    let sent = receiver
        .get("secret_no_expire_time")
        .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))?;
    let read = instant(Some(sent));
    if read.is_none() {
        tracing::warn!(
            secret_no_expire_time = %sent,
            "TOP decrypt: unreadable secret_no_expire_time; taken as none"
        );
    }
    read
}

/// The phone of `request`'s receiver in a successful answer.
pub fn parse_decrypt_response(
    json: &Value,
    request: &DecryptRequest,
) -> Result<RevealedContact, PlatformError> {
    let body = response_body(json, &[DECRYPT_RESPONSE])
        .ok_or_else(|| PlatformError::Malformed(format!("响应缺少 {DECRYPT_RESPONSE}")))?;
    let tid_of = |r: &Value| match r.get("tid") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let receiver = receivers(body)?
        .iter()
        .find(|r| tid_of(r) == request.order_id && str_at(r, "oaid") == request.ciphertext)
        .ok_or_else(|| PlatformError::DecryptFailed {
            code: String::new(),
            message: format!(
                "receiver_list 中没有订单 {} 的该 oaid 对应的收货人",
                request.order_id
            ),
        })?;
    if receiver.get("matched").is_some() && flag(receiver.get("matched")) != Some(true) {
        return Err(PlatformError::DecryptFailed {
            code: "matched=false".into(),
            message: "该 oaid 已不是订单当前的收货人，请重新同步订单".into(),
        });
    }
    let mobile = str_at(receiver, "mobile").trim();
    let expires_at = expiry(receiver);
    if flag(receiver.get("privacy_protection")) == Some(true) {
        let revealed = contact_from_text(mobile, expires_at);
        if revealed.expose_extension().is_none() {
            return Err(PlatformError::Malformed(
                "privacy_protection 已标记为隐私号，但手机号不是“主号-分机号”格式".into(),
            ));
        }
        return Ok(revealed);
    }
    let phone = str_at(receiver, "phone").trim();
    match (mobile, phone) {
        ("", "") => Err(PlatformError::DecryptFailed {
            code: String::new(),
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
    use std::time::Duration;

    use leadgen_domain::ContactKind;

    use super::*;

    fn request(purpose: RevealPurpose) -> DecryptRequest {
        DecryptRequest {
            order_id: "3512345678901234567".into(),
            ciphertext: "1GlF4ZrNWcCPjPzE".into(),
            purpose,
        }
    }

    fn answer(receiver: Value) -> Value {
        json!({ DECRYPT_RESPONSE: { "receiver_list": { "receiver": [receiver] }, "request_id": "r" } })
    }

    #[test]
    fn purposes_map_to_the_documented_scenes() {
        let params = decrypt_params(&request(RevealPurpose::CustomerCare));
        let list: Value = serde_json::from_str(&params["query_list"]).unwrap();
        assert_eq!(
            list,
            json!([{"oaid": "1GlF4ZrNWcCPjPzE", "tid": "3512345678901234567", "scene": "2002"}])
        );
        assert_eq!(scene(RevealPurpose::AfterSales), "2001");
        assert_eq!(scene(RevealPurpose::Fulfilment), "1006");
    }

    #[test]
    fn reads_mobiles_privacy_numbers_and_refusals() {
        let r = request(RevealPurpose::AfterSales);
        let plain = answer(
            json!({"tid": "3512345678901234567", "oaid": "1GlF4ZrNWcCPjPzE",
            "mobile": "13812345678", "phone": "", "matched": true, "privacy_protection": false}),
        );
        let c = parse_decrypt_response(&plain, &r).unwrap();
        assert_eq!(
            (c.kind(), c.expose_number()),
            (ContactKind::Plain, "13812345678")
        );

        let virt = answer(
            json!({"tid": 3512345678901234567u64, "oaid": "1GlF4ZrNWcCPjPzE",
            "mobile": "18877771111-123", "matched": true, "privacy_protection": true,
            "secret_no_expire_time": "2026-06-01 12:00:00"}),
        );
        let c = parse_decrypt_response(&virt, &r).unwrap();
        assert_eq!(
            (c.expose_number(), c.expose_extension()),
            ("18877771111", Some("123"))
        );
        assert_eq!(
            c.expires_at().unwrap().to_rfc3339(),
            "2026-06-01T04:00:00+00:00"
        );

        let stale = answer(
            json!({"tid": "3512345678901234567", "oaid": "1GlF4ZrNWcCPjPzE",
            "mobile": "13812345678", "matched": false}),
        );
        assert!(matches!(
            parse_decrypt_response(&stale, &r),
            Err(PlatformError::DecryptFailed { .. })
        ));
        let none = json!({ DECRYPT_RESPONSE: { "request_id": "r" } });
        assert!(matches!(
            parse_decrypt_response(&none, &r),
            Err(PlatformError::DecryptFailed { .. })
        ));
    }

    #[test]
    fn maps_decrypt_errors_keeping_the_platforms_code() {
        let err = |code: i64, sub_code: &str, sub_msg: &str| {
            parse_decrypt_error(&json!({"error_response": {"code": code, "msg": "m",
                "sub_code": sub_code, "sub_msg": sub_msg, "request_id": "r"}}))
            .unwrap()
        };
        // A ban on this API's call count is a throttle with its stated wait (README §1.4),
        // as on the order listing; it was a spent quota, never retried.
        for sub_code in [
            "accesscontrol.limited-by-app-api-access-count",
            "accesscontrol.limited-by-api-access-count",
        ] {
            assert_eq!(
                err(7, sub_code, "This ban will last for 3600 more seconds"),
                PlatformError::Throttled {
                    retry_after: Some(Duration::from_secs(3600)),
                    detail: format!("7 {sub_code} m This ban will last for 3600 more seconds"),
                },
                "{sub_code}"
            );
        }
        assert!(matches!(
            err(7, "accesscontrol.limited-by-app-access-count", "This ban will last for 1 more seconds"),
            PlatformError::Throttled { retry_after: Some(d), ref detail }
                if d == Duration::from_secs(1) && detail.contains("This ban will last for 1 more seconds")
        ));
        assert!(matches!(
            err(11, "isv.scene-not-authorized", "scene 2002"),
            PlatformError::DecryptNotPermitted { ref code, .. } if code == "11/isv.scene-not-authorized"
        ));
        assert_eq!(
            err(27, "invalid-sessionkey", ""),
            PlatformError::SessionExpired {
                detail: "27 invalid-sessionkey m".into()
            }
        );
        assert!(parse_decrypt_error(&answer(json!({}))).is_none());
    }

    /// `privacy_protection` is read as a bool, "true"/"false" or 1/0; without it a
    /// `main-extension` mobile is still a privacy number: handed on as plain, its extension was
    /// lost and the call reached nobody.
    #[test]
    fn a_privacy_number_without_its_flag_is_never_plain() {
        let r = request(RevealPurpose::AfterSales);
        let receiver = |flag: Option<Value>| {
            let mut receiver = json!({"tid": "3512345678901234567", "oaid": "1GlF4ZrNWcCPjPzE",
                "mobile": "18877771111-123", "matched": true,
                "secret_no_expire_time": "2026-06-01 12:00:00"});
            if let Some(flag) = flag {
                receiver["privacy_protection"] = flag;
            }
            answer(receiver)
        };
        for flag in [
            None,
            Some(Value::Null),
            Some(json!(false)),
            Some(json!("false")),
            Some(json!(1)),
            Some(json!("1")),
            Some(json!("TRUE")),
        ] {
            let c = parse_decrypt_response(&receiver(flag.clone()), &r).unwrap();
            assert_eq!(
                (c.kind(), c.expose_number(), c.expose_extension()),
                (ContactKind::Virtual, "18877771111", Some("123")),
                "{flag:?}"
            );
            assert_eq!(
                c.expires_at().map(|t| t.to_rfc3339()).as_deref(),
                Some("2026-06-01T04:00:00+00:00")
            );
        }
        // Flagged as 1, the extension is required as with `true`.
        let mut flagged = receiver(Some(json!(1)));
        flagged[DECRYPT_RESPONSE]["receiver_list"]["receiver"][0]["mobile"] = "13812345678".into();
        assert!(matches!(
            parse_decrypt_response(&flagged, &r),
            Err(PlatformError::Malformed(_))
        ));
        // `matched` as 1 is a match; as 0 it is not.
        let mut matched = receiver(Some(json!(false)));
        matched[DECRYPT_RESPONSE]["receiver_list"]["receiver"][0]["matched"] = 1.into();
        assert!(parse_decrypt_response(&matched, &r).is_ok());
        matched[DECRYPT_RESPONSE]["receiver_list"]["receiver"][0]["matched"] = "0".into();
        assert!(matches!(
            parse_decrypt_response(&matched, &r),
            Err(PlatformError::DecryptFailed { .. })
        ));
    }

    /// `secret_no_expire_time` is not in the README (§1.3 names `secret_no_days` in the request
    /// only): a value not written `yyyy-MM-dd HH:mm:ss` failed the whole reveal, though the
    /// number was decrypted. Epoch seconds or milliseconds and RFC 3339 are read too; anything
    /// else leaves the expiry unknown (the number then gets the assumed one), never a failure.
    #[test]
    fn an_expiry_in_another_format_never_fails_the_reveal() {
        let r = request(RevealPurpose::AfterSales);
        let expiry = |at: Value| {
            let receiver = json!({"tid": "3512345678901234567", "oaid": "1GlF4ZrNWcCPjPzE",
                "mobile": "18877771111-123", "matched": true, "privacy_protection": true,
                "secret_no_expire_time": at});
            parse_decrypt_response(&answer(receiver), &r)
                .map(|c| c.expires_at().map(|t| t.to_rfc3339()))
        };
        let at = Ok(Some("2026-06-01T04:00:00+00:00".to_owned()));
        assert_eq!(expiry(json!("2026-06-01 12:00:00")), at);
        assert_eq!(expiry(json!(1_780_286_400)), at);
        assert_eq!(expiry(json!("1780286400000")), at);
        assert_eq!(expiry(json!("2026-06-01T12:00:00+08:00")), at);
        assert_eq!(expiry(json!("2026/06/01 12:00")), Ok(None));
        assert_eq!(expiry(json!("15天")), Ok(None));
    }
}
