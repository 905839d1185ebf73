//! `jingdong.jos.order.oaid.decrypt`, mirrored by `leadgen_platforms::jd::decrypt`.
//!
//! From the JD SDKs' classes [src]: `360buy_param_json` = `{"getReceiverInfoListReqVO":
//! {orderType, appName, extendProps, orderInfos: [{orderId, oaid}], expiration, region,
//! scenesType}}`; the answer `jingdong_jos_order_oaid_decrypt_responce.returnType` =
//! `{code, message, requestId, data: [{orderId, oaid, customerName, consMobilePhone,
//! customerPhone, address, privacyProtection, expiration, consMobilePhoneFuzzy}]}`.
//!
//! Simulator choices [unverified]:
//! - Only `orderInfos` is read (1–100 items; `orderId` a number or digit string); the other
//!   fields are accepted and ignored, `scenesType` included (its values are unknown).
//! - `returnType.code`: 0 success; 1001 the app may not decrypt (`--decrypt-denied`); 1003 bad
//!   parameters.
//! - The daily quota ([`crate::reveal`]) spent is the gateway's documented code 2 "调用次数超限"
//!   (README §2.4: JOS counts each API's calls per app per day), not a `returnType` code.
//! - An item whose order is not the shop's, or whose `oaid` is not that order's receiver, is left
//!   out of `data`.
//! - A privacy number is written `main-extension` with `privacyProtection: true` and
//!   `expiration` (`yyyy-MM-dd HH:mm:ss` Beijing, [`VIRTUAL_NUMBER_DAYS`] days on).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use leadgen_domain::time::format_beijing;

use super::errors::JdError;
use super::orders::ShopOrders;
use super::people::mask_mobile;
use super::{PLATFORM, orders_for};
use crate::http_util::request_id;
use crate::reveal::{ContactTruth, VIRTUAL_NUMBER_DAYS, virtual_expiry};
use crate::shop::ShopKey;
use crate::state::SimState;

pub const METHOD: &str = "jingdong.jos.order.oaid.decrypt";
pub const MAX_ITEMS: usize = 100;

pub const NO_PERMISSION: u32 = 1001;
pub const BAD_PARAMETERS: u32 = 1003;

fn return_type(code: u32, message: &str, data: Vec<Value>) -> Value {
    json!({ "jingdong_jos_order_oaid_decrypt_responce": {
        "code": "0",
        "returnType": { "code": code, "message": message, "requestId": request_id(), "data": data },
    } })
}

/// `(orderId, oaid)` of each item, or why the parameters are refused.
fn items(param_json: Option<&str>) -> Result<Vec<(String, String)>, &'static str> {
    let root: Value = param_json
        .and_then(|t| serde_json::from_str(t).ok())
        .ok_or("360buy_param_json 不是合法的JSON")?;
    let infos = root
        .get("getReceiverInfoListReqVO")
        .and_then(|v| v.get("orderInfos"))
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or("getReceiverInfoListReqVO.orderInfos 不能为空")?;
    if infos.len() > MAX_ITEMS {
        return Err("orderInfos 最多100条");
    }
    infos
        .iter()
        .map(|i| {
            let order_id = match i.get("orderId") {
                Some(Value::Number(n)) if n.is_u64() => n.to_string(),
                Some(Value::String(s))
                    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    s.clone()
                }
                _ => return Err("orderId 必须为数字"),
            };
            let oaid = i
                .get("oaid")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or("oaid 不能为空")?;
            Ok((order_id, oaid.to_owned()))
        })
        .collect()
}

fn receiver(orders: &ShopOrders, order_id: &str, oaid: &str, now: DateTime<Utc>) -> Option<Value> {
    let order = orders
        .orders
        .iter()
        .find(|o| o.order_id.to_string() == order_id && o.oaid == oaid)?;
    let p = orders.receivers.get(&order.oaid)?;
    let (mobile, fuzzy, expiration) = match &p.privacy {
        Some((main, ext)) => (
            format!("{main}-{ext}"),
            mask_mobile(main),
            format_beijing(virtual_expiry(now, VIRTUAL_NUMBER_DAYS)),
        ),
        None => (p.mobile.clone(), mask_mobile(&p.mobile), String::new()),
    };
    Some(json!({
        "orderId": order.order_id,
        "oaid": order.oaid,
        "customerName": p.name,
        "consMobilePhone": mobile,
        "customerPhone": "",
        "address": p.full_address(),
        "privacyProtection": p.privacy.is_some(),
        "expiration": expiration,
        "consMobilePhoneFuzzy": fuzzy,
    }))
}

/// The whole answer for the shop `shop` (the access token's; the quota is its app's) and its
/// `returnType.code` (business failures are answered inside a 200), or the gateway's error when
/// the app's daily quota is spent.
pub fn answer(
    state: &SimState,
    shop: &ShopKey,
    param_json: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Value, u32), JdError> {
    let failure = |code: u32, why: &str| Ok((return_type(code, why, Vec::new()), code));
    let items = match items(param_json) {
        Ok(items) => items,
        Err(why) => return failure(BAD_PARAMETERS, why),
    };
    let settings = &state.config.decrypt;
    if settings.denied {
        return failure(NO_PERMISSION, "应用无权限调用订单解密接口");
    }
    let n = items.len() as u64;
    if state
        .decrypts
        .take(PLATFORM, &shop.app_key, n, settings.daily_quota, now)
        .is_err()
    {
        return Err(JdError::call_limited());
    }
    let orders = orders_for(state, shop);
    let data: Vec<Value> = items
        .iter()
        .filter_map(|(order_id, oaid)| receiver(&orders, order_id, oaid, now))
        .collect();
    state
        .stats
        .with(PLATFORM, |s| s.decrypted_items += data.len() as u64);
    Ok((return_type(0, "成功", data), 0))
}

/// What order `order_id`'s receiver phone really is.
pub fn truth(orders: &ShopOrders, order_id: &str) -> Option<ContactTruth> {
    let order = orders
        .orders
        .iter()
        .find(|o| o.order_id.to_string() == order_id)?;
    let p = orders.receivers.get(&order.oaid)?;
    Some(ContactTruth {
        mobile: Some(p.mobile.clone()),
        privacy_number: p.privacy.clone(),
    })
}
