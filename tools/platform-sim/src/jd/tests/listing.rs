use std::collections::{BTreeSet, HashSet};

use super::*;
use crate::jd::orders::HISTORY_DAYS;
use crate::jd::orders_for;

/// Every page of a search, in answer order; checks `orderTotal` stays the same.
pub(super) async fn all_pages(
    app: &impl TestApp,
    token: &str,
    business: &[(&str, &str)],
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut total = None;
    for page in 1.. {
        let page_text = page.to_string();
        let mut b = business.to_vec();
        b.push(("page", &page_text));
        b.push(("page_size", "37"));
        let v = api(app, &signed(SEARCH, token, &b)).await.json();
        let result = &v[RESPONSE]["searchorderinfo_result"];
        assert_eq!(result["apiResult"]["success"], true, "{v}");
        let t = result["orderTotal"].as_u64().unwrap();
        assert_eq!(*total.get_or_insert(t), t);
        let list = result["orderInfoList"].as_array().unwrap().clone();
        let empty = list.is_empty();
        out.extend(list);
        if empty || out.len() as u64 >= t {
            assert_eq!(out.len() as u64, t);
            break;
        }
    }
    out
}

fn ids(orders: &[Value]) -> Vec<String> {
    orders
        .iter()
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect()
}

async fn admin_ids(app: &impl TestApp, start: &str, end: &str) -> Vec<String> {
    let q = [("app_key", APP), ("start", start), ("end", end)];
    admin_list(app, "/_sim/jd/orders", "order_ids", &q).await
}

#[actix_web::test]
async fn paging_window_by_window_covers_every_order_exactly_once() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let (start, end) = (days_ago(HISTORY_DAYS + 1), now_bj());
    let expected = admin_ids(&app, &start, &end).await;
    assert_eq!(expected.len(), ORDERS);
    // Month-long windows (the most JOS allows), inclusive at both ends, one second apart.
    let mut got: Vec<String> = Vec::new();
    let mut cursor = Utc::now() - TimeDelta::days(HISTORY_DAYS + 1);
    let now = Utc::now();
    while cursor <= now {
        let window_end = (cursor + TimeDelta::days(28) - TimeDelta::seconds(1)).min(now);
        let (s, e) = (format_beijing(cursor), format_beijing(window_end));
        let b = [
            ("start_date", s.as_str()),
            ("end_date", e.as_str()),
            ("order_state", ALL_STATES),
            ("optional_fields", "orderId,orderStartTime"),
            ("dateType", "1"),
            ("sortType", "1"),
        ];
        let page = all_pages(&app, &token, &b).await;
        let times: Vec<&str> = page
            .iter()
            .map(|o| o["orderStartTime"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "sortType=1: descending"
        );
        got.extend(ids(&page));
        cursor = window_end + TimeDelta::seconds(1);
    }
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "no order twice");
    got.sort();
    assert_eq!(got, expected);
}

#[actix_web::test]
async fn states_filter_and_modified_time_search() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let (start, end) = (days_ago(20), now_bj());
    let base = |states: &'static str, date_type: &'static str| {
        vec![
            ("start_date", start.clone()),
            ("end_date", end.clone()),
            ("order_state", states.to_owned()),
            ("optional_fields", "orderId,orderState,modified".to_owned()),
            ("dateType", date_type.to_owned()),
        ]
    };
    let run = |b: Vec<(&'static str, String)>| {
        let app = &app;
        let token = token.clone();
        async move {
            let pairs: Vec<(&str, &str)> = b.iter().map(|(k, v)| (*k, v.as_str())).collect();
            all_pages(app, &token, &pairs).await
        }
    };
    let all = run(base(ALL_STATES, "1")).await;
    let some = run(base("WAIT_SELLER_STOCK_OUT,FINISHED_L", "1")).await;
    assert!(some.len() < all.len(), "unlisted states are not returned");
    assert!(some.iter().all(|o| matches!(
        o["orderState"].as_str(),
        Some("WAIT_SELLER_STOCK_OUT" | "FINISHED_L")
    )));
    // By modification time: what changed in the range, ascending by `modified`.
    let modified = run(base(ALL_STATES, "0")).await;
    let (s, e) = (
        leadgen_domain::time::parse_beijing(&start).unwrap(),
        leadgen_domain::time::parse_beijing(&end).unwrap(),
    );
    let expected: HashSet<String> = orders
        .orders
        .iter()
        .filter(|o| o.modified >= s && o.modified <= e)
        .map(|o| o.order_id.to_string())
        .collect();
    assert_eq!(ids(&modified).into_iter().collect::<HashSet<_>>(), expected);
    let times: Vec<&str> = modified
        .iter()
        .map(|o| o["modified"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        orders
            .orders
            .iter()
            .any(|o| o.modified > o.created + TimeDelta::days(1))
    );
}

#[actix_web::test]
async fn orders_carry_realistic_fields_as_requested() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let b = [
        ("start_date", days_ago(30)),
        ("end_date", now_bj()),
        ("order_state", ALL_STATES.to_owned()),
        ("optional_fields", "orderId,orderState,orderPayment,consigneeInfo,itemInfoList,pin,open_id_buyer,unknownField".to_owned()),
        ("dateType", "1".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = b.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let orders = all_pages(&app, &token, &pairs).await;
    assert!(orders.len() > 100);
    for o in &orders {
        let keys: BTreeSet<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "consigneeInfo",
                "itemInfoList",
                "open_id_buyer",
                "orderId",
                "orderPayment",
                "orderState",
                "pin"
            ]
            .into_iter()
            .collect()
        );
        let c = &o["consigneeInfo"];
        for k in ["fullname", "mobile", "fullAddress"] {
            let v = c[k].as_str().unwrap();
            assert!(
                v.len() >= 40 && !v.contains('*'),
                "{k} is TDE ciphertext: {v}"
            );
        }
        assert!(c["province"].as_str().unwrap().chars().count() >= 2);
        assert!(
            o["itemInfoList"][0]["skuName"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                > 4
        );
        assert!(o["orderPayment"].as_str().unwrap().contains('.'));
    }
    let buyers: Vec<&str> = orders
        .iter()
        .map(|o| o["open_id_buyer"].as_str().unwrap())
        .collect();
    let distinct: HashSet<&str> = buyers.iter().copied().collect();
    assert!(distinct.len() < buyers.len(), "repeat buyers");
    // Same seed, same orders; another seed, other orders.
    let same = state_with(42, crate::faults::Faults::default());
    let other = state_with(7, crate::faults::Faults::default());
    let first = |s: &SimState| {
        orders_for(s, &ShopKey::default_seller(APP)).orders[0]
            .json
            .clone()
    };
    assert_eq!(first(&state), first(&same));
    assert_ne!(first(&state), first(&other));
}
