use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use serde_json::json;

use super::*;
use crate::faults::ErrorBurst;

const SOLD: &str = "taobao.trades.sold.get";

fn list_call(session: &str) -> Params {
    let (start, end) = (days_ago(3), now_bj());
    signed(
        SOLD,
        session,
        &[
            ("fields", "tid,status"),
            ("start_created", &start),
            ("end_created", &end),
        ],
    )
}

fn is_list(reply: &Reply) -> bool {
    reply.status == StatusCode::OK
        && serde_json::from_str::<Value>(&reply.body)
            .is_ok_and(|v| v.get("trades_sold_get_response").is_some())
}

async fn set_faults(app: &impl TestApp, body: Value) -> Reply {
    let req = TestRequest::post()
        .uri("/_sim/faults")
        .set_json(body)
        .to_request();
    send(app, req).await
}

#[actix_web::test]
async fn qps_limit_bans_the_app_key_for_a_second() {
    let state = state_with(
        42,
        Faults {
            qps_limit: Some(2),
            ..Faults::default()
        },
    );
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    assert!(is_list(&api(&app, &list_call(&session)).await));
    assert!(is_list(&api(&app, &list_call(&session)).await));
    let limited = api(&app, &list_call(&session)).await;
    assert_eq!(error_code(&limited), 7);
    let e = &limited.json()["error_response"];
    assert_eq!(e["msg"], "App Call Limited");
    assert_eq!(e["sub_code"], "accesscontrol.limited-by-app-access-count");
    assert_eq!(e["sub_msg"], "This ban will last for 1 more seconds");
    assert_eq!(
        error_code(&api(&app, &list_call(&session)).await),
        7,
        "still banned"
    );
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert!(is_list(&api(&app, &list_call(&session)).await));
}

#[actix_web::test]
async fn token_expires_after_n_calls_and_refresh_recovers() {
    let state = state_with(
        42,
        Faults {
            token_ttl_calls: Some(2),
            ..Faults::default()
        },
    );
    let app = sim!(state);
    let token = login(&app).await;
    let session = token["access_token"].as_str().unwrap();
    assert!(is_list(&api(&app, &list_call(session)).await));
    assert!(is_list(&api(&app, &list_call(session)).await));
    let expired = api(&app, &list_call(session)).await;
    assert_eq!(error_code(&expired), 27);
    assert_eq!(
        expired.json()["error_response"]["sub_code"],
        "invalid-sessionkey"
    );
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", token["refresh_token"].as_str().unwrap()),
        ("client_id", APP),
        ("client_secret", SECRET),
    ]);
    let fresh = send(&app, post_form("/taobao/token", body)).await.json();
    let new_session = fresh["access_token"].as_str().unwrap();
    assert!(is_list(&api(&app, &list_call(new_session)).await));
    assert_eq!(
        state
            .stats
            .platform(crate::taobao::PLATFORM)
            .tokens_refreshed,
        1
    );
}

#[actix_web::test]
async fn error_bursts_answer_html_with_the_status() {
    let burst = ErrorBurst {
        every: 2,
        count: 2,
        status: 503,
    };
    let state = state_with(
        42,
        Faults {
            error_burst: Some(burst),
            ..Faults::default()
        },
    );
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let reply = api(&app, &list_call(&session)).await;
        if reply.status != StatusCode::OK {
            assert!(reply.body.contains("<html>"));
            assert!(
                reply
                    .headers
                    .get(CONTENT_TYPE)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
        }
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 503, 503, 200, 200, 503]);
    let stats = state.stats.platform(crate::taobao::PLATFORM);
    assert_eq!(stats.http_faults_by_status.get("503"), Some(&3));
}

#[actix_web::test]
async fn delay_and_malformed_bodies() {
    let state = state_with(
        42,
        Faults {
            delay_ms: Some(150),
            malformed_every: Some(2),
            ..Faults::default()
        },
    );
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let started = Instant::now();
    let first = api(&app, &list_call(&session)).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(is_list(&first));
    let second = api(&app, &list_call(&session)).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.starts_with("{\"trades_sold_get_response\""));
    assert!(
        serde_json::from_str::<Value>(&second.body).is_err(),
        "truncated JSON"
    );
    assert!(is_list(&api(&app, &list_call(&session)).await));
    // Error answers are not order lists and are never truncated.
    let mut bad = list_call(&session);
    bad.insert("sign".into(), "0".into());
    for _ in 0..2 {
        assert_eq!(error_code(&api(&app, &bad).await), 25);
    }
}

