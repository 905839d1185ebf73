use std::collections::BTreeSet;

use super::*;
use crate::kuaishou::orders_for;

/// Every page of one window from `""` to `"nomore"`, in answer order.
pub(super) async fn walk_window(app: &impl TestApp, token: &str, param: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut p = param.clone();
        p["cursor"] = json!(cursor);
        let v = api(app, &signed(LIST, token, &p)).await.json();
        assert_eq!(v["result"], 1, "{v}");
        let list = v["data"]["orderList"].as_array().unwrap();
        assert!(list.len() <= p["pageSize"].as_u64().unwrap() as usize);
        out.extend(list.iter().cloned());
        let next = v["data"]["cursor"].as_str().unwrap().to_owned();
        if next == "nomore" {
            break;
        }
        assert!(!list.is_empty() && next != cursor);
        cursor = next;
    }
    out
}

fn oids(orders: &[Value]) -> Vec<String> {
    orders
        .iter()
        .map(|o| o["orderBaseInfo"]["oid"].to_string())
        .collect()
}

#[actix_web::test]
async fn cursor_walks_cover_every_order_once() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let end = anchor().timestamp_millis() + 999;
    let start = end - 84 * 86_400_000;
    for sort in [1, 2] {
        let mut all = Vec::new();
        let mut begin = start;
        while begin <= end {
            let window_end = (begin + 7 * 86_400_000).min(end);
            let param = json!({"orderViewStatus": 1, "pageSize": 23, "sort": sort, "queryType": 1,
                "beginTime": begin, "endTime": window_end, "cpsType": 0});
            let orders = walk_window(&app, &token, param).await;
            let times: Vec<i64> = orders
                .iter()
                .map(|o| o["orderBaseInfo"]["createTime"].as_i64().unwrap())
                .collect();
            assert!(times.iter().all(|t| (begin..=window_end).contains(t)));
            if sort == 1 {
                assert!(times.windows(2).all(|w| w[0] >= w[1]));
            } else {
                assert!(times.windows(2).all(|w| w[0] <= w[1]));
            }
            all.extend(oids(&orders));
            begin = window_end + 1;
        }
        let unique: BTreeSet<String> = all.iter().cloned().collect();
        assert_eq!(unique.len(), all.len(), "no order twice");
        assert_eq!(unique.len(), ORDERS);
    }
    let admin = send(&app, get(&format!("/_sim/kuaishou/orders?app_key={APP}")))
        .await
        .json();
    assert_eq!(admin["count"], ORDERS);
}

#[actix_web::test]
async fn filters_and_update_time_queries() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let end = Utc::now().timestamp_millis();
    let week = |extra: Value| {
        let mut p = json!({"orderViewStatus": 1, "pageSize": 50, "sort": 1, "queryType": 1,
            "beginTime": end - 7 * 86_400_000, "endTime": end, "cpsType": 0});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    };
    let everything = walk_window(&app, &token, week(json!({}))).await;
    let ordinary = walk_window(&app, &token, week(json!({"cpsType": 1}))).await;
    let distribution = walk_window(&app, &token, week(json!({"cpsType": 2}))).await;
    assert!(!distribution.is_empty() && !ordinary.is_empty());
    assert_eq!(ordinary.len() + distribution.len(), everything.len());
    let shipped = walk_window(&app, &token, week(json!({"orderViewStatus": 4}))).await;
    assert!(shipped.iter().all(|o| o["orderBaseInfo"]["status"] == 40));
    let by_update = walk_window(&app, &token, week(json!({"queryType": 2}))).await;
    assert!(
        by_update
            .iter()
            .all(|o| o["orderBaseInfo"]["updateTime"].as_i64().unwrap() >= end - 7 * 86_400_000)
    );
    let shop = orders_for(&state, &ShopKey::default_seller(APP));
    let touched_late = shop
        .orders
        .iter()
        .filter(|o| o.updated_ms - o.created_ms > 86_400_000)
        .count();
    assert!(touched_late > 0, "modified orders");
}

#[actix_web::test]
async fn orders_look_like_kuaishous() {
    let state = state();
    let shop = orders_for(&state, &ShopKey::default_seller(APP));
    let mut virtual_numbers = 0;
    for o in &shop.orders {
        let addr = &o.json["orderAddress"];
        let base = &o.json["orderBaseInfo"];
        assert_eq!(base["sellerOpenId"], shop.shop.open_id.as_str());
        assert!(addr["desensitiseConsignee"].as_str().unwrap().contains('*'));
        assert!(addr["encryptedConsignee"].as_str().unwrap().ends_with("=="));
        if addr["encryptedMobile"] == "" {
            virtual_numbers += 1;
            let number = addr["mobile"].as_str().unwrap();
            assert!(
                leadgen_domain::contact::split_virtual(number).is_some(),
                "{number}"
            );
        } else {
            assert_eq!(addr["mobile"], "");
        }
        let item = &o.json["orderItemInfo"];
        let total = item["price"].as_i64().unwrap() * item["num"].as_i64().unwrap()
            - base["discountFee"].as_i64().unwrap()
            + base["expressFee"].as_i64().unwrap();
        assert_eq!(base["totalFee"].as_i64().unwrap(), total);
    }
    assert!(virtual_numbers > 0);
    let buyers: BTreeSet<&str> = shop
        .orders
        .iter()
        .map(|o| o.json["orderBaseInfo"]["buyerOpenId"].as_str().unwrap())
        .collect();
    assert!(buyers.len() < ORDERS, "repeat buyers");
}
