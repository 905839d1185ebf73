//! `POST /platforms/auth` (design 2.1).

use leadgen_domain::{PlatformId, PlatformType};
use leadgen_test_support::TestBroker;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    AUTH, BASE, CALLBACK_URL, OPERATOR_NAME, SYNC, TAOBAO_AUTHORIZE_URL, VIEW, expect_envelope,
    expect_invalid_fields, page_records, spawn_app, spawn_app_with, token, token_with,
};

const APP_KEY: &str = "app-key-1234abcd";
const APP_SECRET: &str = "S3cr3t-Value-Never-Shown";
const SIGN_SECRET: &str = "extra-sign-secret-xyz";

fn valid_body() -> Value {
    json!({
        "platformType": "TAOBAO",
        "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET },
    })
}

/// Kuaishou reads one more `authInfo` key, its signing secret.
fn kuaishou_body() -> Value {
    json!({
        "platformType": "KUAISHOU",
        "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET, "signSecret": SIGN_SECRET },
    })
}

fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .expect("authUrl is a URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} is missing from {pairs:?}"))
}

#[tokio::test]
async fn create_answers_201_with_location_and_the_consent_url() {
    let app = spawn_app().await;
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &valid_body())
        .await;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("Location header");
    let body = expect_envelope(response, StatusCode::CREATED, 201).await;

    let data = &body["data"];
    let id = data["platformId"].as_i64().expect("platformId is a number");
    assert_eq!(location, format!("{BASE}/platforms/{id}"));
    assert_eq!(data["platformType"], "TAOBAO");
    assert_eq!(data["status"], "PENDING_AUTH");
    let auth_url = data["authUrl"].as_str().expect("authUrl");
    assert!(
        auth_url.starts_with(&format!("{TAOBAO_AUTHORIZE_URL}?")),
        "{auth_url}"
    );
    assert!(
        auth_url.contains(&format!("client_id={APP_KEY}")),
        "{auth_url}"
    );
    assert!(
        auth_url.contains(&format!(
            "redirect_uri={}",
            urlencoding::encode(CALLBACK_URL)
        )),
        "the configured callback, URL-encoded: {auth_url}"
    );
    let pairs = query_of(auth_url);
    assert_eq!(param(&pairs, "client_id"), APP_KEY);
    assert_eq!(param(&pairs, "redirect_uri"), CALLBACK_URL);
    let state = param(&pairs, "state");
    assert!(state.len() >= 32, "an unguessable state: {state}");

    // The row: PENDING_AUTH, the state stored only as its SHA-256.
    let row = app.platform_row(id).await;
    assert_eq!(row.tenant_id, 1);
    assert_eq!(row.platform_type, "TAOBAO");
    assert_eq!(row.app_key, APP_KEY);
    assert_eq!(row.status, "PENDING_AUTH");
    assert_eq!(row.callback_url, CALLBACK_URL);
    assert_eq!(row.redirect_url, None);
    assert_eq!(row.created_by, 7);
    let state_hash = hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        state.as_bytes(),
    ));
    assert_eq!(row.oauth_state_hash.as_deref(), Some(state_hash.as_str()));

    // The secret is sealed, bound to this row.
    assert!(!row.auth_info.contains(APP_SECRET), "{}", row.auth_info);
    let sealer = leadgen_runtime::sealer(&leadgen_test_support::crypto_settings()).expect("sealer");
    let opened = sealer
        .open(
            &leadgen_db::sealed::platform_auth("auth_info", PlatformId::new(id)),
            &row.auth_info,
        )
        .expect("auth_info opens with its row's context");
    let opened: Value = serde_json::from_str(&opened).expect("sealed JSON");
    assert_eq!(opened["appSecret"], APP_SECRET);
    assert!(
        sealer
            .open(
                &leadgen_db::sealed::platform_auth("auth_info", PlatformId::new(id + 1)),
                &row.auth_info
            )
            .is_err(),
        "a ciphertext moved to another row must not open"
    );

    // The operation log names the operator of the token and the request's trace.
    let log = app.operation_log().await;
    assert_eq!(log.len(), 1, "{log:?}");
    let entry = &log[0];
    assert_eq!(entry.tenant_id, 1);
    assert_eq!(entry.service, "auth-api");
    assert_eq!(entry.action, "PLATFORM_AUTH_CREATE");
    assert_eq!(entry.target_type, "PLATFORM_AUTH");
    assert_eq!(entry.target_ids, vec![id.to_string()]);
    assert_eq!(entry.operator_id, Some(7));
    assert_eq!(entry.operator_name.as_deref(), Some(OPERATOR_NAME));
    assert_eq!(entry.result, "SUCCESS");
    assert_eq!(entry.error_message, None);
    assert_eq!(entry.trace_id.as_deref(), body["traceId"].as_str());
}

