//! `order.batchDecrypt` (批量解密), mirrored by `leadgen_platforms::douyin::decrypt`.
//!
//! From the Go SDK [src: zsmhub/doudian-sdk `api/order_batchDecrypt`]: `cipher_infos` (≤ 50) of
//! `{auth_id (the order id), cipher_text}`, optional `account_id` / `account_type`; the answer
//! `data.decrypt_infos[]` of `{auth_id, cipher_text, decrypt_text, err_no, err_msg, data_type (1
//! 地址, 2 姓名, 3 手机号), is_virtual_tel, phone_no_a, phone_no_b, expire_time}` and
//! `data.custom_err {err_code, err_msg}`; a privacy number is `decrypt_text`
//! `"18400913965-7576"` = `phone_no_a` + `-` + `phone_no_b`, forwarding until `expire_time`.
//!
//! Simulator choices [unverified]:
//! - Per-item `err_no`: 300001 the ciphertext is not this order's, 300002 the order is not the
//!   shop's, 300003 a ciphertext the shop never issued. `custom_err` is always `{0, ""}`.
//! - Before the items: `--decrypt-denied` → 30001 `isv.app-permissions-insufficient`; the daily
//!   quota ([`crate::reveal`]) spent → 50002 `isv.business-failed:decrypt-quota-exceeded`.
//! - `account_type`, when sent, must be `main_account` or `sub_account` (40003 otherwise).
//! - `expire_time`: unix seconds, [`VIRTUAL_NUMBER_DAYS`] days after the decrypt.

use serde_json::{Value, json};

use super::buyers::Field;
use super::errors::{DyError, success};
use super::gateway::{ApiAnswer, Call};
use super::orders::{DyOrder, ShopOrders};
use super::{PLATFORM, orders_for};
use crate::reveal::{ContactTruth, VIRTUAL_NUMBER_DAYS, virtual_expiry};
use crate::shop::ShopKey;
use crate::state::SimState;

pub const METHOD: &str = "order.batchDecrypt";
pub const MAX_ITEMS: usize = 50;

fn data_type(field: Field) -> u8 {
    match field {
        Field::Address => 1,
        Field::Name => 2,
        Field::Phone => 3,
    }
}

/// Whether `cipher` is one of `order`'s receiver ciphertexts.
fn carries(order: &DyOrder, cipher: &str) -> bool {
    let at = |v: Option<&Value>| v.and_then(Value::as_str) == Some(cipher);
    at(order.json.get("encrypt_post_tel"))
        || at(order.json.get("encrypt_post_receiver"))
        || at(order
            .json
            .get("post_addr")
            .and_then(|a| a.get("encrypt_detail")))
}

fn item(orders: &ShopOrders, auth_id: &str, cipher: &str, call: &Call<'_>) -> Value {
    let failed = |err_no: u32, msg: &str| {
        json!({ "auth_id": auth_id, "cipher_text": cipher, "decrypt_text": "", "err_no": err_no,
                "err_msg": msg, "data_type": 0, "is_virtual_tel": false, "phone_no_a": "",
                "phone_no_b": "", "expire_time": 0 })
    };
    let Some(order) = orders
        .orders
        .iter()
        .find(|o| o.order_id.to_string() == auth_id)
    else {
        return failed(300002, "订单不存在或不属于当前店铺");
    };
    let Some(sealed) = orders.ciphers.get(cipher) else {
        return failed(300003, "密文不存在或无法解密");
    };
    if sealed.buyer != order.buyer || !carries(order, cipher) {
        return failed(300001, "密文与订单不匹配");
    }
    let Some(receiver) = orders.receivers.get(sealed.buyer) else {
        return failed(300003, "密文不存在或无法解密");
    };
    let (text, virtual_tel) = match (sealed.field, &receiver.privacy) {
        (Field::Phone, Some((a, b))) => (format!("{a}-{b}"), Some((a, b))),
        (Field::Phone, None) => (receiver.mobile.clone(), None),
        (Field::Name, _) => (receiver.name.clone(), None),
        (Field::Address, _) => (receiver.address.clone(), None),
    };
    let expire = virtual_tel.map_or(0, |_| {
        virtual_expiry(call.now, VIRTUAL_NUMBER_DAYS).timestamp()
    });
    json!({
        "auth_id": auth_id,
        "cipher_text": cipher,
        "decrypt_text": text,
        "err_no": 0,
        "err_msg": "",
        "data_type": data_type(sealed.field),
        "is_virtual_tel": virtual_tel.is_some(),
        "phone_no_a": virtual_tel.map_or("", |(a, _)| a.as_str()),
        "phone_no_b": virtual_tel.map_or("", |(_, b)| b.as_str()),
        "expire_time": expire,
    })
}

/// `order.batchDecrypt` for the shop `shop` (the access token's; the quota is its app's).
pub fn batch_decrypt(
    state: &SimState,
    call: &Call<'_>,
    shop: &ShopKey,
) -> Result<ApiAnswer, DyError> {
    let infos = call
        .params
        .get("cipher_infos")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| DyError::bad_param("cipher_infos", "不能为空"))?;
    if infos.len() > MAX_ITEMS {
        return Err(DyError::bad_param("cipher_infos", "最多50条"));
    }
    let pairs = infos
        .iter()
        .map(|i| {
            let text = |k: &str| match i.get(k) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let auth_id =
                text("auth_id").ok_or_else(|| DyError::bad_param("auth_id", "不能为空"))?;
            let cipher =
                text("cipher_text").ok_or_else(|| DyError::bad_param("cipher_text", "不能为空"))?;
            Ok((auth_id, cipher))
        })
        .collect::<Result<Vec<_>, DyError>>()?;
    if let Some(t) = call.params.get("account_type").and_then(Value::as_str)
        && !t.is_empty()
        && t != "main_account"
        && t != "sub_account"
    {
        return Err(DyError::bad_param(
            "account_type",
            "只能为main_account或sub_account",
        ));
    }
    let settings = &state.config.decrypt;
    if settings.denied {
        return Err(DyError::permissions_insufficient(METHOD));
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
        .map_err(|_| DyError::decrypt_quota_spent())?;
    let orders = orders_for(state, shop);
    let infos: Vec<Value> = pairs
        .iter()
        .map(|(auth_id, cipher)| item(&orders, auth_id, cipher, call))
        .collect();
    let opened = infos.iter().filter(|i| i["err_no"] == 0).count() as u64;
    state.stats.with(PLATFORM, |s| s.decrypted_items += opened);
    let mut body = success(json!({
        "decrypt_infos": infos,
        "custom_err": { "err_code": 0, "err_msg": "" },
    }));
    // An item that failed makes the answer 10001 "partial failure" (README §4.4), its items
    // carrying their own `err_no` and `err_msg`.
    if opened < pairs.len() as u64 {
        body["code"] = json!(10001);
        body["msg"] = json!("部分失败");
    }
    Ok(ApiAnswer {
        body,
        is_order_list: false,
    })
}

/// What order `order_id`'s receiver phone really is (for an order whose phone came encrypted;
/// a privacy number sent in clear in `post_tel` is what it is).
pub fn truth(orders: &ShopOrders, order_id: &str) -> Option<ContactTruth> {
    let order = orders
        .orders
        .iter()
        .find(|o| o.order_id.to_string() == order_id)?;
    let r = orders.receivers.get(order.buyer)?;
    Some(ContactTruth {
        mobile: Some(r.mobile.clone()),
        privacy_number: r.privacy.clone(),
    })
}
