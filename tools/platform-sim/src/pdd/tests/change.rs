//! `POST /_sim/pdd/orders/change`: a changed order leaves the increment window of its old
//! `updated_at` and enters the one of its change; a forward walk over a window misses an order
//! when another one changes during the walk, a backward walk does not.

use std::collections::BTreeSet;

use super::increment::{busiest_window, increment, increment_args, sns_of};
use super::*;
use crate::pdd::orders::PddOrder;
use crate::pdd::orders_for;

fn change(order_sn: &str, change: &str, at: DateTime<Utc>) -> Value {
    json!({"app_key": APP, "order_id": order_sn, "change": change, "at": at.to_rfc3339()})
}

fn find<'a>(response: &'a Value, order_sn: &str) -> Option<&'a Value> {
    let list = response["order_sn_list"].as_array()?;
    list.iter().find(|o| o["order_sn"] == order_sn)
}

/// The increment page over `[t - 900, t + 900]` (everything in it: page size 100).
async fn around(app: &impl TestApp, token: &str, t: DateTime<Utc>) -> Value {
    let t = t.timestamp();
    increment(app, token, &increment_args(t - 900, t + 900, 1, 100)).await
}

/// The first order `pick` accepts among those last modified over an hour before the anchor
/// (many generated orders were modified right at it, in the window of a change made now).
fn first(state: &SimState, pick: impl Fn(&PddOrder) -> bool) -> PddOrder {
    let orders = orders_for(state, &ShopKey::default_seller(APP));
    let settled = |o: &&PddOrder| o.updated < anchor() - TimeDelta::hours(1);
    orders
        .orders
        .iter()
        .filter(settled)
        .find(|o| pick(o))
        .unwrap()
        .clone()
}

