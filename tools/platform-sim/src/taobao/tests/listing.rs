use std::collections::{BTreeSet, HashMap};

use super::*;
use crate::taobao::orders::HISTORY_DAYS;
use crate::taobao::orders_for;
use crate::taobao::trades::DEFAULT_TYPES;

const SOLD: &str = "taobao.trades.sold.get";
const INCREMENT: &str = "taobao.trades.sold.increment.get";

/// Lists every page of `method` with `extra`, returning the trades in answer order.
pub(super) async fn all_pages(
    app: &impl TestApp,
    session: &str,
    method: &str,
    extra: &[(&str, &str)],
    has_next: bool,
) -> Vec<Value> {
    let key = format!(
        "{}_response",
        method.trim_start_matches("taobao.").replace('.', "_")
    );
    let mut out = Vec::new();
    let mut total = None;
    for page in 1.. {
        let page_no = page.to_string();
        let mut args = extra.to_vec();
        args.push(("page_no", &page_no));
        args.push(("page_size", "37"));
        if has_next {
            args.push(("use_has_next", "true"));
        }
        let v = api(app, &signed(method, session, &args)).await.json();
        let r = &v[&key];
        assert!(r.is_object(), "{v}");
        let trades = r["trades"]["trade"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            r.get("trades").is_some(),
            !trades.is_empty(),
            "empty pages omit `trades`"
        );
        let count = trades.len();
        out.extend(trades);
        if has_next {
            assert!(r.get("total_results").is_none());
            if !r["has_next"].as_bool().unwrap() {
                break;
            }
        } else {
            assert!(r.get("has_next").is_none());
            let t = r["total_results"].as_u64().unwrap();
            assert_eq!(*total.get_or_insert(t), t);
            if count == 0 || out.len() as u64 >= t {
                assert_eq!(out.len() as u64, t);
                break;
            }
        }
    }
    out
}

fn tids(trades: &[Value]) -> Vec<String> {
    trades
        .iter()
        .map(|t| t["tid_str"].as_str().unwrap().to_owned())
        .collect()
}

async fn admin_tids(app: &impl TestApp, start: &str, end: &str) -> Vec<String> {
    let q = [
        ("app_key", APP),
        ("start_created", start),
        ("end_created", end),
    ];
    admin_list(app, "/_sim/taobao/orders", "tids", &q).await
}

#[actix_web::test]
async fn paging_covers_every_order_exactly_once() {
    let state = state();
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let (start, end) = (days_ago(HISTORY_DAYS + 1), now_bj());
    let expected = admin_tids(&app, &start, &end).await;
    assert_eq!(expected.len(), ORDERS);
    let args = [
        ("fields", "tid,tid_str,created,type"),
        ("start_created", &start),
        ("end_created", &end),
        ("type", ALL_TYPES),
    ];
    for has_next in [false, true] {
        let trades = all_pages(&app, &session, SOLD, &args, has_next).await;
        let mut got = tids(&trades);
        let created: Vec<&str> = trades
            .iter()
            .map(|t| t["created"].as_str().unwrap())
            .collect();
        assert!(
            created.windows(2).all(|w| w[0] >= w[1]),
            "sorted by created desc"
        );
        got.sort();
        assert_eq!(got, expected, "use_has_next={has_next}");
    }
    // The admin window is inclusive at both ends, like the API's.
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let newest = format_beijing(orders.trades[0].created);
    let exact = admin_tids(&app, &newest, &newest).await;
    let api_exact = all_pages(
        &app,
        &session,
        SOLD,
        &[
            ("fields", "tid_str"),
            ("start_created", &newest),
            ("end_created", &newest),
            ("type", ALL_TYPES),
        ],
        false,
    )
    .await;
    assert!(!exact.is_empty());
    assert_eq!(
        tids(&api_exact).into_iter().collect::<BTreeSet<_>>(),
        exact.into_iter().collect()
    );
}

#[actix_web::test]
async fn increment_pages_cover_each_window() {
    let state = state();
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let anchor = state.config.anchor;
    for days_back in [1, 3, 20] {
        let end_t = anchor - TimeDelta::days(days_back - 1);
        let start_t = end_t - TimeDelta::days(1);
        let (start, end) = (format_beijing(start_t), format_beijing(end_t));
        let args = [
            ("fields", "tid_str,modified"),
            ("start_modified", &start),
            ("end_modified", &end),
            ("type", ALL_TYPES),
        ];
        let trades = all_pages(&app, &session, INCREMENT, &args, days_back == 3).await;
        let modified: Vec<&str> = trades
            .iter()
            .map(|t| t["modified"].as_str().unwrap())
            .collect();
        assert!(
            modified.windows(2).all(|w| w[0] >= w[1]),
            "sorted by modified desc"
        );
        let mut got = tids(&trades);
        got.sort();
        let mut expected: Vec<String> = orders
            .trades
            .iter()
            .filter(|t| t.modified >= start_t && t.modified <= end_t)
            .map(|t| t.tid.to_string())
            .collect();
        expected.sort();
        assert_eq!(got, expected);
    }
}

#[actix_web::test]
async fn type_defaults_to_five_types_and_misses_the_rest() {
    let state = state();
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let (start, end) = (days_ago(HISTORY_DAYS + 1), now_bj());
    let without_type = all_pages(
        &app,
        &session,
        SOLD,
        &[
            ("fields", "tid_str,type"),
            ("start_created", &start),
            ("end_created", &end),
        ],
        false,
    )
    .await;
    let types: BTreeSet<&str> = without_type
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert!(types.iter().all(|t| DEFAULT_TYPES.contains(t)), "{types:?}");
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let expected = orders
        .trades
        .iter()
        .filter(|t| DEFAULT_TYPES.contains(&t.trade_type))
        .count();
    assert_eq!(without_type.len(), expected);
    assert!(
        without_type.len() < ORDERS / 2,
        "most orders are fixed/auction/…: {}",
        without_type.len()
    );
    let fixed = all_pages(
        &app,
        &session,
        SOLD,
        &[
            ("fields", "tid_str,type"),
            ("start_created", &start),
            ("end_created", &end),
            ("type", "fixed"),
        ],
        false,
    )
    .await;
    assert!(!fixed.is_empty() && fixed.iter().all(|t| t["type"] == "fixed"));
}

