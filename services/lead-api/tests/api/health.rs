//! `/healthz`, `/readyz` and unknown paths.

use reqwest::StatusCode;

use crate::helpers::{BASE, VIEW, expect_envelope, spawn_app, token};

#[tokio::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("GET /healthz");
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["status"], "UP");
}

/// lead-api publishes only through the outbox: it starts and is ready while the broker is down
/// (a broker outage must not stop scale-ups, drains or restarts of the API), and says so.
#[tokio::test]
async fn lead_api_starts_and_is_ready_without_the_broker() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.amqp.url = "amqp://guest:guest@127.0.0.1:1/%2f".to_owned().into();
        settings.amqp.connect_timeout_ms = 300;
    })
    .await;
    let response = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("GET /readyz");
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let broker = body["data"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "broker")
        .cloned()
        .expect("a broker check");
    assert_eq!(
        (&broker["up"], &broker["required"]),
        (&false.into(), &false.into())
    );
}

#[tokio::test]
async fn readyz_reports_the_database_and_the_broker_up() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("GET /readyz");
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["status"], "UP");
    let checks = body["data"]["checks"].as_array().expect("checks");
    let database = checks
        .iter()
        .find(|c| c["name"] == "database")
        .expect("a database check");
    assert_eq!(database["up"], true);
    let broker = checks
        .iter()
        .find(|c| c["name"] == "broker")
        .expect("a broker check: lead-api publishes LeadUpdated");
    assert_eq!(broker["up"], true);
    // Reported, not required: LeadUpdated goes through the outbox, published once it is back.
    assert_eq!(broker["required"], false);
    let schema = checks
        .iter()
        .find(|c| c["name"] == "schema")
        .expect("a schema check");
    assert_eq!(
        (&schema["up"], &schema["required"]),
        (&true.into(), &true.into())
    );
}

#[tokio::test]
async fn unknown_paths_answer_404_in_the_envelope() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        &format!("{BASE}/leads/1"),
        &format!("{BASE}/platforms"),
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