#[tokio::test]
async fn create_never_returns_the_secret() {
    let app = spawn_app().await;
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &kuaishou_body())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let text = response.text().await.expect("body");
    assert!(!text.contains(APP_SECRET), "{text}");
    assert!(!text.contains(SIGN_SECRET), "{text}");
    assert!(!text.contains("appSecret"), "{text}");

    // The platform's own keys are sealed with the secret.
    let body: Value = serde_json::from_str(&text).expect("JSON");
    let id = body["data"]["platformId"].as_i64().expect("platformId");
    let row = app.platform_row(id).await;
    assert!(!row.auth_info.contains(SIGN_SECRET), "{}", row.auth_info);
    let sealer = leadgen_runtime::sealer(&leadgen_test_support::crypto_settings()).expect("sealer");
    let opened = sealer
        .open(
            &leadgen_db::sealed::platform_auth("auth_info", PlatformId::new(id)),
            &row.auth_info,
        )
        .expect("auth_info opens with its row's context");
    let opened: Value = serde_json::from_str(&opened).expect("sealed JSON");
    assert_eq!(opened["extra"]["signSecret"], SIGN_SECRET);
}

#[tokio::test]
async fn create_uses_the_given_callback_url_and_stores_the_redirect_url() {
    let app = spawn_app().await;
    // Our callback under its second configured host name.
    let callback =
        "https://leadgen-alt.example.com/api/v1/lead-generation/orders/platforms/auth/callback";
    let redirect = "https://app.example.com/platforms/done";
    let body = json!({
        "platformType": "TAOBAO",
        "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET, "callbackUrl": callback },
        "redirectUrl": redirect,
    });
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    let body = expect_envelope(response, StatusCode::CREATED, 201).await;
    let auth_url = body["data"]["authUrl"].as_str().expect("authUrl");
    assert!(
        auth_url.contains(&format!("redirect_uri={}", urlencoding::encode(callback))),
        "{auth_url}"
    );
    assert_eq!(param(&query_of(auth_url), "redirect_uri"), callback);

    let id = body["data"]["platformId"].as_i64().expect("platformId");
    let row = app.platform_row(id).await;
    assert_eq!(row.callback_url, callback);
    assert_eq!(row.redirect_url.as_deref(), Some(redirect));
}

#[tokio::test]
async fn create_refuses_a_callback_url_that_is_not_our_callback() {
    let app = spawn_app().await;
    let path = "/api/v1/lead-generation/orders/platforms/auth/callback";
    for callback in [
        // Another host would receive the platform's authorization code.
        "https://evil.example/steal".to_owned(),
        format!("https://evil.example{path}"),
        // Our host, but not our callback.
        "https://leadgen.example.com/api/v1/lead-generation/orders/leads".to_owned(),
        // Our callback with a query or fragment of the caller's.
        format!("https://leadgen.example.com{path}?next=https://evil.example"),
        format!("https://leadgen.example.com{path}#x"),
        // Another scheme or port than the configured origin's.
        format!("http://leadgen.example.com{path}"),
        format!("https://leadgen.example.com:8443{path}"),
        // What the parser would rewrite is not what the platform would be sent.
        format!("https://user:pw@leadgen.example.com{path}"),
        format!("https://LEADGEN.example.com{path}"),
        format!("https://leadgen.example.com:443{path}"),
        format!("https://leadgen.example.com/x/..{path}"),
        format!(" https://leadgen.example.com{path}"),
    ] {
        let body = json!({
            "platformType": "TAOBAO",
            "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET, "callbackUrl": callback },
        });
        let response = app
            .create_authorization(Some(&token(1, &[AUTH])), &body)
            .await;
        assert_eq!(
            expect_invalid_fields(response).await,
            vec!["authInfo.callbackUrl"],
            "{callback}"
        );
    }
    app.only_refused_adds().await;
    // The configured callback itself, given explicitly, is ours.
    let body = json!({
        "platformType": "TAOBAO",
        "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET, "callbackUrl": CALLBACK_URL },
    });
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    expect_envelope(response, StatusCode::CREATED, 201).await;
}

