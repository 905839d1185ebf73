//! `POST /_sim/kuaishou/orders/change` ([`crate::change`]): what an event does to a Kuaishou
//! order, with the `orderBaseInfo.status` codes and refund values [`super::orders`] gives the
//! generated orders [unverified, as they are].
//!
//! | change | from `status` | to `status` | also set (`orderBaseInfo`, unless named) |
//! |---|---|---|---|
//! | REFUND | 30 已付款, 40 已发货 | 80 交易关闭 | `refundTime`; `orderRefundList` `[{refundId, refundStatus 22, refundFee}]` |
//! | SHIP | 30 (no refund pending) | 40 | `sendTime`; `orderLogisticsInfo` |
//! | COMPLETE | 40 (no refund pending) | 50 已收货 | `recvTime` |
//! | COMPLETE | 50 | 70 交易成功 | — |
//! | CLOSE | 10 待付款 | 80 | — |
//! | PAY | 10 待付款 | 30 已付款 | `payTime` |
//!
//! Every change sets `updateTime` (what `open.order.cursor.list` with `queryType=2` filters
//! and pages on) to `at` in milliseconds; the answer's `modified` is that number.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::orders::{KsOrder, ShopOrders};
use super::{PLATFORM, orders, shop_for};
use crate::change::{self, Change, ChangeError, ChangeRequest, Changed};
use crate::shop::stable_hash;
use crate::state::SimState;

/// `refundStatus` of a refund the seller has not answered yet, and of a refunded one.
const REFUND_PENDING: i64 = 10;
const REFUNDED: i64 = 22;
/// What the generator adds to an `oid` to make its `refundId`.
const REFUND_ID_OFFSET: u64 = 100_000_000_000_000;

/// `POST /_sim/kuaishou/orders/change`.
pub async fn change(body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    change::respond(&body, &state, PLATFORM, |request| {
        let shop = || shop_for(&state, &request.shop);
        let generate = orders::generate;
        let apply_to = |o: &mut ShopOrders| apply(o, request);
        state
            .kuaishou
            .update(&state.config, &request.shop, shop, generate, apply_to)
    })
}

/// The status `change` takes `order` to.
fn next_status(change: Change, order: &KsOrder) -> Result<i64, ChangeError> {
    let status = order.status;
    let refused = |hint: &str| Err(ChangeError::not_allowed(change, status, hint));
    let pending = order.json["orderRefundList"]
        .as_array()
        .is_some_and(|l| l.iter().any(|r| r["refundStatus"] == REFUND_PENDING));
    match change {
        Change::Refund if matches!(status, 30 | 40) => Ok(80),
        Change::Refund => refused("only a paid order not yet received (30, 40) is refunded"),
        _ if pending => refused("a refund waits for the seller; REFUND it first"),
        Change::Ship if status == 30 => Ok(40),
        Change::Ship => refused("only a paid order (30) ships"),
        Change::Complete if status == 40 => Ok(50),
        Change::Complete if status == 50 => Ok(70),
        Change::Complete => refused("only a shipped (40) or received (50) order completes"),
        Change::Close if status == 10 => Ok(80),
        Change::Close => refused("only an unpaid order (10) closes; REFUND a paid one"),
        Change::Pay if status == 10 => Ok(30),
        Change::Pay => refused("only an unpaid order (10) is paid"),
    }
}

/// Applies `request` to its order in `orders`.
pub fn apply(orders: &mut ShopOrders, request: &ChangeRequest) -> Result<Changed, ChangeError> {
    let order = orders
        .orders
        .iter_mut()
        .find(|o| o.oid.to_string() == request.order_id)
        .ok_or(ChangeError::UnknownOrder)?;
    let status = next_status(request.change, order)?;
    let at = request.at.timestamp_millis();
    ChangeError::check_not_before(request.at, order_time(order.updated_ms), order.updated_ms)?;
    let oid = order.oid;
    let item = &order.json["orderItemInfo"];
    let number = |v: &Value| v.as_u64().unwrap_or(0);
    let fee = (number(&item["price"]) * number(&item["num"]))
        .saturating_sub(number(&item["discountFee"]));
    let json = order
        .json
        .as_object_mut()
        .ok_or(ChangeError::UnknownOrder)?;
    match request.change {
        Change::Refund => {
            let refund = json!([{"refundId": oid + REFUND_ID_OFFSET, "refundStatus": REFUNDED,
                "refundFee": fee}]);
            json.insert("orderRefundList".into(), refund);
        }
        Change::Ship => {
            let digits = stable_hash(0, &["kuaishou-ship", &oid.to_string()]);
            let express_no = format!("YT{:013}", digits % 10_000_000_000_000);
            let logistics = json!([{"expressNo": express_no, "expressCode": 4,
                "logisticsId": digits % 9_999_998 + 1}]);
            json.insert("orderLogisticsInfo".into(), logistics);
        }
        Change::Complete | Change::Close | Change::Pay => {}
    }
    if let Some(base) = json.get_mut("orderBaseInfo").and_then(Value::as_object_mut) {
        let event = match (request.change, status) {
            (Change::Refund, _) => Some("refundTime"),
            (Change::Ship, _) => Some("sendTime"),
            (Change::Complete, 50) => Some("recvTime"),
            (Change::Pay, _) => Some("payTime"),
            _ => None,
        };
        if let Some(field) = event {
            base.insert(field.into(), json!(at));
        }
        base.insert("status".into(), json!(status));
        base.insert("updateTime".into(), json!(at));
    }
    order.status = status;
    order.updated_ms = at;
    Ok(Changed {
        order_id: request.order_id.clone(),
        status: json!(status),
        modified: json!(at),
    })
}

/// A millisecond time as a UTC time.
fn order_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
