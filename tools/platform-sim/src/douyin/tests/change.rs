//! `POST /_sim/douyin/orders/change`: a changed order leaves the `update_time_*` window of its
//! old `update_time` and enters the one of its change, with its new `order_status`.

use chrono::DateTime;

use super::listing::all_pages;
use super::*;
use crate::douyin::orders::DyOrder;
use crate::douyin::orders_for;

/// The orders `order.searchList` lists with `update_time` in `[t - seconds, t + seconds]`.
async fn updated_around(
    app: &impl TestApp,
    token: &str,
    t: DateTime<Utc>,
    seconds: i64,
) -> Vec<Value> {
    let t = t.timestamp();
    let params = json!({"update_time_start": t - seconds, "update_time_end": t + seconds,
        "order_by": "update_time"});
    all_pages(app, token, params, 100).await
}

fn find<'a>(orders: &'a [Value], id: &str) -> Option<&'a Value> {
    orders.iter().find(|o| o["order_id"] == id)
}

/// Whether a refund waits for the seller on one of the order's skus.
fn pending(o: &DyOrder) -> bool {
    o.json["sku_order_list"]
        .to_string()
        .contains("\"after_sale_status\":6")
}

fn first(state: &SimState, pick: impl Fn(&DyOrder) -> bool) -> DyOrder {
    let orders = orders_for(state, &ShopKey::default_seller(APP));
    let settled = |o: &&DyOrder| o.updated < anchor() - TimeDelta::hours(1);
    orders
        .orders
        .iter()
        .filter(settled)
        .find(|o| pick(o))
        .unwrap()
        .clone()
}

#[actix_web::test]
async fn a_refunded_order_moves_to_the_window_of_its_change() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let order = first(&state, |o| o.status == 2 && !pending(o));
    let id = order.order_id.to_string();
    let before = updated_around(&app, &token, order.updated, 60).await;
    assert_eq!(find(&before, &id).unwrap()["order_status"], 2);

    let at = now_second();
    let body = json!({"app_key": APP, "order_id": id, "change": "REFUND", "at": at.to_rfc3339()});
    let reply = change_order(&app, "douyin", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"order_id": id, "status": 4, "modified": at.timestamp()})
    );

    let after = updated_around(&app, &token, at, 300).await;
    let refunded = find(&after, &id).expect("listed in the window of its change");
    assert_eq!(
        (&refunded["order_status"], &refunded["order_status_desc"]),
        (&json!(4), &json!("已取消"))
    );
    assert_eq!(
        (&refunded["update_time"], &refunded["finish_time"]),
        (&json!(at.timestamp()), &json!(at.timestamp()))
    );
    assert_eq!(refunded["cancel_reason"], "买家申请全额退款");
    for sku in refunded["sku_order_list"].as_array().unwrap() {
        assert_eq!(sku["order_status"], 4);
        assert_eq!(sku["after_sale_info"]["after_sale_status"], 12);
        assert_eq!(sku["update_time"], at.timestamp());
    }
    let old = updated_around(&app, &token, order.updated, 60).await;
    assert!(find(&old, &id).is_none(), "gone from its old window");
    assert_eq!(old.len() + 1, before.len());
    let created = order.created.timestamp();
    let by_creation = json!({"create_time_start": created, "create_time_end": created});
    let by_creation = all_pages(&app, &token, by_creation, 100).await;
    assert_eq!(find(&by_creation, &id), Some(refunded));
}

#[actix_web::test]
async fn ships_completes_closes_and_refuses() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let at = now_second();
    let change = |id: u64, change: &str| json!({"app_key": APP, "order_id": id.to_string(), "change": change, "at": at.to_rfc3339()});
    let paid = first(&state, |o| {
        (o.status == 105 || o.status == 2) && !pending(o)
    });
    let reply = change_order(&app, "douyin", change(paid.order_id, "SHIP")).await;
    assert_eq!(reply.json()["status"], 3, "{}", reply.body);
    let shipped = updated_around(&app, &token, at, 5).await;
    let shipped = find(&shipped, &paid.order_id.to_string()).unwrap();
    assert_eq!(shipped["ship_time"], at.timestamp());
    assert!(
        shipped["logistics_info"][0]["tracking_no"]
            .as_str()
            .unwrap()
            .starts_with("7531")
    );
    let sent = first(&state, |o| o.status == 3 && !pending(o));
    let reply = change_order(&app, "douyin", change(sent.order_id, "COMPLETE")).await;
    assert_eq!(reply.json()["status"], 5, "{}", reply.body);
    let finished = first(&state, |o| o.status == 5);
    let reply = change_order(&app, "douyin", change(finished.order_id, "REFUND")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("REFUND is not possible for an order in state 5")
    );
    let unpaid = orders_for(&state, &ShopKey::default_seller(APP))
        .orders
        .iter()
        .find(|o| o.status == 1)
        .cloned();
    {
        let unpaid = unpaid.expect("the default shop has orders awaiting payment");
        let reply = change_order(&app, "douyin", change(unpaid.order_id, "PAY")).await;
        assert_eq!(reply.json()["status"], 105, "{}", reply.body);
        let reply = change_order(&app, "douyin", change(unpaid.order_id, "PAY")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    }
    let cancelled = first(&state, |o| o.status == 4);
    let reply = change_order(&app, "douyin", change(cancelled.order_id, "CLOSE")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = change_order(&app, "douyin", change(1, "SHIP")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