#[tokio::test]
async fn create_reports_every_invalid_field_at_once() {
    let app = spawn_app().await;
    let body = json!({
        "authInfo": { "appKey": "" },
        "redirectUrl": "not a url",
    });
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    let fields = expect_invalid_fields(response).await;
    assert!(fields.len() >= 3, "{fields:?}");
    for expected in [
        "platformType",
        "authInfo.appKey",
        "authInfo.appSecret",
        "redirectUrl",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} in {fields:?}"
        );
    }
    // Nothing was stored; the refused attempt is logged with every failed field (design 7).
    let log = app.operation_log().await;
    let [refused] = log.as_slice() else {
        panic!("one refusal logged: {log:?}")
    };
    assert_eq!(
        (
            refused.action.as_str(),
            refused.result.as_str(),
            refused.target_ids.len()
        ),
        ("PLATFORM_AUTH_CREATE", "FAILURE", 0)
    );
    let message = refused.error_message.as_deref().unwrap_or_default();
    assert!(message.starts_with("422 "), "{message}");
    for field in ["platformType", "authInfo.appKey", "redirectUrl"] {
        assert!(message.contains(field), "{field} in {message}");
    }
    let list = app.list_platforms(Some(&token(1, &[VIEW])), &[]).await;
    let list = expect_envelope(list, StatusCode::OK, 200).await;
    assert_eq!(list["data"]["total"], 0);
}

#[tokio::test]
async fn create_requires_auth_info() {
    let app = spawn_app().await;
    let response = app
        .create_authorization(
            Some(&token(1, &[AUTH])),
            &json!({ "platformType": "TAOBAO" }),
        )
        .await;
    assert_eq!(expect_invalid_fields(response).await, vec!["authInfo"]);
}

#[tokio::test]
async fn create_reports_an_overlong_app_key_and_a_bad_callback_url() {
    let app = spawn_app().await;
    let body = json!({
        "platformType": "TAOBAO",
        "authInfo": {
            "appKey": "k".repeat(129),
            "appSecret": APP_SECRET,
            "callbackUrl": "no scheme here",
        },
    });
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    assert_eq!(
        expect_invalid_fields(response).await,
        vec!["authInfo.appKey", "authInfo.callbackUrl"]
    );
}

/// A platform's own `authInfo` key holds at most 256 characters, as `appSecret` does.
#[tokio::test]
async fn create_refuses_an_overlong_platform_key() {
    let app = spawn_app().await;
    let mut body = kuaishou_body();
    body["authInfo"]["signSecret"] = json!("s".repeat(257));
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    assert_eq!(
        expect_invalid_fields(response).await,
        vec!["authInfo.signSecret"]
    );
    body["authInfo"]["signSecret"] = json!("s".repeat(256));
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    expect_envelope(response, StatusCode::CREATED, 201).await;
}

/// A tenant may have `[oauth] max_pending_per_tenant` new authorizations waiting for their
/// consent; one more is refused (429, 42906) with a `Retry-After` until the oldest lapses, and
/// nothing is stored. Another tenant is not held back, and a consent that ended frees a place.
#[tokio::test]
async fn a_tenant_with_too_many_consents_waiting_is_refused_until_one_ends() {
    let app = spawn_app_with(TestBroker::new(Vec::new()), |s| {
        s.oauth.max_pending_per_tenant = 2;
    })
    .await;
    let first = app.create_taobao(1, "app-a").await;
    app.create_taobao(1, "app-b").await;
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &valid_body())
        .await;
    let wait: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    // The oldest's link lapses 30 minutes after it was issued.
    assert!((29 * 60..=30 * 60).contains(&wait), "Retry-After {wait}");
    let body = expect_envelope(response, StatusCode::TOO_MANY_REQUESTS, 42906).await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("待完成授权")),
        "{body}"
    );
    let listed = app.list_platforms(Some(&token(1, &[VIEW])), &[]).await;
    let listed = expect_envelope(listed, StatusCode::OK, 200).await;
    assert_eq!(page_records(&listed, 2, 10, 1).len(), 2, "nothing stored");

    app.create_taobao(2, "app-a").await;
    app.set_status(first, "INVALID").await;
    app.create_taobao(1, "app-c").await;
    // A link that lapsed holds no place, marked INVALID or not yet.
    let mut conn = app.conn().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE t_ecom_platform_auth SET oauth_state_issued_at = now() - interval '31 minutes' \
             WHERE tenant_id = 1 AND status = 'PENDING_AUTH'",
        ),
        &mut conn,
    )
    .await
    .expect("lapse the links");
    app.create_taobao(1, "app-d").await;
    app.create_taobao(1, "app-e").await;
}

