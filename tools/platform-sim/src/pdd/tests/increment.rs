//! `pdd.order.number.list.increment.get`: window limit, paging, `total_count`, filters, faults.

use super::*;
use crate::pdd::orders::PddOrder;
use crate::pdd::orders_for;

pub const INCREMENT: &str = "pdd.order.number.list.increment.get";
pub const INCREMENT_RESPONSE: &str = "order_sn_increment_get_response";

/// The parameters of one increment page over `[start, end]` (unix seconds), every status.
pub fn increment_args(start: i64, end: i64, page: u64, size: u64) -> Vec<(&'static str, String)> {
    vec![
        ("is_lucky_flag", "0".into()),
        ("order_status", "5".into()),
        ("refund_status", "5".into()),
        ("start_updated_at", start.to_string()),
        ("end_updated_at", end.to_string()),
        ("page", page.to_string()),
        ("page_size", size.to_string()),
    ]
}

/// The `order_sn_increment_get_response` of a call with `args`.
pub async fn increment(app: &impl TestApp, token: &str, args: &[(&'static str, String)]) -> Value {
    let v = api(app, &signed(INCREMENT, token, &pairs(args)))
        .await
        .json();
    assert!(v[INCREMENT_RESPONSE].is_object(), "{v}");
    v[INCREMENT_RESPONSE].clone()
}

pub fn sns_of(response: &Value) -> Vec<String> {
    response["order_sn_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_sn"].as_str().unwrap().to_owned())
        .collect()
}

/// The 30-minute window `[start, start + 1800]` ending before `before` with the most confirmed
/// orders modified in it, and those orders as the API sorts them.
pub fn busiest_window(orders: &[PddOrder], before: DateTime<Utc>) -> (i64, Vec<&PddOrder>) {
    let confirmed: Vec<&PddOrder> = orders.iter().filter(|o| o.confirmed.is_some()).collect();
    let within = |start: i64| -> Vec<&PddOrder> {
        let mut in_window: Vec<&PddOrder> = confirmed
            .iter()
            .copied()
            .filter(|o| (start..=start + 1800).contains(&o.updated.timestamp()))
            .collect();
        in_window.sort_by(|a, b| b.updated.cmp(&a.updated).then(a.order_sn.cmp(&b.order_sn)));
        in_window
    };
    let start = confirmed
        .iter()
        .map(|o| o.updated.timestamp())
        .filter(|s| s + 1800 < before.timestamp())
        .max_by_key(|s| within(*s).len())
        .unwrap();
    (start, within(start))
}

#[actix_web::test]
async fn windows_of_at_most_thirty_minutes() {
    let state = state();
    let app = sim!(state);
    let token = login(&app).await;
    let end = Utc::now().timestamp();
    let ok = increment_args(end - 1800, end, 1, 100);
    assert!(increment(&app, &token, &ok).await["total_count"].is_u64());
    for (start, stop) in [(end - 1801, end), (end, end - 1)] {
        let reply = api(
            &app,
            &signed(
                INCREMENT,
                &token,
                &pairs(&increment_args(start, stop, 1, 100)),
            ),
        )
        .await;
        assert_eq!(error_code(&reply), 10002, "{}", reply.body);
        let sub_msg = reply.json()["error_response"]["sub_msg"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            sub_msg.contains(if stop < start {
                "不能早于"
            } else {
                "30 分钟"
            }),
            "{sub_msg}"
        );
    }
    let mut no_status = increment_args(end - 60, end, 1, 100);
    no_status.retain(|(k, _)| *k != "order_status");
    assert_eq!(
        error_code(&api(&app, &signed(INCREMENT, &token, &pairs(&no_status))).await),
        10002
    );
    for (key, bad) in [
        ("page_size", "101"),
        ("page", "0"),
        ("is_lucky_flag", "3"),
        ("use_has_next", "yes"),
    ] {
        let mut args = increment_args(end - 60, end, 1, 100);
        args.retain(|(k, _)| *k != key);
        args.push((key, bad.into()));
        let reply = api(&app, &signed(INCREMENT, &token, &pairs(&args))).await;
        assert_eq!(error_code(&reply), 10002, "{key}={bad}");
    }
}

#[actix_web::test]
async fn pages_by_updated_at_descending_with_total_count() {
    let state = state();
    let app = sim!(state);
    let token = login(&app).await;
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let (start, expected) = busiest_window(&orders.orders, anchor());
    assert!(expected.len() >= 7, "a busy window: {}", expected.len());
    let expected_sns: Vec<String> = expected.iter().map(|o| o.order_sn.clone()).collect();
    let size = 3u64;
    let last = expected.len().div_ceil(3) as u64;
    let mut got = Vec::new();
    for page in 1..=last + 1 {
        let r = increment(
            &app,
            &token,
            &increment_args(start, start + 1800, page, size),
        )
        .await;
        assert_eq!(r["total_count"].as_u64(), Some(expected.len() as u64));
        assert_eq!(r["has_next"], page < last, "page {page}");
        assert!(r.get("request_id").is_none(), "as the README's sample");
        got.extend(sns_of(&r));
    }
    assert_eq!(
        got, expected_sns,
        "updated_at descending, then order_sn; page past the end empty"
    );
    // Each element is the whole order, as pdd.order.list.get lists it.
    let newest = expected[0];
    let r = increment(&app, &token, &increment_args(start, start + 1800, 1, 1)).await;
    assert_eq!(r["order_sn_list"][0], Value::Object(newest.json.clone()));
    let confirmed = newest.confirmed.unwrap().timestamp();
    let list = api(
        &app,
        &signed(LIST, &token, &pairs(&window(confirmed, confirmed))),
    )
    .await
    .json();
    let same = list[RESPONSE]["order_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_sn"] == newest.order_sn.as_str());
    assert_eq!(same, Some(&r["order_sn_list"][0]));
    // use_has_next: has_next instead of total_count.
    let mut args = increment_args(start, start + 1800, 1, size);
    args.push(("use_has_next", "true".into()));
    let r = increment(&app, &token, &args).await;
    assert!(
        r.get("total_count").is_none() && r["has_next"] == true,
        "{r}"
    );
}

