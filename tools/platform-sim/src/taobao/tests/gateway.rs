use chrono::TimeDelta;

use leadgen_platforms::sign::SignMethod;

use super::*;

const SOLD: &str = "taobao.trades.sold.get";
const INCREMENT: &str = "taobao.trades.sold.increment.get";
const FIELDS: &str = "tid,status,created";

/// Signs `p` again after it was tampered with, so only the tampered rule can fail.
fn resigned(mut p: Params) -> Params {
    resign(&mut p, SECRET, SignMethod::Md5);
    p
}

fn without(mut p: Params, key: &str) -> Params {
    p.remove(key);
    p
}

fn with(mut p: Params, key: &str, value: &str) -> Params {
    p.insert(key.into(), value.into());
    p
}

fn assert_error(reply: &Reply, code: u64, sub_code: Option<&str>, sub_msg_contains: Option<&str>) {
    assert_eq!(error_code(reply), code, "{}", reply.body);
    let e = &reply.json()["error_response"];
    assert!(e["msg"].is_string() && e["request_id"].is_string());
    if let Some(sub) = sub_code {
        assert_eq!(e["sub_code"], sub, "{e}");
    }
    if let Some(text) = sub_msg_contains {
        assert!(e["sub_msg"].as_str().unwrap_or("").contains(text), "{e}");
    }
}

#[actix_web::test]
async fn system_parameters_are_checked_strictly() {
    let state = state();
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let window = [
        ("fields", FIELDS),
        ("start_created", &days_ago(5)),
        ("end_created", &now_bj()),
    ];
    let good = signed(SOLD, &session, &window);
    assert!(
        api(&app, &good)
            .await
            .json()
            .get("trades_sold_get_response")
            .is_some()
    );

    assert_error(
        &api(&app, &resigned(without(good.clone(), "method"))).await,
        21,
        None,
        None,
    );
    assert_error(
        &api(&app, &resigned(without(good.clone(), "app_key"))).await,
        28,
        None,
        None,
    );
    assert_error(
        &api(&app, &resigned(with(good.clone(), "app_key", "nobody"))).await,
        29,
        None,
        None,
    );
    assert_error(
        &api(&app, &resigned(without(good.clone(), "timestamp"))).await,
        30,
        None,
        None,
    );
    assert_error(
        &api(&app, &without(good.clone(), "sign")).await,
        24,
        None,
        None,
    );
    assert_error(
        &api(&app, &resigned(without(good.clone(), "session"))).await,
        26,
        None,
        None,
    );
    assert_error(
        &api(&app, &resigned(with(good.clone(), "v", "1.0"))).await,
        34,
        None,
        None,
    );
    assert_error(
        &api(&app, &resigned(without(good.clone(), "v"))).await,
        32,
        None,
        None,
    );
    assert_error(
        &api(&app, &resigned(with(good.clone(), "format", "xml"))).await,
        23,
        None,
        None,
    );
    let sha1 = resigned(with(good.clone(), "sign_method", "sha1"));
    assert_error(
        &api(&app, &sha1).await,
        41,
        Some("isv.invalid-parameter"),
        Some("sign_method"),
    );

    // Stale, future and malformed timestamps.
    for ts in [
        format_beijing(Utc::now() - TimeDelta::minutes(11)),
        format_beijing(Utc::now() + TimeDelta::minutes(11)),
        Utc::now().to_rfc3339(),
        format_beijing(Utc::now() - TimeDelta::hours(8) - TimeDelta::minutes(1)),
    ] {
        assert_error(
            &api(&app, &resigned(with(good.clone(), "timestamp", &ts))).await,
            31,
            None,
            None,
        );
    }
    // Epoch milliseconds (what the Python SDKs send) are accepted.
    let ms = Utc::now().timestamp_millis().to_string();
    let reply = api(&app, &resigned(with(good.clone(), "timestamp", &ms))).await;
    assert!(
        reply.json().get("trades_sold_get_response").is_some(),
        "{}",
        reply.body
    );

    // Signatures: wrong secret, tampered value, lower-case hex, wrong method named.
    let mut wrong_secret = good.clone();
    resign(&mut wrong_secret, "not-the-secret", SignMethod::Md5);
    assert_error(&api(&app, &wrong_secret).await, 25, None, None);
    assert_error(
        &api(&app, &with(good.clone(), "page_size", "20")).await,
        25,
        None,
        None,
    );
    let lower = good["sign"].to_lowercase();
    assert_error(
        &api(&app, &with(good.clone(), "sign", &lower)).await,
        25,
        None,
        None,
    );
    assert_error(
        &api(&app, &with(good.clone(), "sign_method", "hmac")).await,
        25,
        None,
        None,
    );

    // Sessions: unknown, or issued to another app.
    let unknown = resigned(with(good.clone(), "session", "6201deadbeef"));
    assert_error(
        &api(&app, &unknown).await,
        27,
        Some("invalid-sessionkey"),
        None,
    );
    let other = signed_with(
        OTHER_APP,
        OTHER_SECRET,
        SignMethod::Md5,
        SOLD,
        &session,
        &window,
    );
    assert_error(
        &api(&app, &other).await,
        27,
        Some("invalid-sessionkey"),
        None,
    );

    assert_error(
        &api(
            &app,
            &resigned(with(good.clone(), "method", "taobao.trade.fullinfo.get")),
        )
        .await,
        22,
        None,
        None,
    );
    // GET with the same parameters behaves the same.
    assert_error(&api_get(&app, &wrong_secret).await, 25, None, None);
}