#[tokio::test]
async fn create_only_accepts_redirect_urls_of_the_allowed_origins() {
    let app = spawn_app_with(TestBroker::new(Vec::new()), |s| {
        s.oauth.allowed_redirect_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let body = |redirect: &str| {
        json!({
            "platformType": "TAOBAO",
            "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET },
            "redirectUrl": redirect,
        })
    };
    let response = app
        .create_authorization(
            Some(&token(1, &[AUTH])),
            &body("https://evil.example.net/steal"),
        )
        .await;
    assert_eq!(expect_invalid_fields(response).await, vec!["redirectUrl"]);
    app.only_refused_adds().await;
    // With another field failing too, both are listed.
    let response = app
        .create_authorization(
            Some(&token(1, &[AUTH])),
            &json!({
                "platformType": "TAOBAO",
                "authInfo": { "appKey": " ", "appSecret": APP_SECRET },
                "redirectUrl": "https://evil.example.net/steal",
            }),
        )
        .await;
    assert_eq!(
        expect_invalid_fields(response).await,
        vec!["authInfo.appKey", "redirectUrl"]
    );
    // Look-alikes of the allowed origin are other origins.
    for evil in [
        "https://app.example.com.evil.net/x",
        "https://app.example.com@evil.net/x",
        "http://app.example.com/x",
        "https://app.example.com:8443/x",
    ] {
        let response = app
            .create_authorization(Some(&token(1, &[AUTH])), &body(evil))
            .await;
        assert_eq!(
            expect_invalid_fields(response).await,
            vec!["redirectUrl"],
            "{evil}"
        );
    }

    let response = app
        .create_authorization(
            Some(&token(1, &[AUTH])),
            &body("https://app.example.com/platforms"),
        )
        .await;
    expect_envelope(response, StatusCode::CREATED, 201).await;
}

#[tokio::test]
async fn create_rejects_an_unknown_platform_type_with_422() {
    let app = spawn_app().await;
    for platform_type in ["TMALL", "taobao", ""] {
        let body = json!({
            "platformType": platform_type,
            "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET },
        });
        let response = app
            .create_authorization(Some(&token(1, &[AUTH])), &body)
            .await;
        assert_eq!(
            expect_invalid_fields(response).await,
            vec!["platformType"],
            "platformType {platform_type:?}"
        );
    }
}

#[tokio::test]
async fn create_refuses_a_platform_that_is_switched_off_with_40005() {
    // JD's section is left out of the configuration: the platform is switched off.
    let unsupported = &PlatformType::Jd;
    let app = spawn_app_with(TestBroker::new(Vec::new()), |s| {
        s.platforms
            .endpoints
            .remove(&leadgen_domain::PlatformType::Jd);
    })
    .await;
    let body = json!({
        "platformType": unsupported.as_str(),
        "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET },
    });
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40005).await;
    let log = app.operation_log().await;
    assert_eq!(
        log.iter()
            .map(|r| (r.action.as_str(), r.result.as_str()))
            .collect::<Vec<_>>(),
        [("PLATFORM_AUTH_CREATE", "FAILURE")]
    );
    assert!(
        log[0]
            .error_message
            .as_deref()
            .is_some_and(|m| m.starts_with("40005")),
        "{log:?}"
    );
}

#[tokio::test]
async fn create_rejects_malformed_json_with_400() {
    let app = spawn_app().await;
    for raw in [
        r#"{"platformType": "TAOBAO","#,
        "not json",
        r#"{"platformType": "TAOBAO", "authInfo": {"appKey": 12, "appSecret": "s"}}"#,
        r#"{"platformType": "TAOBAO", "authInfo": "appKey=abc"}"#,
    ] {
        let response = app
            .create_authorization_raw(Some(&token(1, &[AUTH])), raw)
            .await;
        expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    }
    assert!(app.operation_log().await.is_empty());
}

/// A body the client compressed (`Content-Encoding: gzip` or `deflate`) is read decoded: a
/// valid one is accepted, and a NUL inside it is the same 400 as in a plain body.
#[tokio::test]
async fn a_compressed_body_is_read_and_checked_decoded() {
    use std::io::Write as _;
    let compress = |encoding: &str, raw: &str| -> Vec<u8> {
        let bytes = raw.as_bytes();
        let written = match encoding {
            "gzip" => {
                let mut out =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                out.write_all(bytes).and_then(|()| out.finish())
            }
            _ => {
                let mut out =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                out.write_all(bytes).and_then(|()| out.finish())
            }
        };
        written.expect("compressed")
    };
    let app = spawn_app().await;
    let send = |encoding: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/platforms/auth"))
            .bearer_auth(token(1, &[AUTH]))
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    for encoding in ["gzip", "deflate"] {
        let valid = format!(
            r#"{{"platformType": "TAOBAO", "authInfo": {{"appKey": "{encoding}-key", "appSecret": "s"}}}}"#
        );
        let response = send(encoding, compress(encoding, &valid))
            .await
            .expect("POST");
        let created = expect_envelope(response, StatusCode::CREATED, 201).await;
        assert_eq!(
            created["data"]["status"], "PENDING_AUTH",
            "{encoding}: {created}"
        );

        let nul =
            r#"{"platformType": "TAOBAO", "authInfo": {"appKey": "a\u0000b", "appSecret": "s"}}"#;
        let response = send(encoding, compress(encoding, nul)).await.expect("POST");
        let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
        assert_eq!(body["message"], leadgen_http::nul::MESSAGE, "{encoding}");
    }
    // A body that does not decode is refused in the envelope, after the token is checked.
    let broken = || {
        app.client
            .post(app.url("/platforms/auth"))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(b"not gzip at all".to_vec())
    };
    let response = broken().send().await.expect("POST");
    expect_envelope(response, StatusCode::UNAUTHORIZED, 401).await;
    let response = broken()
        .bearer_auth(token(1, &[AUTH]))
        .send()
        .await
        .expect("POST");
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "the service's default headers"
    );
    let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    assert_eq!(body["message"], leadgen_http::nul::UNREADABLE);
}

