//! `POST /_sim/jd/orders/change` ([`crate::change`]): what an event does to a JD order, with
//! the `orderState`s and remarks [`super::lifecycle::Stage`] gives the generated orders.
//!
//! | change | from `orderState` | to `orderState` (`orderStateRemark`) | also set |
//! |---|---|---|---|
//! | REFUND | `WAIT_SELLER_STOCK_OUT`, `WAIT_SELLER_DELIVERY`, `PAUSE`, `POP_ORDER_PAUSE`, `LOCKED` | `TRADE_CANCELED` ((删除)已取消) | `orderEndTime` |
//! | SHIP | `WAIT_SELLER_STOCK_OUT`, `WAIT_SELLER_DELIVERY` | `WAIT_GOODS_RECEIVE_CONFIRM` (等待确认收货) | — |
//! | COMPLETE | `WAIT_GOODS_RECEIVE_CONFIRM` | `FINISHED_L` (完成) | `orderEndTime` |
//! | CLOSE | unpaid (no `paymentConfirmTime`), not cancelled | `TRADE_CANCELED` ((删除)已取消) | `orderEndTime` |
//! | PAY | — (refused: the generated JD orders are paid when placed) | | |
//!
//! Every change sets `modified` (what `enSearch` with `dateType` ≠ 1 filters on) to `at`. The
//! generated JD orders are paid when placed, so CLOSE finds none to close; refunds after
//! shipping are after-sales that leave `orderState` alone and are not simulated.

use actix_web::{HttpResponse, web};
use serde_json::json;

use leadgen_domain::time::format_beijing;

use super::lifecycle::Stage;
use super::orders::{JdOrder, ShopOrders};
use super::{PLATFORM, orders, shop_for};
use crate::change::{self, Change, ChangeError, ChangeRequest, Changed};
use crate::state::SimState;

/// `POST /_sim/jd/orders/change`.
pub async fn change(body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    change::respond(&body, &state, PLATFORM, |request| {
        let shop = || shop_for(&state, &request.shop);
        let generate = orders::generate;
        let apply_to = |o: &mut ShopOrders| apply(o, request);
        state
            .jd
            .update(&state.config, &request.shop, shop, generate, apply_to)
    })
}

/// The stage `change` takes `order` to.
fn next_stage(change: Change, order: &JdOrder) -> Result<Stage, ChangeError> {
    use Stage::*;
    let refused = |hint: &str| Err(ChangeError::not_allowed(change, order.state, hint));
    let is_one_of = |stages: &[Stage]| stages.iter().any(|s| s.state() == order.state);
    let paid = order.json.get("paymentConfirmTime") != Some(&json!(""));
    match change {
        Change::Refund if is_one_of(&[StockOut, Delivery, Pause, PopPause, Locked]) => {
            Ok(CanceledRefunded)
        }
        Change::Refund => refused(
            "only a paid order not yet shipped (WAIT_SELLER_STOCK_OUT, WAIT_SELLER_DELIVERY, \
             PAUSE, POP_ORDER_PAUSE, LOCKED) is cancelled and refunded",
        ),
        Change::Ship if is_one_of(&[StockOut, Delivery]) => Ok(Shipped),
        Change::Ship => refused(
            "only a paid order waiting to be shipped (WAIT_SELLER_STOCK_OUT, \
             WAIT_SELLER_DELIVERY)",
        ),
        Change::Complete if is_one_of(&[Shipped]) => Ok(Finished),
        Change::Complete => refused("only a shipped order (WAIT_GOODS_RECEIVE_CONFIRM) completes"),
        Change::Close if !paid && !is_one_of(&[CanceledUnpaid]) => Ok(CanceledUnpaid),
        Change::Close => refused("only an unpaid order closes; REFUND a paid one"),
        Change::Pay => refused("JD's listed orders are paid when placed"),
    }
}

/// Applies `request` to its order in `orders`.
pub fn apply(orders: &mut ShopOrders, request: &ChangeRequest) -> Result<Changed, ChangeError> {
    let order = orders
        .orders
        .iter_mut()
        .find(|o| o.order_id.to_string() == request.order_id)
        .ok_or(ChangeError::UnknownOrder)?;
    let stage = next_stage(request.change, order)?;
    let at = request.at_second();
    ChangeError::check_not_before(at, order.modified, format_beijing(order.modified))?;
    let when = json!(format_beijing(at));
    let o = &mut order.json;
    o.insert("orderState".into(), json!(stage.state()));
    o.insert("orderStateRemark".into(), json!(stage.remark()));
    if stage != Stage::Shipped {
        o.insert("orderEndTime".into(), when.clone());
    }
    o.insert("modified".into(), when.clone());
    order.state = stage.state();
    order.modified = at;
    Ok(Changed {
        order_id: request.order_id.clone(),
        status: json!(stage.state()),
        modified: when,
    })
}
