use std::time::Duration;

use super::*;

fn call(token: &str) -> Params {
    let now = Utc::now().timestamp();
    signed(LIST, token, &pairs(&window(now - 86_000, now)))
}

fn with(mut p: Params, key: &str, value: &str) -> Params {
    p.insert(key.into(), value.into());
    resign(&mut p, SECRET);
    p
}

fn without(mut p: Params, key: &str) -> Params {
    p.remove(key);
    resign(&mut p, SECRET);
    p
}

fn is_list(reply: &Reply) -> bool {
    reply.status == StatusCode::OK
        && serde_json::from_str::<Value>(&reply.body).is_ok_and(|v| v.get(RESPONSE).is_some())
}

#[actix_web::test]
async fn system_parameters_are_checked_strictly() {
    let state = state();
    let app = sim!(state);
    let token = login(&app).await;
    let ok = call(&token);
    assert!(is_list(&api(&app, &ok).await));
    let get_pairs: Vec<(&str, &str)> = ok.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let uri = format!("/pdd/api/router?{}", form(&get_pairs));
    assert!(is_list(
        &send(&app, TestRequest::get().uri(&uri).to_request()).await
    ));
    let ms = (Utc::now().timestamp_millis()).to_string();
    let stale = (Utc::now().timestamp() - 11 * 60).to_string();
    let cases: Vec<(Params, u64, &str)> = vec![
        (without(ok.clone(), "type"), 10001, "type-missing"),
        (
            with(ok.clone(), "type", "pdd.order.delete"),
            10001,
            "type-not-exist",
        ),
        (without(ok.clone(), "client_id"), 10016, ""),
        (with(ok.clone(), "client_id", "nope"), 10016, ""),
        (
            with(ok.clone(), "data_type", "XML"),
            10001,
            "data_type-invalid",
        ),
        (with(ok.clone(), "version", "V2"), 10001, "version-invalid"),
        (without(ok.clone(), "timestamp"), 10001, "timestamp-missing"),
        (
            with(ok.clone(), "timestamp", &ms),
            10001,
            "timestamp-invalid",
        ),
        (
            with(ok.clone(), "timestamp", &stale),
            10001,
            "timestamp-expired",
        ),
        (without(ok.clone(), "access_token"), 10019, ""),
        (
            with(
                ok.clone(),
                "access_token",
                "0123456789abcdef0123456789abcdef",
            ),
            10019,
            "",
        ),
    ];
    for (params, code, sub_code) in cases {
        let reply = api(&app, &params).await;
        assert_eq!(error_code(&reply), code, "{params:?}");
        let e = &reply.json()["error_response"];
        assert_eq!(e["sub_code"], sub_code, "{e}");
        assert!(e["error_msg"].as_str().unwrap().chars().count() > 3);
        assert!(e["request_id"].is_string());
    }
    let mut unsigned = ok.clone();
    unsigned.remove("sign");
    assert_eq!(error_code(&api(&app, &unsigned).await), 10001);
    let mut wrong = ok.clone();
    resign(&mut wrong, "not-the-secret");
    let reply = api(&app, &wrong).await;
    assert_eq!(error_code(&reply), 10001);
    assert_eq!(
        reply.json()["error_response"]["sub_code"],
        "sign-check-failure"
    );
    let mut lower = ok.clone();
    let sign = lower["sign"].to_lowercase();
    lower.insert("sign".into(), sign);
    assert_eq!(
        error_code(&api(&app, &lower).await),
        10001,
        "upper hex only"
    );
    // 9 minutes off is within tolerance; version and data_type may be left out.
    let near = (Utc::now().timestamp() - 9 * 60).to_string();
    assert!(is_list(
        &api(&app, &with(ok.clone(), "timestamp", &near)).await
    ));
    assert!(is_list(
        &api(&app, &without(without(ok.clone(), "version"), "data_type")).await
    ));
    // An empty parameter signed as `key + ""` (as some PDD SDKs do) is accepted too.
    let mut sdk = ok.clone();
    sdk.remove("sign");
    sdk.insert("trade_type".into(), String::new());
    let mut spelled = Params::new();
    let text: String = sdk.iter().map(|(k, v)| format!("{k}{v}")).collect();
    let (head, tail) = text.split_at(text.len() - 1);
    spelled.insert(head.to_owned(), tail.to_owned());
    sdk.insert(
        "sign".into(),
        sorted_concat_sign(SignMethod::Md5, SECRET, &spelled),
    );
    assert!(is_list(&api(&app, &sdk).await));
}

#[actix_web::test]
async fn business_parameters_are_checked() {
    let state = state();
    let app = sim!(state);
    let token = login(&app).await;
    let now = Utc::now().timestamp();
    let base = window(now - 3600, now);
    let variant = |key: &'static str, value: Option<&str>| {
        let mut b: Vec<(&'static str, String)> =
            base.iter().filter(|(k, _)| *k != key).cloned().collect();
        if let Some(v) = value {
            b.push((key, v.to_owned()));
        }
        b
    };
    let long = (now - 86_401).to_string();
    let late = (now - 7200).to_string();
    for b in [
        variant("order_status", None),
        variant("order_status", Some("4")),
        variant("refund_status", Some("0")),
        variant("start_confirm_at", None),
        variant("start_confirm_at", Some(&long)),
        variant("end_confirm_at", Some(&late)),
        variant("end_confirm_at", Some("2024-05-20 10:00:00")),
        variant("page_size", Some("101")),
        variant("page", Some("0")),
        variant("use_has_next", Some("yes")),
        variant("trade_type", Some("2")),
    ] {
        let reply = api(&app, &signed(LIST, &token, &pairs(&b))).await;
        assert_eq!(error_code(&reply), 10002, "{b:?}");
    }
    let exact = (now - 86_400).to_string();
    let b = variant("start_confirm_at", Some(&exact));
    assert!(
        is_list(&api(&app, &signed(LIST, &token, &pairs(&b))).await),
        "24 h exactly"
    );
}

#[actix_web::test]
async fn faults_throttle_expire_burst_and_truncate() {
    let state = state_with(
        42,
        Faults {
            qps_limit: Some(2),
            token_ttl_calls: Some(3),
            ..Faults::default()
        },
    );
    let app = sim!(state);
    let token = login(&app).await;
    assert!(is_list(&api(&app, &call(&token)).await));
    assert!(is_list(&api(&app, &call(&token)).await));
    assert_eq!(error_code(&api(&app, &call(&token)).await), 70031);
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert!(is_list(&api(&app, &call(&token)).await));
    assert_eq!(
        error_code(&api(&app, &call(&token)).await),
        10019,
        "token used up"
    );

    let req = TestRequest::post()
        .uri("/_sim/faults")
        .set_json(
            json!({"error_burst": {"every": 1, "count": 1, "status": 502}, "malformed_every": 2}),
        )
        .to_request();
    assert_eq!(send(&app, req).await.status, StatusCode::OK);
    let token = login(&app).await;
    assert!(is_list(&api(&app, &call(&token)).await));
    let burst = api(&app, &call(&token)).await;
    assert_eq!(burst.status, StatusCode::BAD_GATEWAY);
    assert!(burst.body.contains("<html>"));
    let truncated = api(&app, &call(&token)).await;
    assert_eq!(truncated.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&truncated.body).is_err());
    let stats = state.stats.platform(crate::pdd::PLATFORM);
    assert_eq!(stats.api_errors_by_code.get("70031"), Some(&1));
    assert_eq!(stats.malformed_responses, 1);
}
