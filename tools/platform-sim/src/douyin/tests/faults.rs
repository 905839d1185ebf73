use std::time::{Duration, Instant};

use super::*;
use crate::faults::ErrorBurst;

fn is_list(reply: &Reply) -> bool {
    reply.status == StatusCode::OK
        && serde_json::from_str::<Value>(&reply.body)
            .is_ok_and(|v| v["code"] == 10000 && v["data"]["shop_order_list"].is_array())
}

#[actix_web::test]
async fn qps_limit_answers_60000_for_the_rest_of_a_second() {
    let state = state_with(Faults {
        qps_limit: Some(2),
        ..Faults::default()
    });
    let app = sim!(state);
    // The token call counts against the limit too.
    let token = token_of(&login(&app).await);
    assert!(is_list(&api(&app, &search(&token, 3, json!({}))).await));
    let limited = api(&app, &search(&token, 3, json!({}))).await;
    assert_eq!(code_of(&limited).0, 60000, "{}", limited.body);
    assert_eq!(limited.json()["msg"], "触发限流，请稍后重试");
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert!(is_list(&api(&app, &search(&token, 3, json!({}))).await));
}

#[actix_web::test]
async fn used_up_tokens_expire_and_refresh_recovers() {
    let state = state_with(Faults {
        token_ttl_calls: Some(2),
        ..Faults::default()
    });
    let app = sim!(state);
    let data = login(&app).await;
    let token = data["access_token"].as_str().unwrap();
    assert!(is_list(&api(&app, &search(token, 3, json!({}))).await));
    assert!(is_list(&api(&app, &search(token, 3, json!({}))).await));
    let expired = api(&app, &search(token, 3, json!({}))).await;
    assert_eq!(
        code_of(&expired),
        (40003, "isv.access-token-expired".into())
    );
    let refresh = call(
        "token.refresh",
        None,
        json!({"grant_type": "refresh_token", "refresh_token": data["refresh_token"]}),
    );
    let fresh = api(&app, &refresh).await.json();
    let new_token = fresh["data"]["access_token"].as_str().unwrap();
    assert_ne!(
        new_token, token,
        "a used-up token counts as expired: a new pair"
    );
    assert!(is_list(&api(&app, &search(new_token, 3, json!({}))).await));
}

#[actix_web::test]
async fn bursts_delays_and_truncated_lists() {
    let burst = ErrorBurst {
        every: 2,
        count: 1,
        status: 502,
    };
    let state = state_with(Faults {
        error_burst: Some(burst),
        delay_ms: Some(100),
        malformed_every: Some(2),
        ..Faults::default()
    });
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let started = Instant::now();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let reply = api(&app, &search(&token, 3, json!({}))).await;
        let kind = if reply.status == StatusCode::BAD_GATEWAY {
            assert!(reply.body.contains("<html>"));
            "502"
        } else if is_list(&reply) {
            "list"
        } else {
            assert!(reply.body.starts_with("{\"data\":{"), "{}", reply.body);
            assert!(serde_json::from_str::<Value>(&reply.body).is_err());
            "cut"
        };
        seen.push(kind);
    }
    assert!(started.elapsed() >= Duration::from_millis(500));
    // login = success 1; then: success 2 → burst; 502; list (3); cut (4th list, success 4) → burst …
    assert_eq!(seen, ["list", "502", "cut", "list", "502"]);
    let stats = state.stats.platform(crate::douyin::PLATFORM);
    assert_eq!(stats.http_faults_by_status.get("502"), Some(&2));
    assert_eq!(stats.malformed_responses, 1);
}

#[actix_web::test]
async fn admin_orders_endpoint_validates_and_filters() {
    let state = state();
    let app = sim!(state);
    let q = |pairs: &[(&str, &str)]| get(&format!("/_sim/douyin/orders?{}", form(pairs)));
    assert_eq!(send(&app, q(&[])).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        send(&app, q(&[("app_key", "nobody")])).await.status,
        StatusCode::BAD_REQUEST
    );
    let bad = q(&[("app_key", APP), ("start", "last week")]);
    assert_eq!(send(&app, bad).await.status, StatusCode::BAD_REQUEST);
    let all = send(&app, q(&[("app_key", APP)])).await.json();
    assert_eq!(all["count"], ORDERS);
    let a = anchor();
    let start = a - TimeDelta::days(10);
    let iso = send(
        &app,
        q(&[
            ("app_key", APP),
            ("start", &start.to_rfc3339()),
            ("end", &a.to_rfc3339()),
        ]),
    )
    .await
    .json();
    let unix = send(
        &app,
        q(&[
            ("app_key", APP),
            ("start", &start.timestamp().to_string()),
            ("end", &a.timestamp().to_string()),
        ]),
    )
    .await
    .json();
    let bj = send(
        &app,
        q(&[
            ("app_key", APP),
            ("start", &format_beijing(start)),
            ("end", &format_beijing(a)),
        ]),
    )
    .await
    .json();
    assert_eq!(iso, unix);
    assert_eq!(iso, bj);
    let n = iso["count"].as_u64().unwrap();
    assert!(n > 0 && n < ORDERS as u64);
}
