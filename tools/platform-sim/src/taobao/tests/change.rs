//! `POST /_sim/taobao/orders/change`: a changed trade leaves the by-modification window of its
//! old `modified` and enters the one of its change, with its new status, in every listing.

use chrono::DateTime;
use serde_json::json;

use super::listing::all_pages;
use super::*;
use crate::taobao::orders::TradeRecord;
use crate::taobao::orders_for;

const SOLD: &str = "taobao.trades.sold.get";
const INCREMENT: &str = "taobao.trades.sold.increment.get";
const FIELDS: &str = "tid_str,status,created,pay_time,modified,consign_time,end_time,orders";

/// The trades `method` lists in `[start, end]` (`_created` or `_modified` bounds).
async fn listed(
    app: &impl TestApp,
    session: &str,
    method: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Vec<Value> {
    let bound = if method == SOLD {
        "created"
    } else {
        "modified"
    };
    let (s, e) = (format_beijing(start), format_beijing(end));
    let (start_key, end_key) = (format!("start_{bound}"), format!("end_{bound}"));
    let args = [
        ("fields", FIELDS),
        (start_key.as_str(), s.as_str()),
        (end_key.as_str(), e.as_str()),
        ("type", ALL_TYPES),
    ];
    all_pages(app, session, method, &args, false).await
}

fn find<'a>(trades: &'a [Value], tid: &str) -> Option<&'a Value> {
    trades.iter().find(|t| t["tid_str"] == tid)
}

fn around(t: DateTime<Utc>, seconds: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        t - TimeDelta::seconds(seconds),
        t + TimeDelta::seconds(seconds),
    )
}

fn first(state: &SimState, status: &str) -> TradeRecord {
    let orders = orders_for(state, &ShopKey::default_seller(APP));
    let pending = |t: &TradeRecord| t.json["orders"].to_string().contains("WAIT_SELLER_AGREE");
    let settled = |t: &&TradeRecord| t.modified < anchor() - TimeDelta::hours(1);
    orders
        .trades
        .iter()
        .filter(settled)
        .find(|t| t.status == status && !pending(t))
        .unwrap()
        .clone()
}

