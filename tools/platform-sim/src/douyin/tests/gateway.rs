use chrono::TimeDelta;

use super::*;

fn tampered(c: &DyCall, key: &str, value: Option<&str>) -> DyCall {
    let mut t = DyCall {
        query: c.query.clone(),
        body: c.body.clone(),
    };
    match value {
        Some(v) => t.query.insert(key.into(), v.into()),
        None => t.query.remove(key),
    };
    resign(&mut t, SECRET);
    t
}

async fn expect(app: &impl TestApp, c: &DyCall, code: u64, sub_code: &str) {
    let reply = api(app, c).await;
    assert_eq!(
        code_of(&reply),
        (code, sub_code.to_owned()),
        "{}",
        reply.body
    );
    let v = reply.json();
    assert!(
        v["msg"].is_string() && v["log_id"].as_str().is_some_and(|l| l.len() == 32),
        "{v}"
    );
}

#[actix_web::test]
async fn system_parameters_are_checked_strictly() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let good = search(&token, 5, json!({}));
    let ok = api(&app, &good).await;
    assert_eq!(code_of(&ok), (10000, String::new()), "{}", ok.body);
    assert!(ok.json()["data"]["shop_order_list"].is_array());

    let unknown_path = api_at(&app, "order/orderDetail", &good).await;
    assert_eq!(code_of(&unknown_path).0, 70000);
    expect(
        &app,
        &tampered(&good, "app_key", None),
        40001,
        "isv.app-id-missing",
    )
    .await;
    expect(
        &app,
        &tampered(&good, "app_key", Some("7999")),
        40003,
        "isv.app-id-invalid",
    )
    .await;
    let no_method = api_at(&app, "order/searchList", &tampered(&good, "method", None)).await;
    assert_eq!(code_of(&no_method), (40001, "isv.method-missing".into()));
    let other_method = api_at(&app, "token/refresh", &good).await;
    assert_eq!(code_of(&other_method), (40003, "isv.method-invalid".into()));
    expect(
        &app,
        &tampered(&good, "v", Some("1")),
        40003,
        "isv.version-invalid",
    )
    .await;
    expect(
        &app,
        &tampered(&good, "v", None),
        40003,
        "isv.version-invalid",
    )
    .await;
    let sha1 = tampered(&good, "sign_method", Some("sha1"));
    expect(&app, &sha1, 40003, "isv.sign-method-invalid").await;

    // Timestamps: stale, future, ISO; unix seconds and md5 (sign_method absent) are accepted.
    for ts in [
        format_beijing(Utc::now() - TimeDelta::minutes(11)),
        format_beijing(Utc::now() + TimeDelta::minutes(11)),
        format_beijing(Utc::now() - TimeDelta::hours(8)),
    ] {
        expect(
            &app,
            &tampered(&good, "timestamp", Some(&ts)),
            40003,
            "isv.timestamp-invalid",
        )
        .await;
    }
    let iso = tampered(&good, "timestamp", Some(&Utc::now().to_rfc3339()));
    expect(&app, &iso, 40003, "isv.timestamp-format-error").await;
    let unix = tampered(
        &good,
        "timestamp",
        Some(&Utc::now().timestamp().to_string()),
    );
    assert_eq!(code_of(&api(&app, &unix).await).0, 10000);
    let md5 = tampered(&good, "sign_method", Some("md5"));
    assert_eq!(code_of(&api(&app, &md5).await).0, 10000);
    let implicit_md5 = tampered(&md5, "sign_method", None);
    assert_eq!(code_of(&api(&app, &implicit_md5).await).0, 10000);

    // Signatures: missing, wrong secret, upper-case hex, a body changed after signing, the
    // access token is not signed (changing it keeps the sign valid).
    let mut no_sign = tampered(&good, "v", Some("2"));
    no_sign.query.remove("sign");
    expect(&app, &no_sign, 40001, "isv.signature-missing").await;
    let mut wrong = tampered(&good, "v", Some("2"));
    resign(&mut wrong, "not-the-secret");
    expect(&app, &wrong, 40003, "isv.signature-invalid").await;
    let mut upper = tampered(&good, "v", Some("2"));
    let s = upper.query["sign"].to_uppercase();
    upper.query.insert("sign".into(), s);
    expect(&app, &upper, 40003, "isv.signature-invalid").await;
    let mut body = tampered(&good, "v", Some("2"));
    body.body = body.body.replace("\"size\":100", "\"size\":99");
    expect(&app, &body, 40003, "isv.signature-invalid").await;
    let mut unsorted = tampered(&good, "v", Some("2"));
    unsorted.body = r#"{"size":100,"page":0}"#.into();
    resign(&mut unsorted, SECRET);
    assert_eq!(
        code_of(&api(&app, &unsorted).await).0,
        10000,
        "the raw body is what is signed"
    );

    // Access tokens: missing, unknown, another app's; param_json not an object.
    let mut no_token = good.query.clone();
    no_token.remove("access_token");
    let no_token = DyCall {
        query: no_token,
        body: good.body.clone(),
    };
    expect(&app, &no_token, 40001, "isv.access-token-missing").await;
    let mut unknown = no_token.query.clone();
    unknown.insert("access_token".into(), "not-a-token".into());
    let unknown = DyCall {
        query: unknown,
        body: good.body.clone(),
    };
    expect(&app, &unknown, 40003, "isv.access-token-no-existed").await;
    let other = call_with(
        OTHER_APP,
        OTHER_SECRET,
        SignMethod::HmacSha256,
        SEARCH,
        Some(&token),
        "{}",
    );
    expect(&app, &other, 40003, "isv.access-token-invalid").await;
    let mut array = tampered(&good, "v", Some("2"));
    array.body = "[1]".into();
    resign(&mut array, SECRET);
    expect(&app, &array, 40003, "isv.parameter-format-invalid").await;
}

#[actix_web::test]
async fn business_parameters_are_checked() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    for (extra, field) in [
        (json!({"size": 101}), "size"),
        (json!({"size": 0}), "size"),
        (json!({"page": -1}), "page"),
        (json!({"order_by": "pay_time"}), "order_by"),
        (
            json!({"create_time_start": "yesterday"}),
            "create_time_start",
        ),
        (json!({"create_time_end": 1}), "create_time_end"),
        (json!({"order_asc": 1}), "order_asc"),
        (json!({"combine_status": "2"}), "combine_status"),
    ] {
        let reply = api(&app, &search(&token, 5, extra.clone())).await;
        assert_eq!(
            code_of(&reply),
            (40003, "isv.parameter-invalid".into()),
            "{extra}"
        );
        assert!(
            reply.json()["sub_msg"].as_str().unwrap().contains(field),
            "{}",
            reply.body
        );
    }
    let max = api(&app, &search(&token, 5, json!({"size": 100}))).await;
    assert_eq!(code_of(&max).0, 10000);
    let as_strings = search(&token, 5, json!({"page": "0", "size": "20"}));
    assert_eq!(code_of(&api(&app, &as_strings).await).0, 10000);
    let stats = state.stats.platform(crate::douyin::PLATFORM);
    assert_eq!(stats.api_errors_by_code.get("40003"), Some(&8));
}
