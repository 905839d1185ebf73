//! `POST /_sim/kuaishou/orders/change`: a changed order leaves the `queryType=2` window of its
//! old `updateTime` and enters the one of its change, with its new status.

use chrono::TimeDelta;

use super::listing::walk_window;
use super::*;
use crate::kuaishou::orders::KsOrder;
use crate::kuaishou::orders_for;

/// The orders `open.order.cursor.list` lists by `queryType` (1 create, 2 update time) in
/// `[ms - span, ms + span]`.
async fn listed(
    app: &impl TestApp,
    token: &str,
    query_type: i64,
    ms: i64,
    span: i64,
) -> Vec<Value> {
    let param = json!({"orderViewStatus": 1, "pageSize": 50, "sort": 1, "queryType": query_type,
        "beginTime": ms - span, "endTime": ms + span, "cpsType": 0});
    walk_window(app, token, param).await
}

fn find(orders: &[Value], oid: u64) -> Option<&Value> {
    orders.iter().find(|o| o["orderBaseInfo"]["oid"] == oid)
}

fn first(state: &SimState, pick: impl Fn(&KsOrder) -> bool) -> KsOrder {
    let orders = orders_for(state, &ShopKey::default_seller(APP));
    let settled = |o: &&KsOrder| o.updated_ms < (anchor() - TimeDelta::hours(1)).timestamp_millis();
    orders
        .orders
        .iter()
        .filter(settled)
        .find(|o| pick(o))
        .unwrap()
        .clone()
}

fn pending(o: &KsOrder) -> bool {
    o.json["orderRefundList"]
        .to_string()
        .contains("\"refundStatus\":10")
}

#[actix_web::test]
async fn shipped_then_received_orders_move_to_the_window_of_their_change() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let order = first(&state, |o| o.status == 30 && !pending(o));
    let oid = order.oid;
    let before = listed(&app, &token, 2, order.updated_ms, 60_000).await;
    assert_eq!(find(&before, oid).unwrap()["orderBaseInfo"]["status"], 30);

    // Generated update times run up to two seconds past the (minute) anchor.
    let at = Utc::now() + TimeDelta::seconds(3);
    let at_ms = at.timestamp_millis();
    let body = json!({"app_key": APP, "order_id": oid.to_string(), "change": "SHIP", "at": at.to_rfc3339()});
    let reply = change_order(&app, "kuaishou", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"order_id": oid.to_string(), "status": 40, "modified": at_ms})
    );

    let after = listed(&app, &token, 2, at_ms, 300_000).await;
    let shipped = &find(&after, oid).expect("listed in the window of its change")["orderBaseInfo"];
    assert_eq!(
        (
            &shipped["status"],
            &shipped["updateTime"],
            &shipped["sendTime"]
        ),
        (&json!(40), &json!(at_ms), &json!(at_ms))
    );
    assert!(find(&after, oid).unwrap()["orderLogisticsInfo"][0]["expressNo"].is_string());
    let old = listed(&app, &token, 2, order.updated_ms, 60_000).await;
    assert!(find(&old, oid).is_none(), "gone from its old window");
    assert_eq!(old.len() + 1, before.len());
    let by_creation = listed(&app, &token, 1, order.created_ms, 0).await;
    assert_eq!(
        find(&by_creation, oid).unwrap()["orderBaseInfo"]["status"],
        40
    );
    // The keyset cursor pages on the new updateTime: a one-millisecond window holds the order.
    assert!(find(&listed(&app, &token, 2, at_ms, 0).await, oid).is_some());

    for (step, status) in [(1, 50), (2, 70)] {
        let later = at + TimeDelta::seconds(step);
        let body = json!({"app_key": APP, "order_id": oid.to_string(), "change": "COMPLETE", "at": later.to_rfc3339()});
        assert_eq!(
            change_order(&app, "kuaishou", body).await.json()["status"],
            status
        );
        let listed_now = listed(&app, &token, 2, later.timestamp_millis(), 0).await;
        let base = &find(&listed_now, oid).unwrap()["orderBaseInfo"];
        assert_eq!(base["status"], status);
        if status == 50 {
            assert_eq!(base["recvTime"], later.timestamp_millis());
        }
    }
}

#[actix_web::test]
async fn refunds_closes_and_refusals() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let at = (Utc::now() + TimeDelta::seconds(3)).to_rfc3339();
    let change = |oid: u64, change: &str| json!({"app_key": APP, "order_id": oid.to_string(), "change": change, "at": at});
    let sent = first(&state, |o| o.status == 40);
    let reply = change_order(&app, "kuaishou", change(sent.oid, "REFUND")).await;
    assert_eq!(reply.json()["status"], 80, "{}", reply.body);
    let at = reply.json()["modified"].as_i64().unwrap();
    let refunded = listed(&app, &token, 2, at, 0).await;
    let refunded = find(&refunded, sent.oid).unwrap();
    assert_eq!(refunded["orderRefundList"][0]["refundStatus"], 22);
    assert_eq!(refunded["orderBaseInfo"]["refundTime"], at);
    let closed = first(&state, |o| o.status == 80);
    let reply = change_order(&app, "kuaishou", change(closed.oid, "SHIP")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("SHIP is not possible for an order in state 80")
    );
    let unpaid: Vec<KsOrder> = orders_for(&state, &ShopKey::default_seller(APP))
        .orders
        .iter()
        .filter(|o| o.status == 10)
        .cloned()
        .collect();
    let [to_pay, to_close, ..] = unpaid.as_slice() else {
        panic!(
            "the default shop has two orders awaiting payment: {}",
            unpaid.len()
        );
    };
    // Paid: 30 with its payTime, then no longer closed as unpaid.
    let reply = change_order(&app, "kuaishou", change(to_pay.oid, "PAY")).await;
    assert_eq!(reply.json()["status"], 30, "{}", reply.body);
    let at = reply.json()["modified"].as_i64().unwrap();
    let paid = listed(&app, &token, 2, at, 0).await;
    let paid = find(&paid, to_pay.oid).unwrap();
    assert_eq!(
        (
            &paid["orderBaseInfo"]["status"],
            &paid["orderBaseInfo"]["payTime"]
        ),
        (&json!(30), &json!(at))
    );
    let reply = change_order(&app, "kuaishou", change(to_pay.oid, "CLOSE")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    // Another, never paid, closes.
    let reply = change_order(&app, "kuaishou", change(to_close.oid, "CLOSE")).await;
    assert_eq!(reply.json()["status"], 80, "{}", reply.body);
    let reply = change_order(&app, "kuaishou", change(7, "CLOSE")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
