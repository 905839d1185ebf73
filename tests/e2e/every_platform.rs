//! Every platform through the real services and gateway: authorize on the simulator's consent
//! page, sync ten days, and find exactly the simulator's orders stored and leads identified.

use std::time::Duration;

use serde_json::json;

use leadgen_e2e::system::{PLATFORMS, System};

use crate::flow::{self, Api};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_platform_syncs_end_to_end_through_the_gateway() {
    let system = System::start(&[]).await;
    let api = Api::new(&system, 3);
    let (start, end) = flow::window_days(10);
    for (platform, ..) in PLATFORMS {
        // A wrong app secret fails the code exchange, and the attempt is in the operation log.
        // Where the platform documents the refusal: refused (40003), the record INVALID. JD and
        // PDD document no token error: an answer of unknown meaning is a platform failure
        // (50201), the record kept for another try, and the log keeps the platform's words.
        let (_, _, mut wrong) = leadgen_e2e::system::app_for(platform);
        wrong["appSecret"] = json!("not-the-secret");
        let (refused_id, done) = api
            .approve_on_consent_page(&system, platform, None, wrong)
            .await;
        let (code, status) = match platform {
            "JD" | "PDD" => (50201, "PENDING_AUTH"),
            _ => (40003, "INVALID"),
        };
        assert_eq!(done["code"], code, "{platform}: {done}");
        let record = api.get(&format!("/platforms/{refused_id}")).await;
        assert_eq!(record["data"]["status"], status, "{platform}: {record}");
        let logged = api
            .get(&format!(
                "/operation-logs?targetId={refused_id}&result=FAILURE"
            ))
            .await;
        assert_eq!(logged["data"]["total"], 1, "{platform}: {logged}");
        let said = logged["data"]["records"][0]["errorMessage"]
            .as_str()
            .unwrap_or_default();
        assert!(!said.is_empty(), "{platform}: {logged}");
        if platform == "JD" {
            assert!(
                said.contains("app_secret"),
                "the platform's words: {logged}"
            );
        }

        let platform_id = api.authorize(&system, platform).await;
        let expected = api
            .simulator_orders_of(&system, platform, &start, &end)
            .await;
        assert!(
            !expected.is_empty(),
            "{platform}: the simulator holds orders in the window"
        );

        let task_id = api.request_sync(platform_id, &start, &end).await;
        let record = api.wait_for_task(task_id, Duration::from_secs(120)).await;
        assert_eq!(record["status"], "COMPLETED", "{platform}: {record}");
        assert_eq!(record["platformType"], platform);
        assert_eq!(
            record["successCount"].as_u64(),
            Some(expected.len() as u64),
            "{platform}: {record}"
        );
        flow::wait_until_settled(&system).await;
        assert_eq!(
            flow::stored_order_ids(&system, platform_id).await,
            expected,
            "{platform}: stored orders"
        );

        let leads = api
            .get(&format!("/leads?platformId={platform_id}&size=100"))
            .await;
        let total = leads["data"]["total"].as_i64().unwrap_or(0);
        assert!(total > 0, "{platform}: no leads: {leads}");
        for lead in leads["data"]["records"].as_array().into_iter().flatten() {
            assert_eq!(lead["platformType"], platform);
            let contact = lead["contactInfo"].as_str().unwrap_or_default();
            assert!(
                contact.contains('*'),
                "{platform}: contact not masked: {lead}"
            );
        }

        // A salesperson reveals a buyer's number for a call: through the platform's own decrypt
        // API, it is the number the simulator's buyer really has.
        let lead = &leads["data"]["records"][0];
        let lead_id = lead["leadId"].as_i64().expect("leadId");
        let revealed = api
            .post(
                &format!("/leads/{lead_id}/contact/reveal"),
                json!({"purpose": "FULFILMENT", "reason": "核对收货信息"}),
            )
            .await;
        assert_eq!(revealed["code"], 200, "{platform}: {revealed}");
        // The order whose contact the lead shows: not always its latest.
        let order_id = revealed["data"]["orderId"].as_str().expect("orderId");
        let truth = api.simulator_contact(&system, platform, order_id).await;
        match truth["privacy_number"].as_object() {
            Some(privacy) => {
                assert_eq!(
                    revealed["data"]["kind"], "VIRTUAL",
                    "{platform}: {revealed}"
                );
                assert_eq!(revealed["data"]["phone"], privacy["number"], "{platform}");
                assert_eq!(
                    revealed["data"]["extension"], privacy["extension"],
                    "{platform}"
                );
            }
            None => {
                assert_eq!(
                    revealed["data"]["phone"], truth["mobile"],
                    "{platform}: {revealed}"
                );
            }
        }
        // A real mobile becomes one more identity of the buyer (its blind index, never the
        // number), so the buyer merges with any lead known by it; a privacy number does not.
        let kept = flow::scalar(
            &system,
            &format!(
                "SELECT count(*) AS n FROM t_order_revealed_identity i \
                 JOIN t_ecom_order_raw r ON r.id = i.raw_order_id \
                 WHERE r.platform_id = {platform_id} AND r.order_id = '{order_id}'",
            ),
        )
        .await;
        let expected_kept = i64::from(revealed["data"]["kind"] == "PLAIN");
        assert_eq!(kept, expected_kept, "{platform}: {revealed}");
        if platform == "TAOBAO" {
            // A paused shop is authorized but not to be used: its own answer, not "authorize".
            let status = format!("/platforms/{platform_id}/status");
            let paused = api.put(&status, json!({"status": "DISABLED"})).await;
            assert_eq!(paused["code"], 200, "{paused}");
            let refused = api
                .post(
                    &format!("/leads/{lead_id}/contact/reveal"),
                    json!({"purpose": "FULFILMENT"}),
                )
                .await;
            assert_eq!(refused["code"], 40009, "{refused}");
            let resumed = api.put(&status, json!({"status": "ACTIVE"})).await;
            assert_eq!(resumed["code"], 200, "{resumed}");
            reveal_burst(&api, &leads["data"]["records"]).await;
        } else {
            // Customer care is not a purpose these platforms permit: refused, never forced.
            let refused = api
                .post(
                    &format!("/leads/{lead_id}/contact/reveal"),
                    json!({"purpose": "CUSTOMER_CARE"}),
                )
                .await;
            assert_eq!(refused["code"], 40006, "{platform}: {refused}");
        }
    }
}