#[actix_web::test]
async fn shipped_then_completed_trades_move_to_their_change_windows() {
    let state = state();
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let trade = first(&state, "WAIT_SELLER_SEND_GOODS");
    let tid = trade.tid.to_string();
    let old_window = around(trade.modified, 60);
    let before = listed(&app, &session, INCREMENT, old_window).await;
    assert_eq!(
        find(&before, &tid).unwrap()["status"],
        "WAIT_SELLER_SEND_GOODS"
    );

    let at = now_second();
    let at_text = at
        .with_timezone(&leadgen_domain::time::beijing())
        .to_rfc3339();
    let body = json!({"app_key": APP, "order_id": tid, "change": "SHIP", "at": at_text});
    let reply = change_order(&app, "taobao", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let modified = format_beijing(at);
    let expected =
        json!({"order_id": tid, "status": "WAIT_BUYER_CONFIRM_GOODS", "modified": modified});
    assert_eq!(reply.json(), expected);

    let after = listed(&app, &session, INCREMENT, around(at, 300)).await;
    let shipped = find(&after, &tid).expect("listed in the window of its change");
    assert_eq!(shipped["status"], "WAIT_BUYER_CONFIRM_GOODS");
    assert_eq!(
        (
            shipped["modified"].as_str(),
            shipped["consign_time"].as_str()
        ),
        (Some(modified.as_str()), Some(modified.as_str()))
    );
    for o in shipped["orders"]["order"].as_array().unwrap() {
        assert_eq!(
            (&o["status"], &o["consign_time"]),
            (&json!("WAIT_BUYER_CONFIRM_GOODS"), &json!(modified))
        );
    }
    let old = listed(&app, &session, INCREMENT, old_window).await;
    assert!(find(&old, &tid).is_none(), "gone from its old window");
    assert_eq!(old.len() + 1, before.len());
    let by_creation = listed(&app, &session, SOLD, around(trade.created, 1)).await;
    assert_eq!(
        find(&by_creation, &tid).unwrap()["status"],
        "WAIT_BUYER_CONFIRM_GOODS"
    );
    let created = format_beijing(trade.created);
    let q = [
        ("app_key", APP),
        ("start_created", &created),
        ("end_created", &created),
    ];
    let admin = admin_list(&app, "/_sim/taobao/orders", "tids", &q).await;
    assert!(admin.contains(&tid));

    let later = at + TimeDelta::minutes(2);
    let body =
        json!({"app_key": APP, "order_id": tid, "change": "COMPLETE", "at": later.to_rfc3339()});
    let reply = change_order(&app, "taobao", body).await;
    assert_eq!(reply.json()["status"], "TRADE_FINISHED", "{}", reply.body);
    let finished = listed(&app, &session, INCREMENT, around(later, 30)).await;
    let finished = find(&finished, &tid).unwrap();
    assert_eq!(
        (&finished["status"], &finished["end_time"]),
        (&json!("TRADE_FINISHED"), &json!(format_beijing(later)))
    );
    assert!(
        find(
            &listed(&app, &session, INCREMENT, around(at, 30)).await,
            &tid
        )
        .is_none()
    );
}

#[actix_web::test]
async fn refunds_and_closes_and_what_is_refused() {
    // 1000 orders: a few of the last day's are still unpaid.
    let state = sim_state(
        42,
        1000,
        &[(PlatformType::Taobao, APP, SECRET)],
        Faults::default(),
    );
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let change = |order_id: String, change: &str| json!({"app_key": APP, "order_id": order_id, "change": change});
    let paid = first(&state, "WAIT_BUYER_CONFIRM_GOODS").tid.to_string();
    let reply = change_order(&app, "taobao", change(paid.clone(), "REFUND")).await;
    assert_eq!(reply.json()["status"], "TRADE_CLOSED", "{}", reply.body);
    let at = reply.json()["modified"].as_str().unwrap().to_owned();
    let at = leadgen_domain::time::parse_beijing(&at).unwrap();
    let refunded = listed(&app, &session, INCREMENT, around(at, 60)).await;
    let refunded = find(&refunded, &paid).unwrap();
    assert_eq!(refunded["status"], "TRADE_CLOSED");
    assert!(
        refunded["orders"]["order"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["refund_status"] == "SUCCESS" && o["status"] == "TRADE_CLOSED")
    );

    // Refused: the order's state does not allow it, it is unknown, or the body is bad.
    let reply = change_order(&app, "taobao", change(paid.clone(), "SHIP")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("SHIP is not possible for an order in state TRADE_CLOSED")
    );
    let finished = first(&state, "TRADE_FINISHED");
    let reply = change_order(&app, "taobao", change(finished.tid.to_string(), "REFUND")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let unpaid = first(&state, "WAIT_BUYER_PAY");
    let reply = change_order(&app, "taobao", change(unpaid.tid.to_string(), "SHIP")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let mut early = change(unpaid.tid.to_string(), "CLOSE");
    early["at"] = json!((unpaid.modified - TimeDelta::seconds(1)).to_rfc3339());
    let reply = change_order(&app, "taobao", early).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("before the order's last modification"));
    let reply = change_order(&app, "taobao", change(unpaid.tid.to_string(), "CLOSE")).await;
    assert_eq!(reply.json()["status"], "TRADE_CLOSED", "{}", reply.body);
    let reply = change_order(&app, "taobao", change("1".into(), "CLOSE")).await;
    assert_eq!(
        (reply.status, reply.json()),
        (StatusCode::NOT_FOUND, json!({"error": "no such order"}))
    );
    let reply = change_order(&app, "taobao", json!({"app_key": APP, "order_id": paid})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["error"].as_str().unwrap().contains("change"));
}

#[actix_web::test]
async fn an_unpaid_trade_paid_later_waits_to_be_shipped_from_its_payment() {
    // 1000 orders: a few of the last day's are still unpaid.
    let state = sim_state(
        42,
        1000,
        &[(PlatformType::Taobao, APP, SECRET)],
        Faults::default(),
    );
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let unpaid = first(&state, "WAIT_BUYER_PAY");
    let tid = unpaid.tid.to_string();
    let pay = json!({"app_key": APP, "order_id": tid, "change": "PAY"});
    let reply = change_order(&app, "taobao", pay.clone()).await;
    assert_eq!(
        reply.json()["status"],
        "WAIT_SELLER_SEND_GOODS",
        "{}",
        reply.body
    );
    let modified = reply.json()["modified"].as_str().unwrap().to_owned();
    let at = leadgen_domain::time::parse_beijing(&modified).unwrap();
    let listed_now = listed(&app, &session, INCREMENT, around(at, 60)).await;
    let paid = find(&listed_now, &tid).expect("listed in the window of its payment");
    assert_eq!(
        (&paid["status"], &paid["pay_time"], &paid["modified"]),
        (
            &json!("WAIT_SELLER_SEND_GOODS"),
            &json!(modified),
            &json!(modified)
        )
    );
    assert!(
        paid["orders"]["order"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "WAIT_SELLER_SEND_GOODS")
    );
    // Paid once only; and now it ships.
    let reply = change_order(&app, "taobao", pay).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let ship = json!({"app_key": APP, "order_id": tid, "change": "SHIP"});
    let reply = change_order(&app, "taobao", ship).await;
    assert_eq!(
        reply.json()["status"],
        "WAIT_BUYER_CONFIRM_GOODS",
        "{}",
        reply.body
    );
}