#[actix_web::test]
async fn faults_switch_at_runtime_and_admin_endpoints_answer() {
    let state = state();
    let app = sim!(state);
    let health = send(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(health.status, StatusCode::OK);
    let session = token_of(&login(&app).await);
    let current = send(&app, TestRequest::get().uri("/_sim/faults").to_request())
        .await
        .json();
    assert!(current["qps_limit"].is_null() && current["error_burst"].is_null());

    let set = set_faults(
        &app,
        json!({"qps_limit": 1, "error_burst": {"every": 5, "count": 1, "status": 502}}),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let current = send(&app, TestRequest::get().uri("/_sim/faults").to_request())
        .await
        .json();
    assert_eq!(current["qps_limit"], 1);
    assert_eq!(current["error_burst"]["status"], 502);
    assert!(is_list(&api(&app, &list_call(&session)).await));
    assert_eq!(error_code(&api(&app, &list_call(&session)).await), 7);

    // Replacing the set switches off what it leaves out.
    assert_eq!(
        set_faults(&app, json!({"token_ttl_calls": 1})).await.status,
        StatusCode::OK
    );
    assert!(is_list(&api(&app, &list_call(&session)).await));
    assert_eq!(error_code(&api(&app, &list_call(&session)).await), 27);
    assert_eq!(set_faults(&app, json!({})).await.status, StatusCode::OK);
    assert!(
        is_list(&api(&app, &list_call(&session)).await),
        "counts restart when faults change"
    );

    assert_eq!(
        set_faults(&app, json!({"qps_limt": 1})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        set_faults(&app, json!({"malformed_every": 0})).await.status,
        StatusCode::BAD_REQUEST
    );
    let burst_200 = json!({"error_burst": {"every": 1, "count": 1, "status": 200}});
    assert_eq!(
        set_faults(&app, burst_200).await.status,
        StatusCode::BAD_REQUEST
    );

    let stats = send(&app, TestRequest::get().uri("/_sim/stats").to_request())
        .await
        .json();
    let taobao = &stats["platforms"]["taobao"];
    assert_eq!(stats["calls"], 5);
    assert_eq!(taobao["api_errors_by_code"]["7"], 1);
    assert_eq!(taobao["api_errors_by_code"]["27"], 1);
    assert_eq!(stats["tokens_issued"], 1);
    assert_eq!(taobao["api_calls_by_method"][SOLD], 5);
}

#[actix_web::test]
async fn admin_orders_endpoint_validates_and_filters() {
    let state = state();
    let app = sim!(state);
    let get = |q: String| {
        TestRequest::get()
            .uri(&format!("/_sim/taobao/orders?{q}"))
            .to_request()
    };
    assert_eq!(
        send(&app, get(form(&[("app_key", "nobody")]))).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&app, get(String::new())).await.status,
        StatusCode::BAD_REQUEST
    );
    let bad_time = form(&[("app_key", APP), ("start_created", "last week")]);
    assert_eq!(
        send(&app, get(bad_time)).await.status,
        StatusCode::BAD_REQUEST
    );
    let all = send(&app, get(form(&[("app_key", APP)]))).await.json();
    assert_eq!(all["count"], ORDERS);
    let anchor = state.config.anchor;
    let iso = form(&[
        ("app_key", APP),
        (
            "start_created",
            &(anchor - TimeDelta::days(10)).to_rfc3339(),
        ),
        ("end_created", &anchor.to_rfc3339()),
    ]);
    let bj = form(&[
        ("app_key", APP),
        (
            "start_created",
            &format_beijing(anchor - TimeDelta::days(10)),
        ),
        ("end_created", &format_beijing(anchor)),
    ]);
    let a = send(&app, get(iso)).await.json();
    let b = send(&app, get(bj)).await.json();
    assert_eq!(a, b);
    let n = a["count"].as_u64().unwrap();
    assert!(n > 0 && n < ORDERS as u64);
    let tids: Vec<String> = serde_json::from_value(a["tids"].clone()).unwrap();
    assert!(tids.windows(2).all(|w| w[0] < w[1]));
    let shop = send(
        &app,
        TestRequest::get()
            .uri(&format!("/_sim/taobao/shop?app_key={APP}"))
            .to_request(),
    )
    .await
    .json();
    assert_eq!(shop["orders"], ORDERS);
}