#[actix_web::test]
async fn business_arguments_are_checked() {
    let state = state();
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let now = now_bj();
    let call = |extra: &[(&str, &str)]| signed(SOLD, &session, extra);
    let base = [
        ("fields", FIELDS),
        ("start_created", &days_ago(5)),
        ("end_created", &now),
    ];

    let big_page = call(&[base[0], base[1], base[2], ("page_size", "101")]);
    assert_error(
        &api(&app, &big_page).await,
        41,
        Some("isv.invalid-parameter"),
        Some("page_size"),
    );
    let zero_page = call(&[base[0], base[1], base[2], ("page_size", "0")]);
    assert_error(
        &api(&app, &zero_page).await,
        41,
        Some("isv.invalid-parameter"),
        Some("page_size"),
    );
    let page_no = call(&[base[0], base[1], base[2], ("page_no", "0")]);
    assert_error(
        &api(&app, &page_no).await,
        41,
        Some("isv.invalid-parameter"),
        Some("page_no"),
    );
    let max_page = call(&[base[0], base[1], base[2], ("page_size", "100")]);
    assert!(
        api(&app, &max_page)
            .await
            .json()
            .get("trades_sold_get_response")
            .is_some()
    );

    let no_fields = call(&[base[1], base[2]]);
    assert_error(&api(&app, &no_fields).await, 40, None, None);
    assert!(
        api(&app, &no_fields).await.json()["error_response"]["msg"]
            .as_str()
            .unwrap()
            .contains("fields")
    );

    let old_start = days_ago(95);
    let too_old = call(&[base[0], ("start_created", &old_start), base[2]]);
    assert_error(
        &api(&app, &too_old).await,
        41,
        Some("isv.invalid-parameter"),
        Some("start_created"),
    );
    let reversed = call(&[
        base[0],
        ("start_created", &now),
        ("end_created", &days_ago(1)),
    ]);
    assert_error(
        &api(&app, &reversed).await,
        41,
        Some("isv.invalid-parameter"),
        Some("end_created"),
    );
    let bad_format = call(&[base[0], ("start_created", "2026/01/01"), base[2]]);
    assert_error(
        &api(&app, &bad_format).await,
        41,
        Some("isv.invalid-parameter"),
        Some("start_created"),
    );
    let bad_status = call(&[base[0], base[1], base[2], ("status", "PAID")]);
    assert_error(
        &api(&app, &bad_status).await,
        41,
        Some("isv.invalid-parameter"),
        Some("status"),
    );
    let bad_flag = call(&[base[0], base[1], base[2], ("use_has_next", "yes")]);
    assert_error(
        &api(&app, &bad_flag).await,
        41,
        Some("isv.invalid-parameter"),
        Some("use_has_next"),
    );

    let inc = |extra: &[(&str, &str)]| signed(INCREMENT, &session, extra);
    let two_days = inc(&[
        ("fields", FIELDS),
        ("start_modified", &days_ago(2)),
        ("end_modified", &now),
    ]);
    assert_error(
        &api(&app, &two_days).await,
        41,
        Some("isv.invalid-parameter"),
        Some("1 day"),
    );
    let missing = inc(&[("fields", FIELDS), ("end_modified", &now)]);
    assert_error(&api(&app, &missing).await, 40, None, Some("start_modified"));
    let old_window_start = days_ago(100);
    let old_window_end = days_ago(99);
    let old = inc(&[
        ("fields", FIELDS),
        ("start_modified", &old_window_start),
        ("end_modified", &old_window_end),
    ]);
    assert_error(
        &api(&app, &old).await,
        41,
        Some("isv.invalid-parameter"),
        Some("start_modified"),
    );
    let one_day = inc(&[
        ("fields", FIELDS),
        ("start_modified", &days_ago(1)),
        ("end_modified", &now),
    ]);
    let reply = api(&app, &one_day).await;
    assert!(
        reply
            .json()
            .get("trades_sold_increment_get_response")
            .is_some(),
        "{}",
        reply.body
    );

    let stats = state.stats.platform(crate::taobao::PLATFORM);
    assert!(stats.api_errors_by_code.get("41").copied().unwrap_or(0) >= 9);
}
