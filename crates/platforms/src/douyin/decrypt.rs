//! Revealing a receiver's phone with `order.batchDecrypt` (批量解密).
//!
//! - Request [src: zsmhub/doudian-sdk `api/order_batchDecrypt/request`]: `POST
//!   {api_url}/order/batchDecrypt`, `param_json` = `{cipher_infos: [{auth_id, cipher_text}] (≤ 50),
//!   account_id, account_type}`; `auth_id` is the order id. We send one item, the order's
//!   `encrypt_post_tel` as listed. `account_id`/`account_type` are optional and their values
//!   undocumented, so they are not sent.
//! - A failed item makes the answer 10001 "partial failure" (README §4.4), read item by item like
//!   a success (its `err_no`/`err_msg` → `DecryptFailed`).
//! - Purposes: fulfilment only [choice]. Douyin names no scenes; what the API documents is
//!   opening the order's receiver ciphertexts (`data_type` 1 地址, 2 姓名, 3 手机号), which serve
//!   delivery. After-sales and customer care are refused ([`crate::reveal`]).
//! - Answer [src: `api/order_batchDecrypt/response`]: `data.decrypt_infos[]` of `{auth_id,
//!   cipher_text, decrypt_text, err_no, err_msg, data_type, is_virtual_tel, phone_no_a,
//!   phone_no_b, expire_time}` and `data.custom_err {err_code, err_msg}`. With
//!   `is_virtual_tel=true` the phone is the privacy number `phone_no_a` extension `phone_no_b`
//!   (`decrypt_text` `"18400913965-7576"`) until `expire_time` (epoch seconds, or milliseconds:
//!   the README gives no unit, [`crate::json::instant`]); the flag is read as
//!   a bool, `"true"`/`"false"` or 1/0, and without it a `main-extension` `decrypt_text` is still
//!   a privacy number (`contact_from_text`), never a plain one. An item with
//!   `err_no ≠ 0`, or a `custom_err` with `err_code ≠ 0`, is `DecryptFailed` with that code;
//!   only a present `err_no` 0 is success: an item without it is `Malformed`, its text never
//!   handed on as a number. The README names `custom_err` without its fields, so one without
//!   `err_code` (`{}`) fails nothing: the items decide. The item is the one echoing the order
//!   id and the ciphertext, or the order id alone when no ciphertext is echoed
//!   ([`crate::json::echoed_item`]).
//! - Errors: the envelope as for every Douyin call (60000 throttled, 40003 access-token
//!   `sub_code`s → session expired, [`super::parse_error`]), and for this API 30001
//!   (`isv.app-permissions-insufficient`, README §4.4) → `DecryptNotPermitted`; 50002 (business
//!   failure, README §4.4) whose `sub_code` names the decrypt quota
//!   (`isv.business-failed:decrypt-quota-exceeded` [simulator choice]) → `QuotaExhausted`.
//! - Quota: 50 ciphertexts per call [src]; throttling answers 60000; the daily decrypt quota per
//!   shop is not in our sources.

use serde_json::{Value, json};

use super::parse::parse_error;
use crate::client::{PlatformError, platform_text};
use crate::json::{echoed_item, flag, instant, int, str_at};
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact, contact_from_text};

pub const BATCH_DECRYPT: &str = "order.batchDecrypt";

/// The purposes Douyin permits here: fulfilment only.
pub const PURPOSES: &[RevealPurpose] = &[RevealPurpose::Fulfilment];

/// The `sub_code` of a spent decrypt quota [simulator choice].
pub const QUOTA_SUB_CODE: &str = "isv.business-failed:decrypt-quota-exceeded";

/// `param_json` of one reveal.
pub fn decrypt_params(request: &DecryptRequest) -> Value {
    // `account_id`/`account_type` are optional and their values are not documented; our own
    // user ids are not Douyin sub-account ids, so they are left out (the safe default).
    json!({
        "cipher_infos": [{ "auth_id": request.order_id, "cipher_text": request.ciphertext }],
    })
}