/// Salespeople reveal numbers at the same moment, more at once than lead-api has database
/// connections (10): a reveal gives its connection back before calling the platform (whose
/// rate limit and token store take connections of their own), so every one is answered.
async fn reveal_burst(api: &Api, leads: &serde_json::Value) {
    let ids: Vec<i64> = leads
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["leadId"].as_i64())
        .take(16)
        .collect();
    assert!(ids.len() > 10, "enough leads for a burst: {ids:?}");
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/leads/{id}/contact/reveal"))
        .collect();
    let answers = futures::future::join_all(
        paths
            .iter()
            .map(|path| api.post(path, json!({"purpose": "CUSTOMER_CARE"}))),
    )
    .await;
    for (id, answer) in ids.iter().zip(&answers) {
        assert_eq!(answer["code"], 200, "lead {id}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_serves_prometheus_metrics_of_what_it_did() {
    let system = System::start(&[]).await;
    let api = Api::new(&system, 3);
    let (start, end) = flow::window_days(5);
    let platform_id = api.authorize(&system, "JD").await;
    let task_id = api.request_sync(platform_id, &start, &end).await;
    let record = api.wait_for_task(task_id, Duration::from_secs(120)).await;
    assert_eq!(record["status"], "COMPLETED", "{record}");
    flow::wait_until_settled(&system).await;
    let leads = api.get("/leads?size=10").await;
    assert_eq!(leads["code"], 200, "{leads}");
    let stored = record["successCount"].as_f64().unwrap_or_default();
    let unreadable = record["failureCount"].as_f64().unwrap_or_default();
    assert!(stored > 0.0, "{record}");

    let jd = "platform=\"JD\"";
    let sync_orders = system
        .metric("sync-worker", "leadgen_sync_orders_total", &[jd])
        .await;
    assert_eq!(
        sync_orders,
        stored + unreadable,
        "every order fetched is counted once"
    );
    assert!(
        system
            .metric("sync-worker", "leadgen_sync_pages_total", &[jd])
            .await
            >= 1.0
    );
    assert_eq!(
        system
            .metric(
                "sync-worker",
                "leadgen_sync_tasks_finished_total",
                &[jd, "status=\"COMPLETED\"", "cause=\"none\""]
            )
            .await,
        1.0
    );
    assert!(
        system
            .metric(
                "sync-worker",
                "leadgen_platform_calls_total",
                &[jd, "outcome=\"ok\""]
            )
            .await
            >= 1.0
    );
    assert!(
        system
            .metric(
                "sync-worker",
                "leadgen_messages_acked_total",
                &["sync-worker"]
            )
            .await
            >= 1.0
    );
    assert_eq!(
        system
            .metric(
                "order-processor",
                "leadgen_orders_processed_total",
                &["outcome=\"processed\""]
            )
            .await,
        stored
    );
    assert!(
        system
            .metric("order-processor", "leadgen_leads_created_total", &[])
            .await
            >= 1.0
    );
    // The relay measures its backlog every 5 s: it reads empty within one measurement (and
    // a gauge never set is no reading).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while system
        .sampled("order-processor", "leadgen_outbox_backlog", &[])
        .await
        != Some(0.0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox backlog gauge never read 0"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The pending sweep samples the raw orders waiting every 15 s: none once the sync settled.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let url = format!(
            "http://127.0.0.1:{}/metrics",
            system.port("order-processor")
        );
        let text = reqwest::get(&url)
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body");
        let sampled = [
            "leadgen_raw_orders_pending{",
            "leadgen_raw_orders_pending_oldest_age_seconds{",
        ]
        .iter()
        .all(|gauge| text.contains(gauge));
        let waiting = system
            .metric("order-processor", "leadgen_raw_orders_pending", &[])
            .await;
        if sampled && waiting == 0.0 {
            let age = "leadgen_raw_orders_pending_oldest_age_seconds";
            assert_eq!(system.metric("order-processor", age, &[]).await, 0.0);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the raw-order backlog gauges never read 0: sampled {sampled}, waiting {waiting}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        system
            .metric(
                "lead-api",
                "http_server_requests_total",
                &[
                    "route=\"/api/v1/lead-generation/orders/leads\"",
                    "status=\"200\"",
                    "service=\"lead-api\""
                ]
            )
            .await
            >= 1.0
    );
    assert!(
        system
            .metric(
                "auth-api",
                "http_server_request_duration_seconds_count",
                &["method=\"POST\""]
            )
            .await
            >= 1.0
    );
    // Every process reports what its readiness sees: the database, the schema and the broker up.
    for service in ["auth-api", "lead-api", "sync-worker", "order-processor"] {
        for dependency in ["database", "schema", "broker"] {
            let label = format!("dependency=\"{dependency}\"");
            assert_eq!(
                system
                    .metric(service, "leadgen_dependency_up", &[&label])
                    .await,
                1.0,
                "{service} {dependency}"
            );
        }
    }
    // The workers sample their queue, its dead-letter queue and the parked events (all empty now).
    // Sampled when consuming starts and with every dependency check (15 s): a sample that
    // timed out on a slow machine is taken again at the next check.
    for service in ["sync-worker", "order-processor"] {
        let gauges = [
            "leadgen_queue_messages",
            "leadgen_dead_letter_messages",
            "leadgen_unrouted_parked_messages",
        ];
        system
            .wait_sampled(service, &gauges, Duration::from_secs(40))
            .await;
        assert_eq!(
            system
                .metric(service, "leadgen_dead_letter_messages", &[])
                .await,
            0.0,
            "{service}"
        );
    }
}
