//! `POST /_sim/jd/orders/change`: a changed order leaves the `dateType=0` window of its old
//! `modified` and enters the one of its change, with its new `orderState`.

use chrono::DateTime;
use serde_json::json;

use super::listing::all_pages;
use super::*;
use crate::jd::orders::JdOrder;
use crate::jd::orders_for;

/// The orders `enSearch` lists in `[start, end]` by creation (`dateType=1`) or modification.
async fn listed(
    app: &impl TestApp,
    token: &str,
    date_type: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Vec<Value> {
    let (s, e) = (format_beijing(start), format_beijing(end));
    let b = [
        ("start_date", s.as_str()),
        ("end_date", e.as_str()),
        ("order_state", ALL_STATES),
        (
            "optional_fields",
            "orderId,orderState,orderStateRemark,orderEndTime,modified",
        ),
        ("dateType", date_type),
    ];
    all_pages(app, token, &b).await
}

fn find<'a>(orders: &'a [Value], id: &str) -> Option<&'a Value> {
    orders.iter().find(|o| o["orderId"] == id)
}

fn around(t: DateTime<Utc>, seconds: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        t - TimeDelta::seconds(seconds),
        t + TimeDelta::seconds(seconds),
    )
}

fn first(state: &SimState, order_state: &str) -> JdOrder {
    let orders = orders_for(state, &ShopKey::default_seller(APP));
    let settled = |o: &&JdOrder| o.modified < anchor() - TimeDelta::hours(1);
    let mut candidates = orders.orders.iter().filter(settled);
    candidates.find(|o| o.state == order_state).unwrap().clone()
}

#[actix_web::test]
async fn a_shipped_order_moves_to_the_window_of_its_change() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let order = first(&state, "WAIT_SELLER_STOCK_OUT");
    let id = order.order_id.to_string();
    let old_window = around(order.modified, 60);
    let before = listed(&app, &token, "0", old_window).await;
    assert_eq!(
        find(&before, &id).unwrap()["orderState"],
        "WAIT_SELLER_STOCK_OUT"
    );

    let at = now_second();
    let body = json!({"app_key": APP, "order_id": id, "change": "SHIP", "at": at.to_rfc3339()});
    let reply = change_order(&app, "jd", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let modified = format_beijing(at);
    let expected =
        json!({"order_id": id, "status": "WAIT_GOODS_RECEIVE_CONFIRM", "modified": modified});
    assert_eq!(reply.json(), expected);

    let after = listed(&app, &token, "0", around(at, 300)).await;
    let shipped = find(&after, &id).expect("listed in the window of its change");
    assert_eq!(shipped["orderState"], "WAIT_GOODS_RECEIVE_CONFIRM");
    assert_eq!(shipped["orderStateRemark"], "等待确认收货");
    assert_eq!(shipped["modified"], modified);
    assert!(
        find(&listed(&app, &token, "0", old_window).await, &id).is_none(),
        "gone from its old window"
    );
    let by_creation = listed(&app, &token, "1", around(order.created, 1)).await;
    assert_eq!(
        find(&by_creation, &id).unwrap()["orderState"],
        "WAIT_GOODS_RECEIVE_CONFIRM"
    );

    let later = at + TimeDelta::minutes(1);
    let body =
        json!({"app_key": APP, "order_id": id, "change": "COMPLETE", "at": later.to_rfc3339()});
    assert_eq!(
        change_order(&app, "jd", body).await.json()["status"],
        "FINISHED_L"
    );
    let finished = listed(&app, &token, "0", around(later, 10)).await;
    let finished = find(&finished, &id).unwrap();
    assert_eq!(
        (&finished["orderState"], &finished["orderEndTime"]),
        (&json!("FINISHED_L"), &json!(format_beijing(later)))
    );
}

#[actix_web::test]
async fn refunds_cancel_and_what_is_refused() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let change = |order_id: String, change: &str| json!({"app_key": APP, "order_id": order_id, "change": change});
    let locked = first(&state, "LOCKED").order_id.to_string();
    let reply = change_order(&app, "jd", change(locked.clone(), "REFUND")).await;
    assert_eq!(reply.json()["status"], "TRADE_CANCELED", "{}", reply.body);
    let at =
        leadgen_domain::time::parse_beijing(reply.json()["modified"].as_str().unwrap()).unwrap();
    let cancelled = listed(&app, &token, "0", around(at, 60)).await;
    assert_eq!(
        find(&cancelled, &locked).unwrap()["orderStateRemark"],
        "(删除)已取消"
    );
    for (state_now, change_name) in [
        ("WAIT_GOODS_RECEIVE_CONFIRM", "REFUND"),
        ("FINISHED_L", "SHIP"),
        ("WAIT_SELLER_STOCK_OUT", "CLOSE"),
    ] {
        let id = first(&state, state_now).order_id.to_string();
        let reply = change_order(&app, "jd", change(id, change_name)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{state_now}");
        assert!(
            reply.json()["error"].as_str().unwrap().contains(state_now),
            "{}",
            reply.body
        );
    }
    let reply = change_order(&app, "jd", change("1".into(), "SHIP")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
