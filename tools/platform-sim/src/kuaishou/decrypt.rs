//! `open.order.decrypt.batch` (批量解密订单), mirrored by `leadgen_platforms::kuaishou::decrypt`.
//!
//! Documented: `batchDecryptList` (≤ 100) of `{bizId, encryptedData}` [README §5; a Python
//! client's `DecryptBaseMetaInfo`]; "仅用于解密实物发货订单的密文数据" (only for shipping physical
//! orders) and "解密额度在商家维度，商家在小店PC端、APP端和API上共享解密额度" (the quota is the
//! merchant's, shared by PC, app and API) [ks-shop-python-sdk `OpenOrderDecryptBatchRequest`].
//!
//! Simulator design [unverified, as the rest of this platform]:
//! - Answer `{"result":1,"msg":"success","data":{"decryptResult":[{bizId, encryptedData,
//!   decryptedData, errorCode, errorMsg}]}}`; a privacy number is `decryptedData`
//!   `main-extension` with `expireTime` (ms, [`VIRTUAL_NUMBER_DAYS`] days on).
//! - Per-item `errorCode`: 1001 the ciphertext is not this order's, 1002 the order is not the
//!   shop's, 1003 a ciphertext the shop never issued.
//! - Before the items: `--decrypt-denied` → result 28; the daily quota ([`crate::reveal`]) spent
//!   → result 2002.

use serde_json::{Value, json};

use super::errors::{KsError, success};
use super::gateway::Call;
use super::orders::{KsOrder, ShopOrders};
use super::{PLATFORM, orders_for};
use crate::douyin::buyers::Field;
use crate::reveal::{ContactTruth, VIRTUAL_NUMBER_DAYS, virtual_expiry};
use crate::shop::ShopKey;
use crate::state::SimState;

pub const METHOD: &str = "open.order.decrypt.batch";
pub const MAX_ITEMS: usize = 100;

fn carries(order: &KsOrder, cipher: &str) -> bool {
    let address = &order.json["orderAddress"];
    ["encryptedMobile", "encryptedConsignee", "encryptedAddress"]
        .iter()
        .any(|k| address.get(*k).and_then(Value::as_str) == Some(cipher))
}

fn item(orders: &ShopOrders, biz_id: &str, cipher: &str, call: &Call<'_>) -> Value {
    let failed = |code: u32, msg: &str| {
        json!({ "bizId": biz_id, "encryptedData": cipher, "decryptedData": "",
                "errorCode": code, "errorMsg": msg })
    };
    let Some(order) = orders.orders.iter().find(|o| o.oid.to_string() == biz_id) else {
        return failed(1002, "订单不存在或不属于当前商家");
    };
    let Some(sealed) = orders.ciphers.get(cipher) else {
        return failed(1003, "密文无法解密");
    };
    if sealed.buyer != order.buyer || !carries(order, cipher) {
        return failed(1001, "密文不属于该订单");
    }
    let Some(receiver) = orders.receivers.get(sealed.buyer) else {
        return failed(1003, "密文无法解密");
    };
    let mut out =
        json!({ "bizId": biz_id, "encryptedData": cipher, "errorCode": 0, "errorMsg": "" });
    let text = match (sealed.field, &receiver.privacy) {
        (Field::Phone, Some((main, ext))) => {
            let expires = virtual_expiry(call.now, VIRTUAL_NUMBER_DAYS);
            out["expireTime"] = json!(expires.timestamp_millis());
            format!("{main}-{ext}")
        }
        (Field::Phone, None) => receiver.mobile.clone(),
        (Field::Name, _) => receiver.name.clone(),
        (Field::Address, _) => receiver.address.clone(),
    };
    out["decryptedData"] = json!(text);
    out
}

/// `open.order.decrypt.batch` for the shop `shop` (the access token's; the quota is its app's).
pub fn decrypt_batch(state: &SimState, call: &Call<'_>, shop: &ShopKey) -> Result<Value, KsError> {
    let list = call
        .params
        .get("batchDecryptList")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| KsError::business("batchDecryptList", "不能为空"))?;
    if list.len() > MAX_ITEMS {
        return Err(KsError::business("batchDecryptList", "最多100条"));
    }
    let pairs = list
        .iter()
        .map(|i| {
            let biz_id = match i.get("bizId") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(KsError::business("bizId", "不能为空")),
            };
            let cipher = i
                .get("encryptedData")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| KsError::business("encryptedData", "不能为空"))?;
            Ok((biz_id, cipher.to_owned()))
        })
        .collect::<Result<Vec<_>, KsError>>()?;
    let settings = &state.config.decrypt;
    if settings.denied {
        return Err(KsError::no_permission(METHOD));
    }
    state
        .decrypts
        .take(
            PLATFORM,
            call.app_key,
            pairs.len() as u64,
            settings.daily_quota,
            call.now,
        )
        .map_err(|_| KsError::decrypt_quota())?;
    let orders = orders_for(state, shop);
    let results: Vec<Value> = pairs
        .iter()
        .map(|(biz_id, cipher)| item(&orders, biz_id, cipher, call))
        .collect();
    let opened = results.iter().filter(|r| r["errorCode"] == 0).count() as u64;
    state.stats.with(PLATFORM, |s| s.decrypted_items += opened);
    Ok(success(json!({ "decryptResult": results })))
}

/// What order `oid`'s receiver phone really is (for an order whose phone came encrypted; a
/// privacy number sent in clear in `mobile` is what it is).
pub fn truth(orders: &ShopOrders, oid: &str) -> Option<ContactTruth> {
    let order = orders.orders.iter().find(|o| o.oid.to_string() == oid)?;
    let r = orders.receivers.get(order.buyer)?;
    // A privacy number sent in clear (`17012345678-1234`) is what this order's caller dials.
    let in_clear = order.json["orderAddress"]["mobile"]
        .as_str()
        .and_then(|m| m.split_once('-'))
        .map(|(number, extension)| (number.to_owned(), extension.to_owned()));
    Some(ContactTruth {
        mobile: Some(r.mobile.clone()),
        privacy_number: in_clear.or_else(|| r.privacy.clone()),
    })
}