#[actix_web::test]
async fn fields_status_filters_and_realistic_content() {
    let state = state();
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let (start, end) = (days_ago(HISTORY_DAYS + 1), now_bj());
    let window = [
        ("start_created", start.as_str()),
        ("end_created", end.as_str()),
        ("type", ALL_TYPES),
    ];
    let with_fields = |fields: &'static str| {
        let mut v = window.to_vec();
        v.push(("fields", fields));
        v
    };
    let narrow = all_pages(
        &app,
        &session,
        SOLD,
        &with_fields("tid,status,orders.title,orders.refund_status,oaid"),
        false,
    )
    .await;
    for t in &narrow {
        let keys: BTreeSet<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["orders", "status", "tid"]), "{t}");
        for o in t["orders"]["order"].as_array().unwrap() {
            let keys: BTreeSet<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, BTreeSet::from(["refund_status", "title"]));
        }
    }
    let all = all_pages(&app, &session, SOLD, &with_fields("tid_str,status,type,created,pay_time,modified,buyer_nick,buyer_open_uid,receiver_name,receiver_mobile,receiver_phone,receiver_address,receiver_state,payment,total_fee,post_fee,discount_fee,orders"), false).await;
    let mut per_buyer: HashMap<&str, usize> = HashMap::new();
    let mut statuses = BTreeSet::new();
    for t in &all {
        assert!(
            t["oaid"].as_str().unwrap().len() >= 32,
            "oaid with name+mobile+address+created"
        );
        assert!(t["receiver_name"].as_str().unwrap().ends_with('*'));
        assert!(
            t["receiver_mobile"]
                .as_str()
                .unwrap()
                .starts_with("*******")
        );
        assert_eq!(t["receiver_address"], "**********");
        assert!(t["buyer_nick"].as_str().unwrap().contains("**"));
        assert!(t["modified"].as_str().unwrap() >= t["created"].as_str().unwrap());
        let status = t["status"].as_str().unwrap();
        assert_eq!(
            t.get("pay_time").is_none(),
            matches!(status, "WAIT_BUYER_PAY" | "TRADE_CLOSED_BY_TAOBAO")
                || (status == "TRADE_CLOSED"
                    && t["orders"]["order"][0]["refund_status"] != "SUCCESS"),
            "{t}"
        );
        statuses.insert(status.to_owned());
        *per_buyer
            .entry(t["buyer_open_uid"].as_str().unwrap())
            .or_default() += 1;
        let price = |k: &str| t[k].as_str().unwrap().parse::<f64>().unwrap();
        assert!(
            (price("total_fee") - price("discount_fee") + price("post_fee") - price("payment"))
                .abs()
                < 0.001
        );
    }
    let repeat_orders: usize = per_buyer.values().filter(|n| **n > 1).sum();
    assert!(
        repeat_orders * 100 / all.len() >= 15,
        "repeat buyers: {repeat_orders}"
    );
    assert!(statuses.contains("TRADE_CLOSED") && statuses.contains("TRADE_FINISHED"));

    let closed = all_pages(
        &app,
        &session,
        SOLD,
        &{
            let mut v = with_fields("tid,status");
            v.push(("status", "ALL_CLOSED"));
            v
        },
        false,
    )
    .await;
    assert!(!closed.is_empty());
    assert!(closed.iter().all(|t| matches!(
        t["status"].as_str().unwrap(),
        "TRADE_CLOSED" | "TRADE_CLOSED_BY_TAOBAO"
    )));

    // A window with no orders: no `trades` key.
    let future = format_beijing(Utc::now() + TimeDelta::minutes(5));
    let v = api(
        &app,
        &signed(
            SOLD,
            &session,
            &[
                ("fields", "tid"),
                ("start_created", &future),
                ("end_created", &future),
            ],
        ),
    )
    .await
    .json();
    assert_eq!(v["trades_sold_get_response"]["total_results"], 0);
    assert!(v["trades_sold_get_response"].get("trades").is_none());
}

#[actix_web::test]
async fn same_seed_same_orders() {
    let a = state_with(7, Faults::default());
    let b = state_with(7, Faults::default());
    let c = state_with(8, Faults::default());
    let app_a = sim!(a);
    let app_b = sim!(b);
    let app_c = sim!(c);
    let (start, end) = (days_ago(HISTORY_DAYS + 1), now_bj());
    let args = [
        (
            "fields",
            "tid,tid_str,status,created,modified,payment,receiver_name,orders",
        ),
        ("start_created", &start),
        ("end_created", &end),
        ("type", ALL_TYPES),
    ];
    let mut pages = Vec::new();
    for app in [&app_a, &app_b] {
        let session = token_of(&login(app).await);
        pages.push(api(app, &signed(SOLD, &session, &args)).await.json()["trades_sold_get_response"]["trades"].clone());
    }
    assert_eq!(pages[0], pages[1]);
    assert_eq!(
        admin_tids(&app_a, &start, &end).await,
        admin_tids(&app_b, &start, &end).await
    );
    assert_ne!(
        admin_tids(&app_a, &start, &end).await,
        admin_tids(&app_c, &start, &end).await
    );
}
