//! Revealing a receiver's phone with `open.order.decrypt.batch` (批量解密订单).
//!
//! - Request: `GET {api_url}/open/order/decrypt/batch` with the signed parameters in the query,
//!   as README §5 documents every Kuaishou call and as the listing is sent (one SDK posts them
//!   as a form instead [src: whalesky-labs/kwaishop-php-sdk `OpenOrderDecryptBatch`]; a gateway
//!   that reads the documented query reads them either way), `param` = `{"batchDecryptList":
//!   [{bizId, encryptedData}]}` (≤ 100 [README §5]); `bizId` is the order id as a string [src: a
//!   Python client's `DecryptBaseMetaInfo`]. We send one item: the order's `encryptedMobile`.
//! - Purposes: fulfilment only [doc: the API text reads "仅用于解密实物发货订单的密文数据为明文"
//!   — only for decrypting the ciphertexts of physical orders to ship them (ks-shop-python-sdk
//!   `OpenOrderDecryptBatchRequest`)]. After-sales and customer care are refused
//!   ([`crate::reveal`]).
//! - Answer [unverified, this crate's design mirrored by the simulator]: `{"result":1,"data":
//!   {"decryptResult":[{bizId, encryptedData, decryptedData, errorCode (0 = ok), errorMsg}]}}`;
//!   a privacy number comes as `decryptedData` `main-extension` with `expireTime` (ms, or seconds: read by size). An item
//!   with `errorCode ≠ 0` is `DecryptFailed` with that code; only a present `errorCode` 0 is
//!   success (an item without it is `Malformed`, its text never handed on as a number).
//! - Errors: every `result` ≠ 1 as on any Kuaishou call ([`super::parse_api_error`]): Kuaishou
//!   documents no code, so none is classified (the simulator's 17 rate limited, 24/25 token
//!   expired or invalid, 28 no permission for the API and 2002 decrypt quota used up included)
//!   and each is `Unknown` with its `result` and text (bounded backoff, one refresh, then
//!   reported); nothing here is `DecryptNotPermitted` or `QuotaExhausted` on a guess.
//! - Quota [doc: same API text]: "解密额度在商家维度，商家在小店PC端、APP端和API上共享解密额度" — the
//!   quota is the merchant's, shared by the shop's PC and app clients and every API caller; its
//!   size is not in our sources.

use serde_json::{Value, json};

use super::parse::parse_api_error;
use crate::client::{PlatformError, platform_text};
use crate::json::{echoed_item, instant, int, text};
use crate::reveal::{DecryptRequest, RevealPurpose, RevealedContact, contact_from_text};

pub const DECRYPT_BATCH: &str = "open.order.decrypt.batch";

/// The purposes Kuaishou permits: fulfilment only.
pub const PURPOSES: &[RevealPurpose] = &[RevealPurpose::Fulfilment];

/// `param` of one reveal.
pub fn decrypt_param(request: &DecryptRequest) -> Value {
    json!({
        "batchDecryptList": [{ "bizId": request.order_id, "encryptedData": request.ciphertext }],
    })
}

/// The envelope of a decrypt call: as on every Kuaishou call. Kuaishou documents no
/// decrypt-specific code (README §5), so none is read apart.
pub fn parse_decrypt_error(json: &Value) -> Option<PlatformError> {
    parse_api_error(json)
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
    // README §5 gives no answer shape: an answer without the list is one we cannot read (the
    // field may be named otherwise), never "this contact cannot be decrypted".
    if data.get("decryptResult").is_none_or(Value::is_null) {
        return Err(PlatformError::Malformed(
            "响应缺少 decryptResult 列表".into(),
        ));
    }
    let items = crate::json::list_at(data, "decryptResult").map_err(PlatformError::Malformed)?;
    let item = echoed_item(
        items,
        ("bizId", &request.order_id),
        ("encryptedData", &request.ciphertext),
    )
    .ok_or_else(|| PlatformError::DecryptFailed {
        code: String::new(),
        message: format!("decryptResult 中没有订单 {} 的条目", request.order_id),
    })?;
    // Only a stated 0 is success: an item that does not say whether it decrypted may carry
    // anything in `decryptedData`, and a salesperson would dial it.
    let code = int(item.get("errorCode"))
        .ok_or_else(|| PlatformError::Malformed("decryptResult 中的条目缺少 errorCode".into()))?;
    if code != 0 {
        return Err(PlatformError::DecryptFailed {
            code: code.to_string(),
            message: platform_text(&[&text(item.get("errorMsg")).unwrap_or_default()]),
        });
    }
    let decrypted = text(item.get("decryptedData")).unwrap_or_default();
    if decrypted.trim().is_empty() {
        return Err(PlatformError::DecryptFailed {
            code: code.to_string(),
            message: "decryptedData 为空".into(),
        });
    }
    // Our own guess at the field is milliseconds; it is read as every undocumented epoch time
    // is ([`instant`]: seconds or milliseconds by size), so seconds are not January 1970 and
    // every privacy number refused as expired. 0 or unreadable is no expiry.
    let expires_at = instant(item.get("expireTime"));
    Ok(contact_from_text(decrypted.trim(), expires_at))
}