/// The envelope of a decrypt call, with the decrypt-specific classes read first.
pub fn parse_decrypt_error(json: &Value) -> Option<PlatformError> {
    let code = int(json.get("code"));
    let sub_code = str_at(json, "sub_code");
    let platform_code = || match code {
        Some(c) if sub_code.is_empty() => c.to_string(),
        Some(c) => format!("{c}/{sub_code}"),
        None => sub_code.to_owned(),
    };
    let message = || {
        crate::error::kept_words(
            &[str_at(json, "msg"), str_at(json, "sub_msg")]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(": "),
        )
    };
    match code {
        // 10001 "partial failure": the answer carries its items, each with its own `err_no` and
        // `err_msg` (read by `parse_decrypt_response`), like a success.
        Some(10001) if json.get("data").is_some_and(Value::is_object) => None,
        Some(30001) if sub_code == "isv.app-permissions-insufficient" => {
            Some(PlatformError::DecryptNotPermitted {
                code: platform_code(),
                message: message(),
            })
        }
        Some(50002) if sub_code.contains("decrypt-quota") => Some(PlatformError::QuotaExhausted {
            code: platform_code(),
            message: message(),
            retry_after: None,
        }),
        _ => parse_error(json),
    }
}

/// The phone of `request` in a successful answer.
pub fn parse_decrypt_response(
    json: &Value,
    request: &DecryptRequest,
) -> Result<RevealedContact, PlatformError> {
    let data = match json.get("data") {
        Some(d @ Value::Object(_)) => d,
        _ => return Err(PlatformError::Malformed("响应缺少 data 对象".into())),
    };
    // The README names `custom_err` without its fields: a stated code other than 0 fails the
    // reveal; absent, or without a code, the items decide (each must state its own 0).
    if let Some(custom) = data.get("custom_err")
        && let Some(code) = int(custom.get("err_code")).filter(|c| *c != 0)
    {
        return Err(PlatformError::DecryptFailed {
            code: code.to_string(),
            message: platform_text(&[str_at(custom, "err_msg")]),
        });
    }
    let items = crate::json::list_at(data, "decrypt_infos").map_err(PlatformError::Malformed)?;
    let item = echoed_item(
        items,
        ("auth_id", &request.order_id),
        ("cipher_text", &request.ciphertext),
    )
    .ok_or_else(|| PlatformError::DecryptFailed {
        code: String::new(),
        message: format!("decrypt_infos 中没有订单 {} 的条目", request.order_id),
    })?;
    // Only a stated 0 is success: an item that does not say whether it decrypted may carry
    // anything in `decrypt_text`, and a salesperson would dial it.
    let err_no = int(item.get("err_no"))
        .ok_or_else(|| PlatformError::Malformed("decrypt_infos 中的条目缺少 err_no".into()))?;
    if err_no != 0 {
        return Err(PlatformError::DecryptFailed {
            code: err_no.to_string(),
            message: platform_text(&[str_at(item, "err_msg")]),
        });
    }
    // The README gives `expire_time` no unit (§4.3): epoch seconds, or milliseconds, as every
    // epoch time is read ([`instant`]); 0 or unreadable is no expiry.
    let expires_at = instant(item.get("expire_time"));
    if flag(item.get("is_virtual_tel")) == Some(true) {
        let (main, ext) = (str_at(item, "phone_no_a"), str_at(item, "phone_no_b"));
        if !main.is_empty() && !ext.is_empty() {
            return Ok(RevealedContact::virtual_number(main, ext, expires_at));
        }
        let revealed = contact_from_text(str_at(item, "decrypt_text").trim(), expires_at);
        if revealed.expose_extension().is_none() {
            return Err(PlatformError::Malformed(
                "is_virtual_tel 已标记为隐私号，但未返回分机号".into(),
            ));
        }
        return Ok(revealed);
    }
    match str_at(item, "decrypt_text").trim() {
        "" => Err(PlatformError::DecryptFailed {
            code: err_no.to_string(),
            message: "decrypt_text 为空".into(),
        }),
        // Without the flag (absent, or false) a privacy number `18400913965-7576` is still read
        // as one: handed on as a plain number, its extension would be lost.
        phone => Ok(contact_from_text(phone, expires_at)),
    }
}

