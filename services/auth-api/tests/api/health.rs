//! `/healthz`, `/readyz`, unknown paths and the trace id every answer carries.

use reqwest::StatusCode;

use crate::helpers::{BASE, VIEW, expect_envelope, spawn_app, token};

#[tokio::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;
    let body = expect_envelope(app.get_root("/healthz").await, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["status"], "UP");
}

#[tokio::test]
async fn readyz_reports_the_database_and_the_broker_up() {
    let app = spawn_app().await;
    let body = expect_envelope(app.get_root("/readyz").await, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["status"], "UP");
    let checks = body["data"]["checks"].as_array().expect("checks");
    // The broker is reported but not required: requests write events to the outbox.
    for (name, required) in [("database", true), ("schema", true), ("broker", false)] {
        let check = checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} check in {checks:?}"));
        assert_eq!(check["up"], true, "{check}");
        assert_eq!(check["required"], required, "{check}");
    }
}

#[tokio::test]
async fn unknown_paths_answer_404_in_the_envelope() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        &format!("{BASE}/unknown"),
        &format!("{BASE}/platforms/1/unknown"),
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth(token(1, &[VIEW]))
            .send()
            .await
            .expect("GET");
        expect_envelope(response, StatusCode::NOT_FOUND, 404).await;
    }
}

#[tokio::test]
async fn an_incoming_traceparent_is_continued() {
    let app = spawn_app().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .client
        .get(app.url("/platforms"))
        .bearer_auth(token(1, &[VIEW]))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .expect("GET /platforms");
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["traceId"], trace_id);

    // Without one, every request gets its own trace.
    let first = expect_envelope(app.get_root("/healthz").await, StatusCode::OK, 200).await;
    let second = expect_envelope(app.get_root("/healthz").await, StatusCode::OK, 200).await;
    assert_ne!(first["traceId"], second["traceId"]);
}

#[tokio::test]
async fn the_openapi_document_and_its_page_are_served() {
    let app = spawn_app().await;
    let response = app.get_root(&format!("{BASE}/openapi.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: serde_json::Value = response.json().await.expect("JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    assert!(doc["paths"]["/leads/{leadId}/contact/reveal"]["post"].is_object());
    let response = app.get_root(&format!("{BASE}/docs")).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Scripts only from the gateway (the vendored release, checked by hash) and the page's own.
    let policy = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(policy.contains("script-src 'self' 'sha256-"), "{policy}");
    let page = response.text().await.expect("HTML");
    assert!(page.contains("openapi.json"));
    assert!(
        !page.contains("https://"),
        "nothing from the internet: {page}"
    );
    for (file, content_type) in [
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ] {
        let tag = page
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} on the page"));
        assert!(tag.contains("integrity=\"sha384-"), "{tag}");
        let src = tag
            .split('"')
            .find(|part| part.ends_with(file))
            .expect("the file's address");
        let asset = app.get_root(&format!("{BASE}/{src}")).await;
        assert_eq!(asset.status(), StatusCode::OK, "{src}");
        assert_eq!(
            asset
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some(content_type)
        );
        assert!(asset.bytes().await.expect("body").len() > 100_000, "{src}");
    }
}
