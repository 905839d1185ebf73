//! `POST /_sim/taobao/orders/change` ([`crate::change`]): what an event does to a Taobao trade,
//! with the statuses [`super::lifecycle::Stage`] gives the generated trades.
//!
//! | change | from `status` | to `status` | also set (trade and its orders) |
//! |---|---|---|---|
//! | REFUND | `WAIT_SELLER_SEND_GOODS`, `WAIT_BUYER_CONFIRM_GOODS` | `TRADE_CLOSED` | `end_time`; orders `TRADE_CLOSED`, `refund_status` `SUCCESS` |
//! | SHIP | `WAIT_SELLER_SEND_GOODS`, no refund pending | `WAIT_BUYER_CONFIRM_GOODS` | `consign_time` |
//! | COMPLETE | `WAIT_BUYER_CONFIRM_GOODS`, no refund pending | `TRADE_FINISHED` | `end_time`, `received_payment` = `payment` |
//! | CLOSE | `WAIT_BUYER_PAY` | `TRADE_CLOSED` | `end_time` (the buyer cancelled, as the generator's `ClosedUnpaid`) |
//! | PAY | `WAIT_BUYER_PAY` | `WAIT_SELLER_SEND_GOODS` | `pay_time`; orders `WAIT_SELLER_SEND_GOODS` |
//!
//! Every change sets `modified` (what `taobao.trades.sold.increment.get` filters on) to `at`.
//! A refund after `TRADE_FINISHED` is an after-sale that leaves the status alone; it is not
//! simulated.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use leadgen_domain::time::format_beijing;

use super::lifecycle::Stage;
use super::orders::{ShopOrders, TradeRecord};
use super::{PLATFORM, orders, shop_for};
use crate::change::{self, Change, ChangeError, ChangeRequest, Changed, set_field};
use crate::state::SimState;

/// `POST /_sim/taobao/orders/change`.
pub async fn change(body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    change::respond(&body, &state, PLATFORM, |request| {
        let shop = || shop_for(&state, &request.shop);
        let generate = orders::generate;
        let apply_to = |o: &mut ShopOrders| apply(o, request);
        state
            .taobao
            .update(&state.config, &request.shop, shop, generate, apply_to)
    })
}

/// Whether a refund the buyer asked for waits for the seller.
fn refund_pending(trade: &TradeRecord) -> bool {
    sub_orders(&trade.json)
        .iter()
        .any(|o| o["refund_status"] == "WAIT_SELLER_AGREE")
}

fn sub_orders(json: &Map<String, Value>) -> Vec<Value> {
    json.get("orders")
        .and_then(|o| o.get("order"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The stage `change` takes a trade in `status` to.
fn next_stage(change: Change, status: &str, refund_pending: bool) -> Result<Stage, ChangeError> {
    use Stage::*;
    let refused = |hint: &str| Err(ChangeError::not_allowed(change, status, hint));
    let is = |stage: Stage| stage.as_str() == status;
    match change {
        Change::Refund if is(WaitSend) || is(WaitConfirm) => Ok(ClosedRefunded),
        Change::Refund => refused(
            "only a paid trade not yet finished (WAIT_SELLER_SEND_GOODS, \
             WAIT_BUYER_CONFIRM_GOODS) is refunded in full",
        ),
        _ if refund_pending => refused("a refund waits for the seller; REFUND it first"),
        Change::Ship if is(WaitSend) => Ok(WaitConfirm),
        Change::Ship => refused("only a paid trade waiting to be shipped (WAIT_SELLER_SEND_GOODS)"),
        Change::Complete if is(WaitConfirm) => Ok(Finished),
        Change::Complete => refused("only a shipped trade (WAIT_BUYER_CONFIRM_GOODS) completes"),
        Change::Close if is(WaitPay) => Ok(ClosedUnpaid),
        Change::Close => refused("only an unpaid trade (WAIT_BUYER_PAY) closes; REFUND a paid one"),
        Change::Pay if is(WaitPay) => Ok(WaitSend),
        Change::Pay => refused("only an unpaid trade (WAIT_BUYER_PAY) is paid"),
    }
}

/// Applies `request` to its trade in `orders`.
pub fn apply(orders: &mut ShopOrders, request: &ChangeRequest) -> Result<Changed, ChangeError> {
    let trade = orders
        .trades
        .iter_mut()
        .find(|t| t.tid.to_string() == request.order_id)
        .ok_or(ChangeError::UnknownOrder)?;
    let stage = next_stage(request.change, trade.status, refund_pending(trade))?;
    let at = request.at_second();
    ChangeError::check_not_before(at, trade.modified, format_beijing(trade.modified))?;
    let when = json!(format_beijing(at));
    let t = &mut trade.json;
    let mut orders = sub_orders(t);
    for o in orders.iter_mut().filter_map(Value::as_object_mut) {
        let closed = o.get("status") == Some(&json!(Stage::ClosedRefunded.as_str()));
        match stage {
            Stage::ClosedRefunded => {
                o.insert("refund_status".into(), json!("SUCCESS"));
                set_field(o, "end_time", when.clone(), &["consign_time", "cid"]);
            }
            Stage::WaitConfirm => set_field(o, "consign_time", when.clone(), &["cid"]),
            Stage::WaitSend => {}
            _ => set_field(o, "end_time", when.clone(), &["consign_time", "cid"]),
        }
        if !closed {
            o.insert("status".into(), json!(stage.as_str()));
        }
    }
    match stage {
        Stage::WaitSend => set_field(t, "pay_time", when.clone(), &["created"]),
        Stage::WaitConfirm => set_field(t, "consign_time", when.clone(), &["pay_time", "created"]),
        _ => set_field(
            t,
            "end_time",
            when.clone(),
            &["consign_time", "pay_time", "created"],
        ),
    }
    if stage == Stage::Finished {
        let payment = t.get("payment").cloned().unwrap_or(json!("0.00"));
        t.insert("received_payment".into(), payment);
    }
    t.insert("status".into(), json!(stage.as_str()));
    t.insert("modified".into(), when.clone());
    t.insert("orders".into(), json!({ "order": orders }));
    trade.status = stage.as_str();
    trade.modified = at;
    Ok(Changed {
        order_id: request.order_id.clone(),
        status: json!(stage.as_str()),
        modified: when,
    })
}
