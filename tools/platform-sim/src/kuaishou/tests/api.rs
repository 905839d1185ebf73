use std::time::Duration;

use super::*;
use crate::faults::ErrorBurst;

fn with(p: &Params, key: &str, value: Option<&str>) -> Params {
    let mut t = p.clone();
    match value {
        Some(v) => t.insert(key.into(), v.into()),
        None => t.remove(key),
    };
    resign(&mut t, SIGN_SECRET);
    t
}

#[actix_web::test]
async fn system_parameters_are_checked_strictly() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let good = list_call(&token, 3, json!({}));
    let ok = api(&app, &good).await;
    assert_eq!(result_of(&ok), 1, "{}", ok.body);
    assert!(ok.json()["data"]["orderList"].is_array());

    let cases: Vec<(Params, &str, u64)> = vec![
        (with(&good, "appkey", None), LIST, 10),
        (with(&good, "appkey", Some("ks9")), LIST, 11),
        (with(&good, "method", None), "open/order/cursor/list", 10),
        (good.clone(), "open/order/detail", 12),
        (good.clone(), "open/order/cursor/list/x", 12),
        (with(&good, "version", Some("2")), LIST, 13),
        (with(&good, "version", None), LIST, 10),
        (with(&good, "signMethod", Some("SHA1")), LIST, 14),
        (
            with(
                &good,
                "timestamp",
                Some(&(Utc::now().timestamp_millis() - 11 * 60_000).to_string()),
            ),
            LIST,
            15,
        ),
        (
            with(
                &good,
                "timestamp",
                Some(&Utc::now().timestamp().to_string()),
            ),
            LIST,
            15,
        ),
        (
            with(&good, "timestamp", Some("2024-05-20 10:00:00")),
            LIST,
            15,
        ),
        (with(&good, "access_token", None), LIST, 10),
        (
            with(
                &good,
                "access_token",
                Some("ChFvYXV0aC5hY2Nlc3NUb2tlbhnope"),
            ),
            LIST,
            25,
        ),
        (with(&good, "param", Some("[1]")), LIST, 2001),
    ];
    for (params, path, expected) in cases {
        let path = if path == LIST {
            params
                .get("method")
                .cloned()
                .unwrap_or_default()
                .replace('.', "/")
        } else {
            path.to_owned()
        };
        let reply = api_at(&app, &path, &params).await;
        assert_eq!(
            result_of(&reply),
            expected,
            "{path} {params:?}: {}",
            reply.body
        );
        let v = reply.json();
        assert!(v["msg"].is_string() && v["error_msg"].is_string(), "{v}");
    }
    // Signatures: missing, the app secret instead of the signSecret, a changed param, upper case.
    let mut no_sign = good.clone();
    no_sign.remove("sign");
    assert_eq!(result_of(&api(&app, &no_sign).await), 10);
    let mut app_secret = good.clone();
    resign(&mut app_secret, APP_SECRET);
    assert_eq!(result_of(&api(&app, &app_secret).await), 16);
    let mut changed = good.clone();
    changed.insert(
        "param".into(),
        good["param"].replace("\"pageSize\":50", "\"pageSize\":40"),
    );
    assert_eq!(result_of(&api(&app, &changed).await), 16);
    let mut upper = good.clone();
    upper.insert("sign".into(), good["sign"].to_uppercase());
    assert_eq!(result_of(&api(&app, &upper).await), 16);
    // HMAC_SHA256 (Base64) and a POST form are accepted.
    let hmac = with(&good, "signMethod", Some("HMAC_SHA256"));
    assert_eq!(result_of(&api(&app, &hmac).await), 1);
    let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let posted = send(
        &app,
        post_form("/kuaishou/open/order/cursor/list", form(&pairs)),
    )
    .await;
    assert_eq!(result_of(&posted), 1, "{}", posted.body);
    // Another app's token; an app without a signSecret signs with its app secret.
    let other = signed_with(
        OTHER_APP,
        OTHER_SECRET,
        SignMethod::Md5,
        LIST,
        &token,
        &json!({}),
    );
    assert_eq!(result_of(&api(&app, &other).await), 25);
}

