//! A body field or query parameter an endpoint does not document is refused with 400 and
//! changes nothing: a misspelled `startTime` never runs a default sync.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    AUTH, SYNC, TestApp, VIEW, expect_envelope, expect_invalid_fields, spawn_app, token,
};

const APP_KEY: &str = "strict-app-key";
const APP_SECRET: &str = "strict-app-secret";

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    perms: &[&str],
    body: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token(1, perms));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    request.send().await.expect("request")
}

async fn refused(response: reqwest::Response, message: &str) {
    let body: Value = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    assert_eq!(body["message"], message, "{body}");
}

#[tokio::test]
async fn undocumented_body_fields_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let id = app.active_taobao(1, "strict-app").await;
    let before = (app.outbox().await.len(), app.operation_log().await.len());
    use reqwest::Method as M;
    let create = json!({
        "platformType": "TAOBAO",
        "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET },
        "foo": 1,
    });
    for (method, path, perms, body, message) in [
        (
            M::POST,
            "/platforms/auth".to_owned(),
            AUTH,
            create.to_string(),
            "请求体含不支持的字段：foo",
        ),
        (
            M::POST,
            format!("/platforms/{id}/sync"),
            SYNC,
            r#"{"starttime":"2026-01-01T00:00:00Z"}"#.to_owned(),
            "请求体含不支持的字段：starttime",
        ),
        (
            M::PUT,
            format!("/platforms/{id}/status"),
            AUTH,
            r#"{"status":"DISABLED","x":1}"#.to_owned(),
            "请求体含不支持的字段：x",
        ),
        (
            M::POST,
            format!("/platforms/{id}/reauthorize"),
            AUTH,
            r#"{"foo":1}"#.to_owned(),
            "请求体含不支持的字段：foo",
        ),
        // Valid JSON of the wrong type is not "not JSON".
        (
            M::POST,
            format!("/platforms/{id}/reauthorize"),
            AUTH,
            r#"{"redirectUrl":123}"#.to_owned(),
            "请求体字段类型不正确：redirectUrl",
        ),
        (
            M::PUT,
            format!("/platforms/{id}/status"),
            AUTH,
            r#"{"status":"#.to_owned(),
            "请求体不是合法的 JSON",
        ),
    ] {
        let response = send(&app, method, &path, &[perms], Some(&body)).await;
        refused(response, message).await;
    }
    assert_eq!(
        (app.outbox().await.len(), app.operation_log().await.len()),
        before
    );
    assert_eq!(app.platform_row(id).await.status, "ACTIVE");
}

