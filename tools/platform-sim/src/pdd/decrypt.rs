//! `pdd.open.decrypt.batch`: `data_list` (≤ 100, JSON text) of `{data_tag: order_sn,
//! encrypted_data}` → `open_decrypt_batch_response.data_decrypt_list[]` of `{data_tag, data_type,
//! encrypted_data, decrypted_data, error_code (0 = ok), error_msg, virtual_number_type,
//! virtual_identify_number}` [src: lywzx/pdd-node-sdk `PddOpenDecryptBatch.ts`]. Mirrored by
//! `leadgen_platforms::pdd::decrypt`.
//!
//! Privacy-number buyers decrypt to `$<main>$#<ext>#` with `virtual_number_type` 1 and the
//! extension in `virtual_identify_number`; PDD sends no expiry. Simulator choices:
//! - Per-item failures: `error_code` 100 for a ciphertext this shop never issued, 101 for a
//!   `data_tag` that is not one of its orders, 102 for a ciphertext of another order.
//! - Before the items: `--decrypt-denied` → 10003; the daily quota ([`crate::reveal`]) spent →
//!   70032. Every item asked for counts towards the quota.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use leadgen_platforms::sign::Params;

use super::PLATFORM;
use super::errors::{PddError, request_id};
use super::orders::ShopOrders;
use super::privacy::RECEIVER_PHONE;
use crate::reveal::ContactTruth;
use crate::state::SimState;

pub const TYPE: &str = "pdd.open.decrypt.batch";
pub const MAX_ITEMS: usize = 100;

/// The receiver fields of an order that hold ciphertext.
const CIPHER_FIELDS: &[&str] = &[
    "receiver_name",
    "receiver_phone",
    "receiver_address",
    "address",
];

/// `$<main>$#<ext>#` → (main, ext).
fn privacy_parts(plaintext: &str) -> Option<(&str, &str)> {
    let rest = plaintext.strip_prefix('$')?;
    let (main, ext) = rest.split_once("$#")?;
    Some((main, ext.strip_suffix('#')?))
}

fn item(orders: &ShopOrders, entry: &Value) -> Value {
    let tag = entry.get("data_tag").and_then(Value::as_str).unwrap_or("");
    let encrypted = entry
        .get("encrypted_data")
        .and_then(Value::as_str)
        .unwrap_or("");
    let failed = |code: u32, msg: &str| {
        json!({ "data_tag": tag, "encrypted_data": encrypted, "decrypted_data": "",
                "error_code": code, "error_msg": msg })
    };
    let order = orders
        .order_sns
        .contains(tag)
        .then(|| orders.orders.iter().find(|o| o.order_sn == tag))
        .flatten();
    let Some(order) = order else {
        return failed(101, "data_tag 不属于当前店铺的订单");
    };
    let Some(secret) = orders.secrets.get(encrypted) else {
        return failed(100, "数据解密失败");
    };
    let of_this_order = CIPHER_FIELDS
        .iter()
        .any(|f| order.json.get(*f).and_then(Value::as_str) == Some(encrypted));
    if !of_this_order {
        return failed(102, "密文与 data_tag 不匹配");
    }
    let (virtual_type, extension) = match privacy_parts(&secret.plaintext) {
        Some((_, ext)) if secret.data_type == RECEIVER_PHONE => (1, ext),
        _ => (0, ""),
    };
    json!({
        "data_tag": tag,
        "data_type": secret.data_type,
        "encrypted_data": encrypted,
        "decrypted_data": secret.plaintext,
        "error_code": 0,
        "error_msg": "",
        "virtual_number_type": virtual_type,
        "virtual_identify_number": extension,
    })
}

/// Decrypts `data_list` for `client_id`'s shop.
pub fn answer(
    state: &SimState,
    client_id: &str,
    orders: &ShopOrders,
    params: &Params,
    now: DateTime<Utc>,
) -> Result<Value, PddError> {
    let text = params
        .get("data_list")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| PddError::business("data_list 不能为空"))?;
    let list = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(list)) if !list.is_empty() => list,
        _ => return Err(PddError::business("data_list 必须为非空 JSON 数组")),
    };
    if list.len() > MAX_ITEMS {
        return Err(PddError::business("data_list 最多 100 条"));
    }
    let settings = &state.config.decrypt;
    if settings.denied {
        return Err(PddError::no_permission(TYPE));
    }
    state
        .decrypts
        .take(
            PLATFORM,
            client_id,
            list.len() as u64,
            settings.daily_quota,
            now,
        )
        .map_err(|_| PddError::decrypt_quota_spent())?;
    let results: Vec<Value> = list.iter().map(|e| item(orders, e)).collect();
    let opened = results.iter().filter(|r| r["error_code"] == 0).count() as u64;
    state.stats.with(PLATFORM, |s| s.decrypted_items += opened);
    Ok(json!({ "open_decrypt_batch_response": {
        "data_decrypt_list": results, "request_id": request_id()
    } }))
}

/// What order `order_sn`'s receiver phone really is.
pub fn truth(orders: &ShopOrders, order_sn: &str) -> Option<ContactTruth> {
    let order = orders.orders.iter().find(|o| o.order_sn == order_sn)?;
    let person = orders.people.get(order.buyer)?;
    Some(ContactTruth {
        mobile: Some(person.mobile.clone()),
        privacy_number: person.privacy.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privacy_plaintexts_split_into_number_and_extension() {
        assert_eq!(
            privacy_parts("$17012345678$#1234#"),
            Some(("17012345678", "1234"))
        );
        assert_eq!(privacy_parts("13812345678"), None);
    }
}