#[tokio::test]
async fn a_nul_character_anywhere_in_the_body_answers_400_in_chinese() {
    let app = spawn_app().await;
    for raw in [
        r#"{"platformType": "TAOBAO", "authInfo": {"appKey": "a\u0000b", "appSecret": "s"}}"#,
        r#"{"platformType": "TAOBAO\u0000", "authInfo": {"appKey": "a", "appSecret": "s"}}"#,
        r#"{"platformType": "TAOBAO", "authInfo": {"appKey": "a", "appSecret": "s", "x\u0000": "1"}}"#,
        r#"{"platformType": "TAOBAO", "authInfo": {"appKey": "a", "appSecret": "s"}, "redirectUrl": "https://x.example/\u0000"}"#,
    ] {
        let response = app
            .create_authorization_raw(Some(&token(1, &[AUTH])), raw)
            .await;
        let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
        assert_eq!(body["message"], leadgen_http::nul::MESSAGE, "{raw}");
    }
    // The convention's order holds first: no valid token 401, no permission 403, no route 404,
    // a method the route does not serve 405; then the NUL's 400.
    let nul = r#"{"platformType": "TAOBAO\u0000", "authInfo": {"appKey": "a", "appSecret": "s"}}"#;
    let response = app.create_authorization_raw(None, nul).await;
    expect_envelope(response, StatusCode::UNAUTHORIZED, 401).await;
    let response = app
        .create_authorization_raw(Some(&token(1, &[VIEW])), nul)
        .await;
    expect_envelope(response, StatusCode::FORBIDDEN, 403).await;
    let response = app.list_platforms(None, &[("status", "\0")]).await;
    expect_envelope(response, StatusCode::UNAUTHORIZED, 401).await;
    let response = app
        .list_platforms(Some(&token(1, &[VIEW])), &[("status", "\0")])
        .await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    for (method, path) in [
        (reqwest::Method::GET, "/nowhere?x=%00"),
        (reqwest::Method::DELETE, "/platforms?x=%00"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(token(1, &[AUTH, VIEW]))
            .send()
            .await
            .expect("request");
        let expected: u16 = if method == reqwest::Method::GET {
            404
        } else {
            405
        };
        let status = StatusCode::from_u16(expected).expect("status");
        expect_envelope(response, status, u32::from(expected)).await;
    }
    // Malformed JSON answers in Chinese without the parser's text.
    let response = app
        .create_authorization_raw(Some(&token(1, &[AUTH])), r#"{"platformType": "TAOBAO","#)
        .await;
    let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    assert_eq!(body["message"], "请求体不是合法的 JSON", "{body}");
    assert!(app.operation_log().await.is_empty());
}

#[tokio::test]
async fn create_requires_a_valid_token_and_the_auth_permission() {
    let app = spawn_app().await;
    let body = valid_body();

    let response = app.create_authorization(None, &body).await;
    expect_envelope(response, StatusCode::UNAUTHORIZED, 401).await;

    let response = app.create_authorization(Some("garbage"), &body).await;
    expect_envelope(response, StatusCode::UNAUTHORIZED, 401).await;

    let expired = token_with(1, 7, OPERATOR_NAME, &[AUTH], -3600);
    let response = app.create_authorization(Some(&expired), &body).await;
    expect_envelope(response, StatusCode::UNAUTHORIZED, 401).await;

    let claims = leadgen_http::Claims {
        sub: 7,
        tenant_id: 1,
        name: OPERATOR_NAME.into(),
        perms: vec![AUTH.into()],
        exp: chrono::Utc::now().timestamp() + 3600,
        iss: None,
        aud: Vec::new(),
    };
    let forged = leadgen_http::auth::mint_hs256("another-secret", &claims).expect("mint");
    let response = app.create_authorization(Some(&forged), &body).await;
    expect_envelope(response, StatusCode::UNAUTHORIZED, 401).await;

    let response = app
        .create_authorization(Some(&token(1, &[SYNC, VIEW])), &body)
        .await;
    expect_envelope(response, StatusCode::FORBIDDEN, 403).await;

    // None of these stored anything.
    assert!(app.operation_log().await.is_empty());
}

#[tokio::test]
async fn without_an_allowed_origin_no_redirect_url_is_accepted() {
    let app = spawn_app_with(TestBroker::new(Vec::new()), |s| {
        s.oauth.allowed_redirect_origins = Vec::new();
    })
    .await;
    let body = json!({
        "platformType": "TAOBAO",
        "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET },
        "redirectUrl": "https://app.example.com/platforms",
    });
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    assert_eq!(expect_invalid_fields(response).await, vec!["redirectUrl"]);
}

#[tokio::test]
async fn create_rejects_redirect_urls_that_are_not_http() {
    let app = spawn_app().await;
    for redirect in [
        "javascript:alert(document.cookie)",
        "ftp://files.example.com/x",
        "mailto:someone@example.com",
    ] {
        let body = json!({
            "platformType": "TAOBAO",
            "authInfo": { "appKey": APP_KEY, "appSecret": APP_SECRET },
            "redirectUrl": redirect,
        });
        let response = app
            .create_authorization(Some(&token(1, &[AUTH])), &body)
            .await;
        assert_eq!(
            expect_invalid_fields(response).await,
            vec!["redirectUrl"],
            "redirectUrl {redirect:?}"
        );
    }
}

#[tokio::test]
async fn create_rejects_a_blank_app_key() {
    let app = spawn_app().await;
    let body = json!({
        "platformType": "TAOBAO",
        "authInfo": { "appKey": "   ", "appSecret": APP_SECRET },
    });
    let response = app
        .create_authorization(Some(&token(1, &[AUTH])), &body)
        .await;
    assert_eq!(
        expect_invalid_fields(response).await,
        vec!["authInfo.appKey"]
    );
}

#[tokio::test]
async fn a_control_character_in_the_operators_name_is_dropped_not_a_500() {
    let app = spawn_app().await;
    let odd = token_with(1, 7, "张\u{0}三\n", &[AUTH], 3600);
    let response = app.create_authorization(Some(&odd), &valid_body()).await;
    expect_envelope(response, StatusCode::CREATED, 201).await;
    let logged = app.operation_log().await;
    assert_eq!(logged[0].operator_name.as_deref(), Some("张三"));
}
