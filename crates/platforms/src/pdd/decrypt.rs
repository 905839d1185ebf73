//! Revealing a receiver's phone with `pdd.open.decrypt.batch` (批量数据解密).
//!
//! - Request [src: Cherrs/pdd-rs `pdd_open_decrypt_batch.rs`, lywzx/pdd-node-sdk
//!   `PddOpenDecryptBatch.ts`]: the signed gateway call with `data_list`, JSON text of at most
//!   100 `{data_tag, encrypted_data}`; `data_tag` is the order's `order_sn`. We send one item: the
//!   order's `receiver_phone` ciphertext as listed.
//! - Purposes: fulfilment only [choice]. PDD names no scenes; what the API documents is opening
//!   the order's receiver fields (`data_type` 5 收件人, 6 收件人手机号, 7/8 地址), which serve
//!   delivery. After-sales and customer care are refused ([`crate::reveal`]).
//! - Answer: `open_decrypt_batch_response.data_decrypt_list[]` of `{data_tag, data_type,
//!   encrypted_data, decrypted_data, error_code (0 = ok), error_msg, virtual_number_type (1 =
//!   privacy number), virtual_identify_number (its extension)}` [src: lywzx]. A privacy number
//!   may also come written `$13812345678$#1234#` [src: lywzx `virtual-number.ts`]; both forms are
//!   read; one flagged `virtual_number_type` 1 without an extension is `Malformed`, never a plain
//!   number to dial. PDD sends no expiry. An item with `error_code ≠ 0` is `DecryptFailed` with
//!   that code and message; only a present `error_code` 0 is success (README §3.3: `error_code (0 = ok)`):
//!   an item without it is `Malformed`, its text never handed on as a number.
//! - Errors: the gateway's as for every PDD call (52101/70031 throttled, 52102/52103
//!   unavailable, 10019 expired token, [`super::parse_error_response`]). The README documents
//!   no decrypt code: the simulator's 10003 (no permission for the API) and 70032 (daily decrypt
//!   quota used up) [simulator choice, `tools/platform-sim/src/pdd/errors.rs`] are `Unknown`
//!   like every undocumented code, PDD's code and text kept (bounded retry, one refresh, then
//!   reported): nothing here is `DecryptNotPermitted` or `QuotaExhausted` on a guess.
//! - Quota: rate limits [src: lywzx `PDD_OPEN_DECRYPT_BATCH_LIMITERS`] at the app level (level 4)
//!   1 call per 10 s and 10,050 calls per 10 s, and 19,500 calls per 10 s for the API as a whole
//!   (level 3); throttled answers are 70031 / 52101. No daily number is in our sources.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::parse::parse_error_response;
use crate::client::PlatformError;
use crate::json::{echoed_item, int, response_body, str_at, text};
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact, contact_from_text};

pub const DECRYPT_TYPE: &str = "pdd.open.decrypt.batch";
pub const DECRYPT_RESPONSE: &str = "open_decrypt_batch_response";

/// The purposes PDD permits here: fulfilment only.
pub const PURPOSES: &[RevealPurpose] = &[RevealPurpose::Fulfilment];

/// The business parameters of one reveal: `data_list` with one item.
pub fn decrypt_params(request: &DecryptRequest) -> BTreeMap<String, String> {
    let list = json!([{ "data_tag": request.order_id, "encrypted_data": request.ciphertext }]);
    BTreeMap::from([("data_list".to_owned(), list.to_string())])
}

/// The error envelope of a decrypt call: as on every PDD call. PDD documents no
/// decrypt-specific code (README §3.3, §3.4), so none is read apart.
pub fn parse_decrypt_error(json: &Value) -> Option<PlatformError> {
    parse_error_response(json)
}

/// `$13812345678$#1234#` → (`13812345678`, `1234`).
fn dollar_virtual(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix('$')?;
    let (main, ext) = rest.split_once("$#")?;
    let ext = ext.strip_suffix('#')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(main) && digits(ext)).then_some((main, ext))
}

/// The phone of `request` in a successful answer.
pub fn parse_decrypt_response(
    json: &Value,
    request: &DecryptRequest,
) -> Result<RevealedContact, PlatformError> {
    let body = response_body(json, &[DECRYPT_RESPONSE])
        .ok_or_else(|| PlatformError::Malformed(format!("响应缺少 {DECRYPT_RESPONSE}")))?;
    let items =
        crate::json::list_at(body, "data_decrypt_list").map_err(PlatformError::Malformed)?;
    let item = echoed_item(
        items,
        ("data_tag", &request.order_id),
        ("encrypted_data", &request.ciphertext),
    )
    .ok_or_else(|| PlatformError::DecryptFailed {
        code: String::new(),
        message: format!("data_decrypt_list 中没有订单 {} 的条目", request.order_id),
    })?;
    // Only a stated 0 is success: an item that does not say whether it decrypted may carry
    // anything in `decrypted_data`, and a salesperson would dial it.
    let code = int(item.get("error_code")).ok_or_else(|| {
        PlatformError::Malformed("data_decrypt_list 中的条目缺少 error_code".into())
    })?;
    if code != 0 {
        return Err(PlatformError::DecryptFailed {
            code: code.to_string(),
            message: str_at(item, "error_msg").to_owned(),
        });
    }
    let decrypted = str_at(item, "decrypted_data").trim();
    if let Some((main, ext)) = dollar_virtual(decrypted) {
        return Ok(RevealedContact::virtual_number(main, ext, None));
    }
    let extension = text(item.get("virtual_identify_number")).unwrap_or_default();
    let extension = extension.trim();
    if int(item.get("virtual_number_type")) == Some(1) {
        if !extension.is_empty() {
            return Ok(RevealedContact::virtual_number(decrypted, extension, None));
        }
        // Flagged a privacy number with no extension beside it: one written `main-extension`
        // carries its own; handed on without one, the call would reach nobody.
        let revealed = contact_from_text(decrypted, None);
        if revealed.expose_extension().is_none() {
            return Err(PlatformError::Malformed(
                "virtual_number_type=1 标记为隐私号，但没有分机号（virtual_identify_number）"
                    .into(),
            ));
        }
        return Ok(revealed);
    }
    if decrypted.is_empty() {
        return Err(PlatformError::DecryptFailed {
            code: code.to_string(),
            message: "decrypted_data 为空".into(),
        });
    }
    // Not flagged: a privacy number written `main-extension` is still one, never plain.
    Ok(contact_from_text(decrypted, None))
}