#[cfg(test)]
mod tests {
    use leadgen_domain::ContactKind;

    use super::*;

    fn request() -> DecryptRequest {
        DecryptRequest {
            order_id: "6921234567890123456".into(),
            ciphertext: "$Kg1E$AbZ1$1$$".into(),
            purpose: RevealPurpose::Fulfilment,
        }
    }

    fn answer(item: Value) -> Value {
        json!({"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "log_id": "l",
            "data": {"decrypt_infos": [item], "custom_err": {"err_code": 0, "err_msg": ""}}})
    }

    #[test]
    fn the_request_names_the_order_and_ciphertext_only() {
        assert_eq!(
            decrypt_params(&request()),
            json!({"cipher_infos": [{"auth_id": "6921234567890123456", "cipher_text": "$Kg1E$AbZ1$1$$"}]})
        );
    }

    #[test]
    fn a_partial_failure_is_read_item_by_item() {
        let item = json!({"auth_id": "6921234567890123456", "cipher_text": "$Kg1E$AbZ1$1$$",
            "decrypt_text": "", "err_no": 300008, "err_msg": "密文已失效", "data_type": 3,
            "is_virtual_tel": false, "phone_no_a": "", "phone_no_b": "", "expire_time": 0});
        let mut partial = answer(item);
        partial["code"] = json!(10001);
        partial["msg"] = json!("部分失败");
        assert_eq!(parse_decrypt_error(&partial), None);
        assert_eq!(
            parse_decrypt_response(&partial, &request()).unwrap_err(),
            PlatformError::DecryptFailed {
                code: "300008".into(),
                message: "密文已失效".into()
            }
        );
        // Without items, 10001 stays an error the session retries (the platform's text kept).
        let bare = json!({"code": 10001, "msg": "部分失败", "sub_code": "", "sub_msg": ""});
        assert!(parse_decrypt_error(&bare).is_some());
    }

    #[test]
    fn reads_mobiles_privacy_numbers_and_item_errors() {
        let plain = answer(
            json!({"auth_id": "6921234567890123456", "cipher_text": "$Kg1E$AbZ1$1$$",
            "decrypt_text": "13812345678", "err_no": 0, "err_msg": "", "data_type": 3,
            "is_virtual_tel": false, "phone_no_a": "", "phone_no_b": "", "expire_time": 0}),
        );
        let c = parse_decrypt_response(&plain, &request()).unwrap();
        assert_eq!(
            (c.kind(), c.expose_number()),
            (ContactKind::Plain, "13812345678")
        );
        let virt = answer(
            json!({"auth_id": "6921234567890123456", "cipher_text": "$Kg1E$AbZ1$1$$",
            "decrypt_text": "18400913965-7576", "err_no": 0, "data_type": 3, "is_virtual_tel": true,
            "phone_no_a": "18400913965", "phone_no_b": "7576", "expire_time": 1767225600}),
        );
        let c = parse_decrypt_response(&virt, &request()).unwrap();
        assert_eq!(
            (c.expose_number(), c.expose_extension()),
            ("18400913965", Some("7576"))
        );
        assert_eq!(c.expires_at().unwrap().timestamp(), 1_767_225_600);
        let failed = answer(
            json!({"auth_id": "6921234567890123456", "cipher_text": "$Kg1E$AbZ1$1$$",
            "decrypt_text": "", "err_no": 300001, "err_msg": "密文与订单不匹配"}),
        );
        assert!(matches!(
            parse_decrypt_response(&failed, &request()),
            Err(PlatformError::DecryptFailed { ref code, .. }) if code == "300001"
        ));
    }