#[actix_web::test]
async fn shipped_and_refunded_orders_move_to_the_window_of_their_change() {
    let state = state();
    let app = sim!(state);
    let token = login(&app).await;
    let waiting =
        |o: &PddOrder| o.confirmed.is_some() && o.order_status == 1 && o.refund_status == 1;
    let order = first(&state, waiting);
    let sn = order.order_sn.as_str();
    let before = around(&app, &token, order.updated).await;
    assert_eq!(find(&before, sn).unwrap()["order_status"], 1);

    let at = now_second();
    let reply = change_order(&app, "pdd", change(sn, "SHIP", at)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let updated_at = leadgen_domain::time::format_beijing(at);
    let status = json!({"order_status": 2, "refund_status": 1, "after_sales_status": 0});
    assert_eq!(
        reply.json(),
        json!({"order_id": sn, "status": status, "modified": updated_at})
    );
    let after = around(&app, &token, at).await;
    let shipped = find(&after, sn).expect("listed in the window of its change");
    assert_eq!(
        (&shipped["order_status"], &shipped["updated_at"]),
        (&json!(2), &json!(updated_at))
    );
    assert_eq!(shipped["shipping_time"], updated_at);
    assert!(
        shipped["tracking_number"]
            .as_str()
            .unwrap()
            .starts_with("YT")
    );
    let old = around(&app, &token, order.updated).await;
    assert!(find(&old, sn).is_none(), "gone from its old window");
    assert_eq!(
        old["total_count"].as_u64().unwrap() + 1,
        before["total_count"].as_u64().unwrap()
    );
    let confirmed = order.confirmed.unwrap().timestamp();
    let list = api(
        &app,
        &signed(LIST, &token, &pairs(&window(confirmed, confirmed))),
    )
    .await
    .json();
    let listed = list[RESPONSE]["order_list"].as_array().unwrap();
    let listed = listed.iter().find(|o| o["order_sn"] == sn).unwrap();
    assert_eq!(
        listed, shipped,
        "the creation-time listing shows the same changed order"
    );

    let later = at + TimeDelta::minutes(1);
    let reply = change_order(&app, "pdd", change(sn, "REFUND", later)).await;
    let status = json!({"order_status": 2, "refund_status": 4, "after_sales_status": 10});
    assert_eq!(reply.json()["status"], status, "{}", reply.body);
    let refunded = around(&app, &token, later).await;
    let refunded = find(&refunded, sn).unwrap();
    assert_eq!(
        (&refunded["refund_status"], &refunded["after_sales_status"]),
        (&json!(4), &json!(10))
    );
    let mut only_refunded = increment_args(later.timestamp() - 1, later.timestamp(), 1, 100);
    only_refunded[2].1 = "4".into();
    let r = increment(&app, &token, &only_refunded).await;
    assert_eq!(sns_of(&r), vec![sn.to_owned()]);
}

#[actix_web::test]
async fn what_a_pdd_order_refuses() {
    let state = state();
    let app = sim!(state);
    let at = now_second();
    let waiting = first(&state, |o| {
        o.confirmed.is_some() && o.order_status == 1 && o.refund_status == 1
    });
    let refunded = first(&state, |o| o.confirmed.is_some() && o.refund_status == 4);
    let failed = first(&state, |o| {
        o.confirmed.is_none() && o.json["group_status"] == 2
    });
    for (order, name, why) in [
        (&waiting, "COMPLETE", "order_status 2"),
        (&waiting, "CLOSE", "拼团中"),
        (&refunded, "SHIP", "refunded already"),
        (&failed, "REFUND", "not confirmed"),
        (&failed, "CLOSE", "拼团中"),
    ] {
        let reply = change_order(&app, "pdd", change(&order.order_sn, name, at)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            reply.body
        );
        assert!(
            reply.json()["error"].as_str().unwrap().contains(why),
            "{}",
            reply.body
        );
    }
    let grouping = orders_for(&state, &ShopKey::default_seller(APP))
        .orders
        .iter()
        .find(|o| o.confirmed.is_none() && o.json["group_status"] == 0)
        .cloned();
    if let Some(grouping) = grouping {
        let reply = change_order(&app, "pdd", change(&grouping.order_sn, "CLOSE", at)).await;
        let status = json!({"order_status": 1, "refund_status": 4, "after_sales_status": 10});
        assert_eq!(reply.json()["status"], status, "{}", reply.body);
    }
}

/// Walks the pages of `[start, start + 1800]` (page size 3) in `order`, calling `during` once
/// after the first page read; returns the order_sns read.
async fn walk(
    app: &impl TestApp,
    token: &str,
    start: i64,
    pages: Vec<u64>,
    during: Value,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (i, page) in pages.into_iter().enumerate() {
        let r = increment(app, token, &increment_args(start, start + 1800, page, 3)).await;
        seen.extend(sns_of(&r));
        if i == 0 {
            let reply = change_order(app, "pdd", during.clone()).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    }
    seen
}

#[actix_web::test]
async fn a_forward_walk_misses_an_order_a_backward_walk_does_not() {
    let at = now_second();
    for backward in [false, true] {
        let state = state();
        let app = sim!(state);
        let token = login(&app).await;
        let orders = orders_for(&state, &ShopKey::default_seller(APP));
        let (start, in_window) = busiest_window(&orders.orders, anchor() - TimeDelta::hours(1));
        let everything: BTreeSet<String> = in_window.iter().map(|o| o.order_sn.clone()).collect();
        let last = in_window.len().div_ceil(3) as u64;
        assert!(last >= 3, "several pages");
        // The newest order (first on page 1) is refunded while the client walks.
        let departed = in_window.iter().find(|o| o.refund_status != 4).unwrap();
        let during = change(&departed.order_sn, "REFUND", at);
        let pages: Vec<u64> = if backward {
            (1..=last).rev().collect()
        } else {
            (1..=last).collect()
        };
        let seen = walk(&app, &token, start, pages, during).await;
        let missed: BTreeSet<&String> = everything.difference(&seen).collect();
        if backward {
            // Only the departed order, which the window of its change lists.
            assert_eq!(missed, BTreeSet::from([&departed.order_sn]));
            let later = around(&app, &token, at).await;
            assert!(find(&later, &departed.order_sn).is_some());
        } else {
            assert_eq!(missed.len(), 1, "{missed:?}");
            assert!(
                !missed.contains(&departed.order_sn),
                "an unchanged order is missed"
            );
        }
    }
}