#[cfg(test)]
mod tests {
    use leadgen_domain::ContactKind;

    use super::*;

    fn request() -> DecryptRequest {
        DecryptRequest {
            order_id: "240520-123456789012345".into(),
            ciphertext: "$zHXC$AgAA$0$$".into(),
            purpose: RevealPurpose::Fulfilment,
        }
    }

    fn answer(item: Value) -> Value {
        json!({ DECRYPT_RESPONSE: { "data_decrypt_list": [item], "request_id": "r" } })
    }

    #[test]
    fn the_request_is_one_data_list_item() {
        let p = decrypt_params(&request());
        let v: Value = serde_json::from_str(&p["data_list"]).unwrap();
        assert_eq!(
            v,
            json!([{"data_tag": "240520-123456789012345", "encrypted_data": "$zHXC$AgAA$0$$"}])
        );
    }

    #[test]
    fn reads_mobiles_privacy_numbers_and_item_errors() {
        let base = json!({"data_tag": "240520-123456789012345", "encrypted_data": "$zHXC$AgAA$0$$",
            "data_type": 6, "error_code": 0, "error_msg": ""});
        let with = |extra: Value| {
            let mut item = base.clone();
            for (k, v) in extra.as_object().unwrap() {
                item[k] = v.clone();
            }
            answer(item)
        };
        let c = parse_decrypt_response(&with(json!({"decrypted_data": "13812345678"})), &request())
            .unwrap();
        assert_eq!(
            (c.kind(), c.expose_number()),
            (ContactKind::Plain, "13812345678")
        );
        let c = parse_decrypt_response(
            &with(json!({"decrypted_data": "$17012345678$#1234#"})),
            &request(),
        )
        .unwrap();
        assert_eq!(
            (c.expose_number(), c.expose_extension()),
            ("17012345678", Some("1234"))
        );
        let c = parse_decrypt_response(
            &with(
                json!({"decrypted_data": "17012345678", "virtual_number_type": 1,
                "virtual_identify_number": "5678"}),
            ),
            &request(),
        )
        .unwrap();
        assert_eq!(c.expose_extension(), Some("5678"));
        // Flagged a privacy number: its extension in the text is read, and without one it is
        // never handed on as a plain number to dial.
        let c = parse_decrypt_response(
            &with(json!({"decrypted_data": "17012345678-4321", "virtual_number_type": 1})),
            &request(),
        )
        .unwrap();
        assert_eq!(
            (c.kind(), c.expose_extension()),
            (ContactKind::Virtual, Some("4321"))
        );
        for missing in [json!(""), json!(null), json!("  ")] {
            let answer = with(
                json!({"decrypted_data": "17012345678", "virtual_number_type": 1,
                "virtual_identify_number": missing}),
            );
            assert!(
                matches!(
                    parse_decrypt_response(&answer, &request()),
                    Err(PlatformError::Malformed(ref m)) if m.contains("分机号")
                ),
                "{missing}"
            );
        }
        let failed =
            with(json!({"decrypted_data": "", "error_code": 100, "error_msg": "数据解密失败"}));
        assert_eq!(
            parse_decrypt_response(&failed, &request()),
            Err(PlatformError::DecryptFailed {
                code: "100".into(),
                message: "数据解密失败".into()
            })
        );
    }

    /// Only a stated `error_code` 0 is success (README §3.3): without it the item's text was
    /// handed on as the buyer's number.
    #[test]
    fn an_item_without_its_error_code_is_never_a_number() {
        let item = json!({"data_tag": "240520-123456789012345", "encrypted_data": "$zHXC$AgAA$0$$",
            "data_type": 6, "decrypted_data": "13812345678", "error_msg": ""});
        for code in [Value::Null, json!("ok"), json!(true)] {
            let mut it = item.clone();
            if !code.is_null() {
                it["error_code"] = code.clone();
            }
            assert!(
                matches!(
                    parse_decrypt_response(&answer(it), &request()),
                    Err(PlatformError::Malformed(ref m)) if m.contains("error_code")
                ),
                "{code}"
            );
        }
        let mut ok = item;
        ok["error_code"] = json!("0");
        assert!(parse_decrypt_response(&answer(ok), &request()).is_ok());
    }

    #[test]
    fn maps_decrypt_errors() {
        let err = |code: i64| {
            parse_decrypt_error(
                &json!({"error_response": {"error_code": code, "error_msg": "m",
                "sub_code": "", "sub_msg": "s"}}),
            )
            .unwrap()
        };
        // The README documents no decrypt code (§3.3, §3.4): the simulator's 10003 (no
        // permission) and 70032 (quota) are unknown, PDD's code and text kept.
        for code in [10003, 70032] {
            assert_eq!(
                err(code),
                PlatformError::Unknown {
                    code: code.to_string(),
                    message: "m s".into()
                },
                "{code}"
            );
        }
        assert!(matches!(err(70031), PlatformError::Throttled { .. }));
        assert_eq!(
            err(10019),
            PlatformError::SessionExpired {
                detail: "10019 m s".into()
            }
        );
    }
}