    /// Only a stated `err_no` 0 is success (README §4.3: `err_no, err_msg`): without it the
    /// item's text was handed on as the buyer's number.
    #[test]
    fn an_item_without_its_error_code_is_never_a_number() {
        let item = json!({"auth_id": "6921234567890123456", "cipher_text": "$Kg1E$AbZ1$1$$",
            "decrypt_text": "13812345678", "err_msg": "", "data_type": 3, "is_virtual_tel": false});
        for err_no in [Value::Null, json!("ok"), json!(1.5)] {
            let mut it = item.clone();
            if !err_no.is_null() {
                it["err_no"] = err_no.clone();
            }
            assert!(
                matches!(
                    parse_decrypt_response(&answer(it), &request()),
                    Err(PlatformError::Malformed(ref m)) if m.contains("err_no")
                ),
                "{err_no}"
            );
        }
        let mut with_code = item.clone();
        with_code["err_no"] = json!("0");
        assert!(parse_decrypt_response(&answer(with_code.clone()), &request()).is_ok());
        // A `custom_err` without a code (its fields are not documented) leaves it to the items.
        for custom in [json!({}), json!({"err_msg": ""}), json!({"err_code": "0"})] {
            let mut no_code = answer(with_code.clone());
            no_code["data"]["custom_err"] = custom.clone();
            assert!(
                parse_decrypt_response(&no_code, &request()).is_ok(),
                "{custom}"
            );
        }
        let mut failed = answer(with_code.clone());
        failed["data"]["custom_err"] = json!({"err_code": 7, "err_msg": "出错了"});
        assert!(matches!(
            parse_decrypt_response(&failed, &request()),
            Err(PlatformError::DecryptFailed { ref code, .. }) if code == "7"
        ));
        // Absent altogether, nothing went wrong.
        let mut without = answer(with_code);
        without["data"]
            .as_object_mut()
            .unwrap()
            .remove("custom_err");
        assert!(parse_decrypt_response(&without, &request()).is_ok());
    }

    #[test]
    fn maps_decrypt_errors() {
        let err = |code: i64, sub_code: &str| {
            parse_decrypt_error(&json!({"code": code, "msg": "m", "sub_code": sub_code,
                "sub_msg": "s", "log_id": "l", "data": {}}))
            .unwrap()
        };
        assert!(matches!(
            err(30001, "isv.app-permissions-insufficient"),
            PlatformError::DecryptNotPermitted { .. }
        ));
        assert!(matches!(
            err(50002, QUOTA_SUB_CODE),
            PlatformError::QuotaExhausted { ref code, .. } if code == "50002/isv.business-failed:decrypt-quota-exceeded"
        ));
        assert!(matches!(err(60000, ""), PlatformError::Throttled { .. }));
        assert!(matches!(
            err(40003, "isv.access-token-expired"),
            PlatformError::SessionExpired { ref detail } if detail.starts_with("40003 isv.access-token-expired")
        ));
        assert!(parse_decrypt_error(&answer(json!({}))).is_none());
    }

    /// The README gives `expire_time` without its unit (§4.3): one in milliseconds was read as
    /// seconds, an expiry some 50,000 years ahead, and a privacy number dialled long after it
    /// stopped forwarding. Seconds or milliseconds, as every other epoch time is read.
    #[test]
    fn a_privacy_numbers_expiry_is_read_in_seconds_or_milliseconds() {
        let expiry = |expire_time: Value| {
            let item = json!({"auth_id": "6921234567890123456", "cipher_text": "$Kg1E$AbZ1$1$$",
                "decrypt_text": "18400913965-7576", "err_no": 0, "is_virtual_tel": true,
                "phone_no_a": "18400913965", "phone_no_b": "7576", "expire_time": expire_time});
            parse_decrypt_response(&answer(item), &request())
                .unwrap()
                .expires_at()
                .map(|t| t.timestamp())
        };
        assert_eq!(expiry(json!(1_767_225_600)), Some(1_767_225_600));
        assert_eq!(expiry(json!(1_767_225_600_000_i64)), Some(1_767_225_600));
        assert_eq!(expiry(json!("1767225600000")), Some(1_767_225_600));
        assert_eq!(expiry(json!(0)), None);
    }
}