#[tokio::test]
async fn auth_info_takes_only_the_keys_its_platform_reads() {
    let app = spawn_app().await;
    let body = |platform: &str| {
        json!({
            "platformType": platform,
            "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET, "signSecret": "s" },
        })
    };
    // What authInfo holds depends on the platform (design 2.1): a key the platform does not
    // read fails its validation, 422, listed with every other failed field.
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body("TAOBAO"))
        .await;
    let answer = expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
    assert_eq!(
        (
            &answer["errors"][0]["field"],
            &answer["errors"][0]["message"]
        ),
        (
            &json!("authInfo.signSecret"),
            &json!("TAOBAO 不支持 authInfo 字段 signSecret")
        ),
        "{answer}"
    );
    let mut two_wrong = body("TAOBAO");
    two_wrong["authInfo"]["appKey"] = json!("");
    // A key no platform reads is refused whatever its value's type.
    two_wrong["authInfo"]["foo"] = json!(1);
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &two_wrong)
        .await;
    assert_eq!(
        expect_invalid_fields(response).await,
        ["authInfo.appKey", "authInfo.foo", "authInfo.signSecret"]
    );
    app.only_refused_adds().await;
    // Thousands of unknown keys fit in a body: a few are named, the rest counted.
    let mut many = body("TAOBAO");
    for i in 0..500 {
        many["authInfo"][format!("k{i:03}")] = json!(0);
    }
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &many)
        .await;
    let answer = expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
    let errors = answer["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 11, "{answer}");
    let summary: Vec<&Value> = errors.iter().filter(|e| e["field"] == "authInfo").collect();
    assert_eq!(
        summary[0]["message"], "另有 491 个 TAOBAO 不支持的 authInfo 字段",
        "{answer}"
    );
    // Kuaishou signs with it.
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body("KUAISHOU"))
        .await;
    expect_envelope(response, StatusCode::CREATED, 201).await;
    // A key sent as `null` is a key not sent: a client generated from the document sends
    // every nullable key, and another platform takes the body.
    let mut with_nulls = body("TAOBAO");
    for key in ["signSecret", "serviceId", "shopId"] {
        with_nulls["authInfo"][key] = Value::Null;
    }
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &with_nulls)
        .await;
    expect_envelope(response, StatusCode::CREATED, 201).await;
    // A key of another JSON type is the body's type error, as for the other fields.
    let mut not_text = body("KUAISHOU");
    not_text["authInfo"]["signSecret"] = json!({"a": 1});
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &not_text)
        .await;
    refused(response, "请求体字段类型不正确：authInfo.signSecret").await;
    // ... every call: without it, or with no text, the authorization is refused at once
    // rather than failing its first sync.
    for sign_secret in [None, Some(Value::Null), Some(json!("")), Some(json!("  "))] {
        let mut info = json!({ "appKey": APP_KEY, "appSecret": APP_SECRET });
        if let Some(v) = &sign_secret {
            info["signSecret"] = v.clone();
        }
        let response = app
            .create_authorization(
                Some(&token(1, &[AUTH])),
                &json!({"platformType": "KUAISHOU", "authInfo": info}),
            )
            .await;
        let body = expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
        assert_eq!(
            body["errors"][0]["field"], "authInfo.signSecret",
            "{sign_secret:?}: {body}"
        );
    }
    // One 422 names every failed field, the platform's own keys with the rest.
    let response = app
        .create_authorization(
            Some(&token(1, &[AUTH])),
            &json!({"platformType": "KUAISHOU", "authInfo": { "appKey": APP_KEY }}),
        )
        .await;
    assert_eq!(
        expect_invalid_fields(response).await,
        ["authInfo.appSecret", "authInfo.signSecret"]
    );
}

#[tokio::test]
async fn undocumented_query_parameters_are_refused_where_an_endpoint_takes_none() {
    let app = spawn_app().await;
    let id = app.active_taobao(1, "strict-app").await;
    use reqwest::Method as M;
    for (method, path, perms) in [
        (M::GET, format!("/platforms/{id}?foo=1"), VIEW),
        (M::POST, format!("/platforms/{id}/sync?foo=1"), SYNC),
        (M::DELETE, format!("/platforms/{id}?foo=1"), AUTH),
        (M::POST, "/platforms/auth?foo=1".to_owned(), AUTH),
    ] {
        let response = send(&app, method, &path, &[perms], Some("{}")).await;
        refused(response, "不支持的查询参数：foo").await;
    }
    assert_eq!(app.platform_row(id).await.status, "ACTIVE");
    // A front end's cache buster is not a parameter.
    let response = send(
        &app,
        M::GET,
        &format!("/platforms/{id}?_=1700000000000"),
        &[VIEW],
        None,
    )
    .await;
    expect_envelope(response, StatusCode::OK, 200).await;
    // Without the permission, 403 comes first.
    let response = send(
        &app,
        M::GET,
        &format!("/platforms/{id}?foo=1"),
        &[SYNC],
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// A body in another charset than UTF-8 is refused for its charset, also when its encoding puts
/// NUL bytes in it (UTF-16), which the NUL check alone would have named instead.
#[tokio::test]
async fn a_body_in_another_charset_is_refused_for_its_charset() {
    let app = spawn_app().await;
    let id = app.active_taobao(1, "strict-charset").await;
    let create = json!({
        "platformType": "TAOBAO",
        "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET },
    })
    .to_string();
    let utf16: Vec<u8> = create.encode_utf16().flat_map(u16::to_le_bytes).collect();
    for (path, perms) in [
        ("/platforms/auth".to_owned(), AUTH),
        (format!("/platforms/{id}/sync"), SYNC),
    ] {
        let response = app
            .client
            .post(app.url(&path))
            .bearer_auth(token(1, &[perms]))
            .header("content-type", "application/json; charset=utf-16")
            .body(utf16.clone())
            .send()
            .await
            .expect("request");
        refused(
            response,
            "请求体必须是 UTF-8 编码的 JSON（Content-Type 的 charset 为 utf-16）",
        )
        .await;
    }
}
