use std::collections::BTreeSet;

use super::*;
use crate::douyin::orders_for;

/// Every page of a search with `params` (page and size set here), in answer order.
pub(super) async fn all_pages(
    app: &impl TestApp,
    token: &str,
    params: Value,
    size: i64,
) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 0.. {
        let mut p = params.clone();
        p["page"] = json!(page);
        p["size"] = json!(size);
        let v = api(app, &call(SEARCH, Some(token), p)).await.json();
        assert_eq!(v["code"], 10000, "{v}");
        let data = &v["data"];
        assert_eq!(
            (data["page"].as_i64(), data["size"].as_i64()),
            (Some(page), Some(size))
        );
        let list = data["shop_order_list"].as_array().unwrap().clone();
        let total = data["total"].as_u64().unwrap() as usize;
        out.extend(list);
        if out.len() >= total {
            assert_eq!(out.len(), total);
            break;
        }
    }
    out
}

fn ids(orders: &[Value]) -> Vec<String> {
    orders
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn admin_ids(app: &impl TestApp, start: i64, end: i64) -> Vec<String> {
    let (start, end) = (start.to_string(), end.to_string());
    let q = [("app_key", APP), ("start", &start), ("end", &end)];
    admin_list(app, "/_sim/douyin/orders", "order_ids", &q).await
}

#[actix_web::test]
async fn paging_covers_every_order_exactly_once_in_both_orders() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let (start, end) = (
        (anchor() - TimeDelta::days(81)).timestamp(),
        anchor().timestamp(),
    );
    let expected = admin_ids(&app, start, end).await;
    assert_eq!(expected.len(), ORDERS);
    for asc in [true, false] {
        let params = json!({"create_time_start": start, "create_time_end": end,
            "order_by": "create_time", "order_asc": asc});
        let orders = all_pages(&app, &token, params, 37).await;
        let times: Vec<i64> = orders
            .iter()
            .map(|o| o["create_time"].as_i64().unwrap())
            .collect();
        if asc {
            assert!(times.windows(2).all(|w| w[0] <= w[1]));
        } else {
            assert!(times.windows(2).all(|w| w[0] >= w[1]));
        }
        let mut got = ids(&orders);
        let unique: BTreeSet<_> = got.iter().cloned().collect();
        assert_eq!(unique.len(), got.len(), "no order twice");
        got.sort();
        assert_eq!(got, expected);
    }
    // A narrow window: both ends inclusive, matching the admin view.
    let shop = orders_for(&state, &ShopKey::default_seller(APP));
    let t = shop.orders[ORDERS / 2].created.timestamp();
    let params = json!({"create_time_start": t, "create_time_end": t});
    let exact = all_pages(&app, &token, params, 100).await;
    assert!(!exact.is_empty());
    assert!(exact.iter().all(|o| o["create_time"] == t));
    assert_eq!(ids(&exact).len(), admin_ids(&app, t, t).await.len());
}

#[actix_web::test]
async fn update_time_ordering_and_status_filters() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let now = Utc::now().timestamp();
    let params = json!({"update_time_start": now - 30 * 86_400, "update_time_end": now,
        "order_by": "update_time"});
    let by_update = all_pages(&app, &token, params, 50).await;
    let times: Vec<i64> = by_update
        .iter()
        .map(|o| o["update_time"].as_i64().unwrap())
        .collect();
    assert!(
        !times.is_empty() && times.windows(2).all(|w| w[0] >= w[1]),
        "default descending"
    );
    let modified = by_update
        .iter()
        .filter(|o| o["update_time"].as_i64() > o["create_time"].as_i64())
        .count();
    assert!(modified > 0);
    let cancelled = json!({"combine_status": [{"order_status": "4"}]});
    let closed = all_pages(&app, &token, cancelled, 100).await;
    assert!(!closed.is_empty() && closed.iter().all(|o| o["order_status"] == 4));
    let several = json!({"combine_status": [{"order_status": "1,105"}]});
    let unpaid_or_paid = all_pages(&app, &token, several, 100).await;
    assert!(
        unpaid_or_paid
            .iter()
            .all(|o| o["order_status"] == 1 || o["order_status"] == 105)
    );
}

#[actix_web::test]
async fn orders_look_like_douyins() {
    let state = state();
    let shop = orders_for(&state, &ShopKey::default_seller(APP));
    let all: Vec<&serde_json::Map<String, Value>> = shop.orders.iter().map(|o| &o.json).collect();
    let tel =
        |o: &serde_json::Map<String, Value>| o["encrypt_post_tel"].as_str().unwrap().to_owned();
    let encrypted = all.iter().filter(|o| !tel(o).is_empty()).count();
    assert!(encrypted > ORDERS * 8 / 10);
    for o in &all {
        let t = tel(o);
        if t.is_empty() {
            let virt = o["post_tel"].as_str().unwrap();
            assert!(
                leadgen_domain::contact::split_virtual(virt).is_some(),
                "{virt}"
            );
        } else {
            assert!(t.starts_with('$') && t.ends_with("$1$$"), "{t}");
            assert_eq!(o["post_tel"], "");
        }
        let name = o["encrypt_post_receiver"].as_str().unwrap();
        assert!(name.starts_with('#') && name.ends_with("#1##"));
        assert!(o["mask_post_receiver"].as_str().unwrap().contains('*'));
        let pay = o["pay_amount"].as_i64().unwrap();
        let total = o["order_amount"].as_i64().unwrap() - o["promotion_amount"].as_i64().unwrap()
            + o["modify_amount"].as_i64().unwrap();
        assert_eq!(pay, total.max(1));
        assert!(!o["sku_order_list"].as_array().unwrap().is_empty());
    }
    assert!(
        all.iter().any(|o| o["modify_amount"].as_i64() < Some(0)),
        "price-modified orders"
    );
    // Live-stream sessions pack orders into one hour: some hour holds well over 10 orders.
    let mut per_hour = std::collections::HashMap::new();
    for o in &shop.orders {
        *per_hour.entry(o.created.timestamp() / 3600).or_insert(0) += 1;
    }
    assert!(
        per_hour.values().any(|n| *n > 20),
        "{:?}",
        per_hour.values().max()
    );
}