/// A signed increment call with `base`, its values replaced or added by `extra`.
async fn call_with(
    app: &impl TestApp,
    token: &str,
    base: &[(&'static str, String)],
    extra: &[(&'static str, &str)],
) -> Reply {
    let mut args = base.to_vec();
    for (k, v) in extra {
        args.retain(|(key, _)| key != k);
        args.push((k, (*v).to_owned()));
    }
    api(app, &signed(INCREMENT, token, &pairs(&args))).await
}

#[actix_web::test]
async fn filters_faults_and_stats_as_for_the_list() {
    let faults = Faults {
        malformed_every: Some(3),
        ..Faults::default()
    };
    let state = state_with(42, faults);
    let app = sim!(state);
    let token = login(&app).await;
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let (start, expected) = busiest_window(&orders.orders, anchor());
    let base = increment_args(start, start + 1800, 1, 100);
    let total = |reply: Reply| reply.json()[INCREMENT_RESPONSE]["total_count"].as_u64();
    let all = call_with(&app, &token, &base, &[]).await;
    assert_eq!(total(all), Some(expected.len() as u64));
    let waiting = call_with(
        &app,
        &token,
        &base,
        &[("order_status", "1"), ("refund_status", "1")],
    );
    let count = expected
        .iter()
        .filter(|o| o.order_status == 1 && o.refund_status == 1);
    assert_eq!(total(waiting.await), Some(count.count() as u64));
    let cut = call_with(&app, &token, &base, &[("is_lucky_flag", "2")]).await;
    assert!(
        serde_json::from_str::<Value>(&cut.body).is_err(),
        "every third order list is cut: {}",
        cut.body
    );
    let lucky = call_with(&app, &token, &base, &[("is_lucky_flag", "2")]).await;
    assert_eq!(total(lucky), Some(0), "no lucky-draw orders");
    let ordinary = call_with(&app, &token, &base, &[("trade_type", "0")]).await;
    let count = expected.iter().filter(|o| o.trade_type == 0).count();
    assert_eq!(total(ordinary), Some(count as u64));
    let stats = state.stats.platform(PlatformType::Pdd);
    assert_eq!(stats.api_calls_by_method.get(INCREMENT), Some(&5));
    assert_eq!(stats.malformed_responses, 1);
}
