//! `POST /_sim/pdd/orders/change` ([`crate::change`]): what an event does to a PDD order, with
//! the values [`super::orders`] gives the generated orders for that stage.
//!
//! | change | allowed when | sets |
//! |---|---|---|
//! | REFUND | confirmed (成交), `refund_status` ≠ 4 | `refund_status` 4 退款成功, `after_sales_status` 10 (`order_status` stays: PDD refunds before or after shipping) |
//! | SHIP | confirmed, `order_status` 1, `refund_status` ≠ 4 | `order_status` 2, `shipping_time`, `tracking_number`, `logistics_id` 85 |
//! | COMPLETE | `order_status` 2, `refund_status` ≠ 4 | `order_status` 3, `receive_time` |
//! | CLOSE | group still filling (拼团中: `group_status` 0) | 团失败: `group_status` 2, `confirm_status` 2, `refund_status` 4, `after_sales_status` 10 |
//! | PAY | never (refused: a listed PDD order is paid already) | — |
//!
//! Every change sets `updated_at` (what `pdd.order.number.list.increment.get` filters on) to
//! `at`. The answer's `status` is `{"order_status", "refund_status", "after_sales_status"}`. A
//! failed group is never confirmed, so neither listing shows it (as for generated ones).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use leadgen_domain::time::format_beijing;

use super::orders::{PddOrder, ShopOrders};
use super::{PLATFORM, orders, shop_for};
use crate::change::{self, Change, ChangeError, ChangeRequest, Changed};
use crate::shop::stable_hash;
use crate::state::SimState;

/// `POST /_sim/pdd/orders/change`.
pub async fn change(body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    change::respond(&body, &state, PLATFORM, |request| {
        let shop = || shop_for(&state, &request.shop);
        let generate = orders::generate;
        let apply_to = |o: &mut ShopOrders| apply(o, request);
        state
            .pdd
            .update(&state.config, &request.shop, shop, generate, apply_to)
    })
}

fn number(order: &PddOrder, key: &str) -> u64 {
    order.json.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The order's statuses, as a refusal names them.
fn describe(order: &PddOrder) -> String {
    format!(
        "order_status {} / refund_status {} / group_status {}",
        order.order_status,
        order.refund_status,
        number(order, "group_status")
    )
}

/// Checks that `change` is possible for `order`.
fn check(change: Change, order: &PddOrder) -> Result<(), ChangeError> {
    let refused = |hint: &str| Err(ChangeError::not_allowed(change, describe(order), hint));
    let refunded = order.refund_status == 4;
    match change {
        Change::Close if order.confirmed.is_none() && number(order, "group_status") == 0 => Ok(()),
        Change::Close => refused("only a group buy whose group is still filling (拼团中) closes"),
        Change::Pay => {
            refused("PDD lists an order once paid and its group filled (成交): none awaits payment")
        }
        _ if order.confirmed.is_none() => {
            refused("the order is not confirmed (拼团中 or 团失败); CLOSE fails a filling group")
        }
        _ if refunded => refused("the order is refunded already (refund_status 4)"),
        Change::Refund => Ok(()),
        Change::Ship if order.order_status == 1 => Ok(()),
        Change::Ship => refused("only an order waiting to be shipped (order_status 1) ships"),
        Change::Complete if order.order_status == 2 => Ok(()),
        Change::Complete => refused("only a shipped order (order_status 2) completes"),
    }
}

/// Applies `request` to its order in `orders`.
pub fn apply(orders: &mut ShopOrders, request: &ChangeRequest) -> Result<Changed, ChangeError> {
    let order = orders
        .orders
        .iter_mut()
        .find(|o| o.order_sn == request.order_id)
        .ok_or(ChangeError::UnknownOrder)?;
    check(request.change, order)?;
    let at = request.at_second();
    ChangeError::check_not_before(at, order.updated, format_beijing(order.updated))?;
    let when = json!(format_beijing(at));
    let o = &mut order.json;
    match request.change {
        Change::Refund => {
            order.refund_status = 4;
            o.insert("after_sales_status".into(), json!(10));
        }
        Change::Ship => {
            order.order_status = 2;
            o.insert("shipping_time".into(), when.clone());
            let number = 1_000_000_000_000
                + stable_hash(0, &["pdd-ship", &order.order_sn]) % 8_999_999_999_999;
            o.insert("tracking_number".into(), json!(format!("YT{number}")));
            o.insert("logistics_id".into(), json!(85));
        }
        Change::Complete => {
            order.order_status = 3;
            o.insert("receive_time".into(), when.clone());
        }
        Change::Pay => unreachable!("refused by check"),
        Change::Close => {
            order.refund_status = 4;
            o.insert("group_status".into(), json!(2));
            o.insert("confirm_status".into(), json!(2));
            o.insert("after_sales_status".into(), json!(10));
        }
    }
    o.insert("order_status".into(), json!(order.order_status));
    o.insert("refund_status".into(), json!(order.refund_status));
    o.insert("updated_at".into(), when.clone());
    order.updated = at;
    Ok(Changed {
        order_id: request.order_id.clone(),
        status: json!({
            "order_status": order.order_status,
            "refund_status": order.refund_status,
            "after_sales_status": order.json.get("after_sales_status").cloned().unwrap_or(json!(0)),
        }),
        modified: when,
    })
}