#[actix_web::test]
async fn business_parameters_are_checked() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let now = Utc::now().timestamp_millis();
    for (extra, field) in [
        (json!({"pageSize": 51}), "pageSize"),
        (json!({"pageSize": 0}), "pageSize"),
        (json!({"beginTime": now - 8 * 86_400_000i64}), "endTime"),
        (json!({"endTime": now - 5 * 86_400_000i64}), "endTime"),
        (
            json!({"beginTime": now - 91 * 86_400_000i64, "endTime": now - 90 * 86_400_000i64}),
            "beginTime",
        ),
        (json!({"queryType": 3}), "queryType"),
        (json!({"orderViewStatus": 8}), "orderViewStatus"),
        (json!({"sort": 0}), "sort"),
        (json!({"cpsType": 3}), "cpsType"),
        (json!({"cursor": "!!"}), "cursor"),
        (json!({"beginTime": "x"}), "beginTime"),
    ] {
        let reply = api(&app, &list_call(&token, 3, extra.clone())).await;
        assert_eq!(result_of(&reply), 2001, "{extra}: {}", reply.body);
        let v = reply.json();
        assert_eq!(v["msg"], "业务处理失败");
        assert!(v["error_msg"].as_str().unwrap().starts_with(field), "{v}");
    }
    let seven_days = list_call(&token, 7, json!({}));
    assert_eq!(result_of(&api(&app, &seven_days).await), 1);
}

#[actix_web::test]
async fn faults_rate_limit_expire_and_break_answers() {
    let state = state_with(Faults {
        qps_limit: Some(2),
        token_ttl_calls: Some(3),
        ..Faults::default()
    });
    let app = sim!(state);
    let tokens = login(&app).await;
    let token = token_of(&tokens);
    assert_eq!(
        result_of(&api(&app, &list_call(&token, 1, json!({}))).await),
        1
    );
    assert_eq!(
        result_of(&api(&app, &list_call(&token, 1, json!({}))).await),
        1
    );
    assert_eq!(
        result_of(&api(&app, &list_call(&token, 1, json!({}))).await),
        17
    );
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        result_of(&api(&app, &list_call(&token, 1, json!({}))).await),
        1
    );
    assert_eq!(
        result_of(&api(&app, &list_call(&token, 1, json!({}))).await),
        24
    );
    let refresh = |rt: &str| {
        let rt = rt.to_owned();
        post_form(
            "/kuaishou/oauth2/refresh_token",
            form(&[
                ("grant_type", "refresh_token"),
                ("app_id", APP),
                ("app_secret", APP_SECRET),
                ("refresh_token", &rt),
            ]),
        )
    };
    let fresh = send(&app, refresh(tokens["refresh_token"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(fresh["result"], 1, "{fresh}");
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        result_of(&api(&app, &list_call(&token_of(&fresh), 1, json!({}))).await),
        1
    );
    assert_eq!(
        result_of(&api(&app, &list_call(&token, 1, json!({}))).await),
        25,
        "retired"
    );

    let burst = ErrorBurst {
        every: 1,
        count: 1,
        status: 503,
    };
    state.faults.replace(Faults {
        error_burst: Some(burst),
        malformed_every: Some(1),
        ..Faults::default()
    });
    let fresh_token = token_of(&fresh);
    let first = api(&app, &list_call(&fresh_token, 1, json!({}))).await;
    assert!(
        first.status == StatusCode::OK && serde_json::from_str::<Value>(&first.body).is_err(),
        "cut"
    );
    let second = api(&app, &list_call(&fresh_token, 1, json!({}))).await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    let stats = state.stats.platform(crate::kuaishou::PLATFORM);
    for code in ["17", "24", "25"] {
        assert!(stats.api_errors_by_code.contains_key(code), "{code}");
    }
}
