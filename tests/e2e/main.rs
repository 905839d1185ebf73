//! End to end, through the gateway: authorize a Taobao shop on the simulator's consent page,
//! sync its orders, and read the leads; with the sync-worker killed mid-sync, the
//! order-processor restarted mid-flow, and an event delivered twice. Nothing may be lost or
//! duplicated.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

mod api_contract;
mod backfill;
mod cancel;
mod chaos;
mod every_platform;
mod flow;
mod increment;
mod many_shops;
mod replicas;
mod spy;
mod token_refresh;
mod traces;

use std::collections::HashSet;
use std::time::Duration;

use leadgen_e2e::system::System;

use flow::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_to_lead_survives_crashes_restarts_and_redelivery() {
    // Tokens expire every 7 calls (a refresh mid-sync); each call takes 40 ms (room to crash).
    let mut system = System::start(&["--token-ttl-calls", "7", "--delay-ms", "40"]).await;
    let api = Api::new(&system, 1);
    let spy = spy::Spy::bind(
        &system.broker.prefix,
        &[
            "orders.fetched.v1",
            "lead.identified.v1",
            "lead.identified.v2",
            "lead.updated.v1",
        ],
    )
    .await;

    let platform_id = api.authorize_on_consent_page(&system).await;
    let (start, end) = flow::window_days(30);
    let expected = api.simulator_order_ids(&system, &start, &end).await;
    assert!(
        expected.len() > 100,
        "the simulator should hold a real shop's orders, got {}",
        expected.len()
    );

    let task_id = api.request_sync(platform_id, &start, &end).await;
    // A second request while the first runs is refused with 40901.
    let again = api
        .post(
            &format!("/platforms/{platform_id}/sync"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(again["code"], 40901, "{again}");

    // Crash the sync-worker as soon as the first page is announced, then start it again: the
    // broker redelivers SyncRequested and the task runs again from the start.
    spy.wait_for("orders.fetched.v1", 1, Duration::from_secs(60))
        .await;
    let status = system.proc("sync-worker").signal("KILL");
    assert!(!status.success());
    // Stop the order-processor gracefully mid-flow: it must exit 0 and lose nothing.
    let status = system.proc("order-processor").signal("TERM");
    assert!(
        status.success(),
        "order-processor did not exit 0 on SIGTERM: {status:?}"
    );
    system.start_service("sync-worker");
    system.start_service("order-processor");
    system.wait_ready("sync-worker").await;
    system.wait_ready("order-processor").await;

    let record = api.wait_for_task(task_id, Duration::from_secs(180)).await;
    assert_eq!(record["status"], "COMPLETED", "{record}");
    assert_eq!(
        record["successCount"].as_u64(),
        Some(expected.len() as u64),
        "{record}"
    );
    assert_eq!(record["failureCount"], 0, "{record}");
    flow::wait_until_settled(&system).await;

    // Every order of the window stored exactly once.
    let stored = flow::stored_order_ids(&system, platform_id).await;
    assert_eq!(stored, expected, "raw orders differ from the simulator's");

    // Leads: one LeadIdentified per lead, no duplicates, the API shows them all, masked.
    let leads = api.all_leads().await;
    let lead_ids: HashSet<i64> = leads
        .iter()
        .map(|l| l["leadId"].as_i64().expect("leadId"))
        .collect();
    assert_eq!(lead_ids.len(), leads.len());
    assert!(!leads.is_empty());
    let announced = spy.lead_ids().await;
    assert_eq!(
        announced.len(),
        lead_ids.len(),
        "LeadIdentified events vs leads"
    );
    assert_eq!(announced.iter().copied().collect::<HashSet<_>>(), lead_ids);
    let announced_v2 = spy.buyer_lead_ids().await;
    assert_eq!(
        announced_v2.len(),
        lead_ids.len(),
        "LeadIdentified v2 vs leads"
    );
    assert_eq!(announced_v2.into_iter().collect::<HashSet<_>>(), lead_ids);
    // One lead per buyer: every stored order belongs to exactly one lead, and repeat buyers make
    // fewer leads than orders.
    let orders_in_leads: u64 = leads
        .iter()
        .map(|l| l["orderCount"].as_u64().expect("orderCount"))
        .sum();
    assert_eq!(
        orders_in_leads,
        expected.len() as u64,
        "orders across leads"
    );
    assert!(
        leads.len() < expected.len(),
        "{} leads for {} orders",
        leads.len(),
        expected.len()
    );
    for lead in &leads {
        assert!(
            lead["scoreReasons"]
                .as_array()
                .is_some_and(|r| !r.is_empty()),
            "{lead}"
        );
        let contact = lead["contactInfo"].as_str().expect("contactInfo");
        assert!(contact.contains('*'), "contact not masked: {lead}");
        assert_eq!(lead["platformType"], "TAOBAO");
    }

    // Deliver an already-handled RawOrdersFetched again (same message id): nothing changes.
    // Once the shop's rescore is done: it comes 2 s after the last batch, and would otherwise
    // change the leads between the two looks on a slow machine.
    flow::wait_until_rescored(&system).await;
    let before = flow::counts(&system).await;
    let acked = || system.metric("order-processor", "leadgen_messages_acked_total", &[]);
    let acked_before = acked().await;
    spy.republish_first("orders.fetched.v1").await;
    // Only once order-processor has acknowledged it does "nothing changed" say anything.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked().await < acked_before + 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the redelivered event was never handled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    flow::wait_until_settled(&system).await;
    assert_eq!(
        flow::counts(&system).await,
        before,
        "a redelivered event changed state"
    );
    assert_eq!(
        spy.lead_ids().await.len(),
        announced.len(),
        "a redelivered event announced leads again"
    );

    // Nothing was dead-lettered.
    assert_eq!(spy.dead_letters().await, 0);

    // Every event published is one its committed schema accepts: the contract other teams
    // validate against is what the services send, not only the examples.
    spy.caught_up().await;
    let violations = spy.schema_violations();
    assert!(violations.is_empty(), "{violations:#?}");

    // Secrets never reach the logs: not the app secret, not the OAuth code or state.
    for name in leadgen_e2e::system::SERVICES {
        let log = std::fs::read_to_string(&system.proc(name).log).expect("service log");
        assert!(!log.is_empty(), "{name} wrote no log");
        for secret in [leadgen_e2e::system::APP_SECRET, "code=", "state="] {
            assert!(!log.contains(secret), "{name}'s log contains `{secret}`");
        }
    }

    // Another tenant sees nothing of this one.
    let other = Api::new(&system, 2);
    let page = other.get("/leads").await;
    assert_eq!(page["data"]["total"], 0, "{page}");
    let sync = other
        .post(
            &format!("/platforms/{platform_id}/sync"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(sync["code"], 404, "{sync}");
}
