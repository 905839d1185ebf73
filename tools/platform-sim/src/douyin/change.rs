//! `POST /_sim/douyin/orders/change` ([`crate::change`]): what an event does to a Douyin shop
//! order and its sku orders, with the `order_status` codes and after-sale values
//! [`super::orders`] and [`super::order_json`] give the generated orders.
//!
//! | change | from `order_status` | to `order_status` | also set |
//! |---|---|---|---|
//! | REFUND | 105 已支付, 2 备货中, 101 部分发货, 3 已发货 | 4 已取消 | `finish_time`, `cancel_reason` 买家申请全额退款; skus 4 with `after_sale_info {after_sale_status 12, after_sale_type 2, refund_status 3}` |
//! | SHIP | 105, 2 (no refund pending) | 3 已发货 | `ship_time`, `logistics_info` |
//! | COMPLETE | 101, 3 (no refund pending) | 5 已完成 | `finish_time` |
//! | CLOSE | 1 待支付 | 4 已取消 | `finish_time`, `cancel_reason` 买家取消订单 |
//! | PAY | 1 待支付 | 105 已支付 | `pay_time`, `pay_type` 1, `channel_payment_no`, `order_expire_time` 0; skus 105 with `pay_time` |
//!
//! Every change sets `update_time` (what `order.searchList` with `update_time_*` filters on) of
//! the shop order and its skus to `at`; sku orders refunded before keep their status. The
//! answer's `modified` is `update_time` in unix seconds.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::order_json::status_desc;
use super::orders::{DyOrder, ShopOrders};
use super::{PLATFORM, orders, shop_for};
use crate::change::{self, Change, ChangeError, ChangeRequest, Changed};
use crate::shop::stable_hash;
use crate::state::SimState;

/// `after_sale_status` of a refund the seller has not answered yet.
const REFUND_PENDING: i64 = 6;
/// `after_sale_status` of a refunded sku order.
const REFUNDED: i64 = 12;
const CANCELLED: i64 = 4;

/// `POST /_sim/douyin/orders/change`.
pub async fn change(body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    change::respond(&body, &state, PLATFORM, |request| {
        let shop = || shop_for(&state, &request.shop);
        let generate = orders::generate;
        let apply_to = |o: &mut ShopOrders| apply(o, request);
        state
            .douyin
            .update(&state.config, &request.shop, shop, generate, apply_to)
    })
}

fn after_sale_status(sku: &Value) -> i64 {
    sku["after_sale_info"]["after_sale_status"]
        .as_i64()
        .unwrap_or(0)
}

fn skus(order: &Map<String, Value>) -> Vec<Value> {
    order
        .get("sku_order_list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The `order_status` `change` takes `order` to.
fn next_status(change: Change, order: &DyOrder) -> Result<i64, ChangeError> {
    let status = order.status;
    let refused = |hint: &str| Err(ChangeError::not_allowed(change, status, hint));
    let pending = skus(&order.json)
        .iter()
        .any(|s| after_sale_status(s) == REFUND_PENDING);
    match change {
        Change::Refund if matches!(status, 105 | 2 | 101 | 3) => Ok(CANCELLED),
        Change::Refund => {
            refused("only a paid order not yet finished (105, 2, 101, 3) is refunded")
        }
        _ if pending => refused("a refund waits for the seller; REFUND it first"),
        Change::Ship if matches!(status, 105 | 2) => Ok(3),
        Change::Ship => refused("only a paid order not yet shipped (105, 2) ships"),
        Change::Complete if matches!(status, 101 | 3) => Ok(5),
        Change::Complete => refused("only a shipped order (101, 3) completes"),
        Change::Close if status == 1 => Ok(CANCELLED),
        Change::Close => refused("only an unpaid order (1) closes; REFUND a paid one"),
        Change::Pay if status == 1 => Ok(105),
        Change::Pay => refused("only an unpaid order (1) is paid"),
    }
}

/// Applies `request` to its order in `orders`.
pub fn apply(orders: &mut ShopOrders, request: &ChangeRequest) -> Result<Changed, ChangeError> {
    let order = orders
        .orders
        .iter_mut()
        .find(|o| o.order_id.to_string() == request.order_id)
        .ok_or(ChangeError::UnknownOrder)?;
    let status = next_status(request.change, order)?;
    let at = request.at_second();
    ChangeError::check_not_before(at, order.updated, order.updated.timestamp())?;
    let when = json!(at.timestamp());
    let o = &mut order.json;
    let mut sku_list = skus(o);
    for sku in sku_list.iter_mut() {
        let refunded_before = after_sale_status(sku) == REFUNDED;
        let Some(sku) = sku.as_object_mut() else {
            continue;
        };
        sku.insert("update_time".into(), when.clone());
        if refunded_before {
            continue;
        }
        sku.insert("order_status".into(), json!(status));
        sku.insert("order_status_desc".into(), json!(status_desc(status)));
        match request.change {
            Change::Ship => {}
            Change::Pay => {
                sku.insert("pay_time".into(), when.clone());
            }
            _ => {
                sku.insert("finish_time".into(), when.clone());
            }
        }
        if request.change == Change::Refund {
            let info =
                json!({"after_sale_status": REFUNDED, "after_sale_type": 2, "refund_status": 3});
            sku.insert("after_sale_info".into(), info);
        }
    }
    match request.change {
        Change::Ship => {
            let digits = stable_hash(0, &["douyin-ship", &request.order_id]) % 10_000_000_000;
            o.insert("ship_time".into(), when.clone());
            o.insert(
                "logistics_info".into(),
                json!([{"tracking_no": format!("7531{digits:010}"), "company": "zhongtong",
                    "company_name": "中通快递", "ship_time": at.timestamp(),
                    "delivery_id": format!("{:016}", digits * 7919 % 10_000_000_000_000_000),
                    "product_info": []}]),
            );
        }
        Change::Refund | Change::Close => {
            let reason = if request.change == Change::Refund {
                "买家申请全额退款"
            } else {
                "买家取消订单"
            };
            o.insert("cancel_reason".into(), json!(reason));
            o.insert("finish_time".into(), when.clone());
        }
        Change::Complete => {
            o.insert("finish_time".into(), when.clone());
        }
        Change::Pay => {
            let digits = stable_hash(0, &["douyin-pay", &request.order_id]) % 10_000_000_000;
            o.insert("pay_time".into(), when.clone());
            o.insert("pay_type".into(), json!(1));
            o.insert(
                "channel_payment_no".into(),
                json!(format!("42000{digits:023}")),
            );
            o.insert("order_expire_time".into(), json!(0));
        }
    }
    o.insert("order_status".into(), json!(status));
    o.insert("order_status_desc".into(), json!(status_desc(status)));
    o.insert("update_time".into(), when.clone());
    o.insert("sku_order_list".into(), Value::Array(sku_list));
    order.status = status;
    order.updated = at;
    Ok(Changed {
        order_id: request.order_id.clone(),
        status: json!(status),
        modified: when,
    })
}