#[cfg(test)]
mod tests {
    use leadgen_domain::ContactKind;

    use super::*;

    fn request() -> DecryptRequest {
        DecryptRequest {
            order_id: "2345678901234567".into(),
            ciphertext: "QUJD==".into(),
            purpose: RevealPurpose::Fulfilment,
        }
    }

    fn answer(item: Value) -> Value {
        json!({"result": 1, "msg": "success", "data": {"decryptResult": [item]}})
    }

    #[test]
    fn reads_mobiles_privacy_numbers_and_item_errors() {
        assert_eq!(
            decrypt_param(&request()),
            json!({"batchDecryptList": [{"bizId": "2345678901234567", "encryptedData": "QUJD=="}]})
        );
        let plain = answer(
            json!({"bizId": "2345678901234567", "encryptedData": "QUJD==",
            "decryptedData": "13812345678", "errorCode": 0, "errorMsg": ""}),
        );
        let c = parse_decrypt_response(&plain, &request()).unwrap();
        assert_eq!(
            (c.kind(), c.expose_number()),
            (ContactKind::Plain, "13812345678")
        );
        let virt = answer(
            json!({"bizId": "2345678901234567", "encryptedData": "QUJD==",
            "decryptedData": "17012345678-0042", "errorCode": 0, "expireTime": 1767225600000i64}),
        );
        let c = parse_decrypt_response(&virt, &request()).unwrap();
        assert_eq!(c.expose_extension(), Some("0042"));
        assert_eq!(c.expires_at().unwrap().timestamp(), 1_767_225_600);
        let in_seconds = answer(
            json!({"bizId": "2345678901234567", "encryptedData": "QUJD==",
            "decryptedData": "17012345678-0042", "errorCode": 0, "expireTime": 1_767_225_600}),
        );
        let c = parse_decrypt_response(&in_seconds, &request()).unwrap();
        assert_eq!(
            c.expires_at().unwrap().timestamp(),
            1_767_225_600,
            "seconds"
        );
        let failed = answer(
            json!({"bizId": "2345678901234567", "encryptedData": "QUJD==",
            "decryptedData": "", "errorCode": 1001, "errorMsg": "密文不属于该订单"}),
        );
        assert!(matches!(
            parse_decrypt_response(&failed, &request()),
            Err(PlatformError::DecryptFailed { ref code, .. }) if code == "1001"
        ));
    }

    /// Only a stated `errorCode` 0 is success: without it the item's text was handed on as the
    /// buyer's number.
    #[test]
    fn an_item_without_its_error_code_is_never_a_number() {
        let item = json!({"bizId": "2345678901234567", "encryptedData": "QUJD==",
            "decryptedData": "13812345678", "errorMsg": ""});
        for code in [Value::Null, json!("ok"), json!(0.5)] {
            let mut it = item.clone();
            if !code.is_null() {
                it["errorCode"] = code.clone();
            }
            assert!(
                matches!(
                    parse_decrypt_response(&answer(it), &request()),
                    Err(PlatformError::Malformed(ref m)) if m.contains("errorCode")
                ),
                "{code}"
            );
        }
        let mut ok = item;
        ok["errorCode"] = json!(0);
        assert!(parse_decrypt_response(&answer(ok), &request()).is_ok());
    }

    /// An answer without the result list is one we cannot read, not a contact that cannot be
    /// decrypted: README §5 documents no answer shape, and the list may be named otherwise.
    #[test]
    fn an_answer_without_its_result_list_is_unreadable() {
        for data in [
            json!({}),
            json!({"decryptResult": null}),
            json!({"results": []}),
        ] {
            let answer = json!({"result": 1, "msg": "success", "data": data});
            assert!(
                matches!(
                    parse_decrypt_response(&answer, &request()),
                    Err(PlatformError::Malformed(ref m)) if m.contains("decryptResult")
                ),
                "{data}"
            );
        }
        // A list without this order's item is an answer about other orders: not decryptable.
        let other = json!({"result": 1, "data": {"decryptResult": []}});
        assert!(matches!(
            parse_decrypt_response(&other, &request()),
            Err(PlatformError::DecryptFailed { .. })
        ));
    }

    #[test]
    fn maps_decrypt_errors() {
        let err = |result: i64| {
            parse_decrypt_error(&json!({"result": result, "msg": "m", "error_msg": "e"})).unwrap()
        };
        // Kuaishou documents no code (README §0 `?`, §5 only `result=1`): the simulator's 28
        // (no permission) and 2002 (quota) are unknown like every other (retried, refreshed
        // once), with Kuaishou's code and text.
        for code in [28, 2002] {
            assert_eq!(
                err(code),
                PlatformError::Unknown {
                    code: code.to_string(),
                    message: "m e".into()
                },
                "{code}"
            );
        }
        assert!(matches!(err(17), PlatformError::Unknown { ref code, .. } if code == "17"));
        assert!(matches!(err(24), PlatformError::Unknown { ref code, .. } if code == "24"));
        assert!(parse_decrypt_error(&answer(json!({}))).is_none());
    }
}
