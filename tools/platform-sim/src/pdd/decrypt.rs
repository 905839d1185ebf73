//! `pdd.open.decrypt.batch`: `data_list` (≤ 100, JSON text) of `{data_tag: order_sn,
//! encrypted_data}` → `open_decrypt_batch_response.data_decrypt_list[]` of `{data_tag, data_type,
//! encrypted_data, decrypted_data, error_code (0 = ok), error_msg}`.
//!
//! Privacy-number buyers decrypt to `$<main>$#<ext>#`. Per-item failures [simulator choices]:
//! `error_code` 100 for a ciphertext this shop never issued, 101 for a `data_tag` that is not one
//! of its orders.

use serde_json::{Value, json};

use leadgen_platforms::sign::Params;

use super::errors::{PddError, request_id};
use super::orders::ShopOrders;

pub const MAX_ITEMS: usize = 100;

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
    if !orders.order_sns.contains(tag) {
        return failed(101, "data_tag 不属于当前店铺的订单");
    }
    match orders.secrets.get(encrypted) {
        Some(secret) => json!({
            "data_tag": tag,
            "data_type": secret.data_type,
            "encrypted_data": encrypted,
            "decrypted_data": secret.plaintext,
            "error_code": 0,
            "error_msg": "",
        }),
        None => failed(100, "数据解密失败"),
    }
}

/// Decrypts `data_list` for the shop behind the access token.
pub fn answer(orders: &ShopOrders, params: &Params) -> Result<Value, PddError> {
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
    let results: Vec<Value> = list.iter().map(|e| item(orders, e)).collect();
    Ok(json!({ "open_decrypt_batch_response": {
        "data_decrypt_list": results, "request_id": request_id()
    } }))
}
