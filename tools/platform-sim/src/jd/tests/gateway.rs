use std::time::Duration;

use actix_web::test::TestRequest;
use serde_json::json;

use super::*;

fn business() -> Vec<(&'static str, String)> {
    vec![
        ("start_date", days_ago(2)),
        ("end_date", now_bj()),
        ("order_state", ALL_STATES.to_owned()),
        ("optional_fields", "orderId,orderState".to_owned()),
        ("dateType", "1".to_owned()),
    ]
}

fn call(token: &str) -> Params {
    let b = business();
    let pairs: Vec<(&str, &str)> = b.iter().map(|(k, v)| (*k, v.as_str())).collect();
    signed(SEARCH, token, &pairs)
}

fn with(mut p: Params, key: &str, value: &str) -> Params {
    p.insert(key.into(), value.into());
    resign(&mut p, SECRET, SignMethod::Md5);
    p
}

fn without(mut p: Params, key: &str) -> Params {
    p.remove(key);
    resign(&mut p, SECRET, SignMethod::Md5);
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
    let token = token_of(&login(&app).await);
    let ok = call(&token);
    assert!(is_list(&api(&app, &ok).await));
    let get_uri = format!("/jd/routerjson?{}", {
        let pairs: Vec<(&str, &str)> = ok.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        form(&pairs)
    });
    assert!(is_list(
        &send(&app, TestRequest::get().uri(&get_uri).to_request()).await
    ));

    let cases: Vec<(Params, &str)> = vec![
        (without(ok.clone(), "method"), "14"),
        (
            with(ok.clone(), "method", "jingdong.pop.order.delete"),
            "15",
        ),
        (without(ok.clone(), "app_key"), "21"),
        (with(ok.clone(), "app_key", "nope"), "21"),
        (without(ok.clone(), "v"), "4"),
        (with(ok.clone(), "v", "1.0"), "5"),
        (without(ok.clone(), "timestamp"), "7"),
        (with(ok.clone(), "timestamp", "2024/05/20 10:00:00"), "8"),
        (
            with(
                ok.clone(),
                "timestamp",
                &format_beijing(Utc::now() - TimeDelta::minutes(7)),
            ),
            "8",
        ),
        (with(ok.clone(), "sign_method", "sha1"), "12"),
        (with(ok.clone(), "format", "xml"), "16"),
        (without(ok.clone(), "access_token"), "19"),
        (
            with(
                ok.clone(),
                "access_token",
                "0123456789abcdef0123456789abcdef",
            ),
            "19",
        ),
    ];
    for (params, code) in cases {
        assert_eq!(error_code(&api(&app, &params).await), code, "{params:?}");
    }
    let mut unsigned = ok.clone();
    unsigned.remove("sign");
    assert_eq!(error_code(&api(&app, &unsigned).await), "11");
    let mut wrong = ok.clone();
    resign(&mut wrong, "not-the-secret", SignMethod::Md5);
    assert_eq!(error_code(&api(&app, &wrong).await), "12");
    let mut lower = ok.clone();
    let sign = lower["sign"].to_lowercase();
    lower.insert("sign".into(), sign);
    assert_eq!(error_code(&api(&app, &lower).await), "12", "upper hex only");
    let e = api(&app, &wrong).await.json();
    assert_eq!(e["error_response"]["en_desc"], "Invalid signature");
    assert!(e["error_response"]["zh_desc"].is_string());

    // Within 6 minutes, the jd-sdk timestamp form, and the hmac methods are accepted.
    let near = format_beijing(Utc::now() - TimeDelta::minutes(5));
    assert!(is_list(
        &api(&app, &with(ok.clone(), "timestamp", &near)).await
    ));
    let sdk_form = (Utc::now() + TimeDelta::hours(8))
        .format("%Y-%m-%d %H:%M:%S.000+0800")
        .to_string();
    assert!(is_list(
        &api(&app, &with(ok.clone(), "timestamp", &sdk_form)).await
    ));
    for (name, method) in [
        ("hmacmd5", SignMethod::HmacMd5),
        ("hmacsha256", SignMethod::HmacSha256),
    ] {
        let mut p = ok.clone();
        p.insert("sign_method".into(), name.into());
        resign(&mut p, SECRET, method);
        assert!(is_list(&api(&app, &p).await), "{name}");
    }
    let stats = state.stats.platform(crate::jd::PLATFORM);
    assert!(stats.api_errors_by_code.get("19").copied().unwrap_or(0) >= 2);
}

#[actix_web::test]
async fn business_failures_answer_inside_the_result() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let base = business();
    let variant = |key: &'static str, value: Option<&str>| {
        let mut b: Vec<(&str, String)> = base.iter().filter(|(k, _)| *k != key).cloned().collect();
        if let Some(v) = value {
            b.push((key, v.to_owned()));
        }
        b
    };
    let far = format_beijing(Utc::now() - TimeDelta::days(32));
    let cases = vec![
        variant("order_state", None),
        variant("order_state", Some("WAIT_SELLER_STOCK_OUT,TRADE_FINISHED")),
        variant("optional_fields", None),
        variant("start_date", Some(&far)),
        variant("start_date", None),
        variant("end_date", Some("2024-05-20")),
        variant("page_size", Some("101")),
        variant("page", Some("0")),
    ];
    for b in cases {
        let pairs: Vec<(&str, &str)> = b.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let v = api(&app, &signed(SEARCH, &token, &pairs)).await.json();
        let result = &v[RESPONSE]["searchorderinfo_result"];
        assert_eq!(v[RESPONSE]["code"], "0", "{v}");
        assert_eq!(result["apiResult"]["success"], false, "{pairs:?}: {v}");
        assert!(result["apiResult"]["numberCode"].as_u64().unwrap() > 0);
        assert!(
            result["apiResult"]["chineseErrCode"]
                .as_str()
                .unwrap()
                .len()
                > 3
        );
        assert_eq!(result["orderTotal"], 0);
    }
    let mut p = call(&token);
    p.insert("360buy_param_json".into(), "{not json".into());
    resign(&mut p, SECRET, SignMethod::Md5);
    let v = api(&app, &p).await.json();
    assert_eq!(
        v[RESPONSE]["searchorderinfo_result"]["apiResult"]["success"],
        false
    );
    // Without dates, only WAIT_SELLER_STOCK_OUT may be searched (the last month).
    let p = signed(
        SEARCH,
        &token,
        &[
            ("order_state", "WAIT_SELLER_STOCK_OUT"),
            ("optional_fields", "orderId"),
        ],
    );
    let v = api(&app, &p).await.json();
    assert_eq!(
        v[RESPONSE]["searchorderinfo_result"]["apiResult"]["success"], true,
        "{v}"
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
    let token = token_of(&login(&app).await);
    assert!(is_list(&api(&app, &call(&token)).await));
    assert!(is_list(&api(&app, &call(&token)).await));
    let limited = api(&app, &call(&token)).await;
    assert_eq!(error_code(&limited), "2");
    assert_eq!(
        limited.json()["error_response"]["en_desc"],
        "App Call Limited"
    );
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert!(is_list(&api(&app, &call(&token)).await));
    assert_eq!(
        error_code(&api(&app, &call(&token)).await),
        "19",
        "token used up"
    );

    let req = TestRequest::post()
        .uri("/_sim/faults")
        .set_json(
            json!({"error_burst": {"every": 1, "count": 1, "status": 503}, "malformed_every": 2}),
        )
        .to_request();
    assert_eq!(send(&app, req).await.status, StatusCode::OK);
    let token = token_of(&login(&app).await);
    let first = api(&app, &call(&token)).await;
    assert!(is_list(&first));
    let burst = api(&app, &call(&token)).await;
    assert_eq!(burst.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(burst.body.contains("<html>"));
    let truncated = api(&app, &call(&token)).await;
    assert_eq!(truncated.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&truncated.body).is_err());
    let stats = state.stats.platform(crate::jd::PLATFORM);
    assert_eq!(stats.http_faults_by_status.get("503"), Some(&1));
    assert_eq!(stats.malformed_responses, 1);
}
