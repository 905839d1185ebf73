//! Changes after the first fetch arrive, on every platform: scheduled syncs, and manual ones
//! without a start, list orders by modification time through each platform's increment API, so
//! a refund after shipping reaches the buyer's lead within one scheduled interval, or at once
//! when the merchant asks for a sync.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use leadgen_e2e::system::{PLATFORMS, System, app_for};

use crate::flow::Api;

/// Polls `probe` every 250 ms until it returns a value, or fails after `timeout` with `what`.
async fn eventually<F, Fut>(timeout: Duration, what: &str, mut probe: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How many scheduled syncs of the shop completed.
async fn completed_scheduled(api: &Api, platform_id: i64) -> usize {
    let synced = api
        .get("/sync-records?size=100&sort=syncTime&order=desc")
        .await;
    synced["data"]["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["platformId"] == platform_id)
        .filter(|r| r["trigger"] == "SCHEDULED" && r["status"] == "COMPLETED")
        .count()
}

/// Every lead of the shop (within the list's browsing window).
async fn all_leads(api: &Api, platform_id: i64) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1..=20 {
        let body = api
            .get(&format!(
                "/leads?platformId={platform_id}&size=100&page={page}"
            ))
            .await;
        let records = body["data"]["records"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let last = records.len() < 100;
        out.extend(records);
        if last {
            break;
        }
    }
    out
}

fn has_tag(lead: &Value, tag: &str) -> bool {
    lead["intentionTags"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t == tag))
}

/// Refunds, on the platform, the latest order of one lead not yet tagged 退款售后; returns the
/// lead and the order.
async fn refund_one(system: &System, platform: &str, leads: &Value) -> (Value, String) {
    let (key, ..) = app_for(platform);
    let name = platform.to_ascii_lowercase();
    for lead in leads.as_array().into_iter().flatten() {
        if has_tag(lead, "退款售后") {
            continue;
        }
        let order_id = lead["orderId"].as_str().expect("orderId");
        let answer = system
            .http
            .post(system.sim_url(&format!("/_sim/{name}/orders/change")))
            .json(&json!({"app_key": key, "order_id": order_id, "change": "REFUND"}))
            .send()
            .await
            .expect("sim change");
        if answer.status().is_success() {
            return (lead.clone(), order_id.to_owned());
        }
    }
    panic!("{platform}: no lead's latest order could be refunded: {leads}")
}

/// Waits until the lead carries 退款售后, and returns its detail.
async fn refunded_lead(api: &Api, platform: &str, lead_id: i64, order_id: &str) -> Value {
    eventually(
        Duration::from_secs(120),
        &format!("{platform}: the refund of {order_id} reaches lead {lead_id}"),
        || async {
            let detail = api.get(&format!("/leads/{lead_id}")).await;
            let data = detail["data"].clone();
            has_tag(&data, "退款售后").then_some(data)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_after_shipping_reaches_the_lead_within_one_scheduled_interval() {
    // Scheduled syncs back to back (an interval of 0 minutes, a tick of one second), windows
    // ending one second before now.
    let system = System::start_with(
        &[],
        &[
            ("LEADGEN__SYNC__SCHEDULER_ENABLED", "true"),
            ("LEADGEN__SYNC__SCHEDULE_INTERVAL_MINUTES", "0"),
            ("LEADGEN__SYNC__SCHEDULER_TICK_SECS", "1"),
            ("LEADGEN__SYNC__SETTLE_SECONDS", "1"),
        ],
    )
    .await;
    let api = Api::new(&system, 5);
    for (platform, ..) in PLATFORMS {
        let platform_id = api.authorize(&system, platform).await;

        // The first scheduled sync (by modification time, the last 30 days) brings the leads.
        eventually(
            Duration::from_secs(120),
            "a first scheduled sync",
            || async {
                completed_scheduled(&api, platform_id)
                    .await
                    .checked_sub(1)
                    .map(Value::from)
            },
        )
        .await;
        crate::flow::wait_until_settled(&system).await;
        let leads = Value::Array(all_leads(&api, platform_id).await);

        // On the platform, one buyer's latest paid order is refunded.
        let (lead, order_id) = refund_one(&system, platform, &leads).await;
        let lead_id = lead["leadId"].as_i64().expect("leadId");
        let before = api.get(&format!("/leads/{lead_id}")).await["data"]["version"].clone();

        // Within a scheduled interval the change is fetched by modification time, the order
        // reprocessed and the lead updated: 退款售后, and a new version.
        let updated = refunded_lead(&api, platform, lead_id, &order_id).await;
        assert!(
            updated["version"].as_i64() > before.as_i64(),
            "{platform}: version {before} then {updated}"
        );
        assert!(
            completed_scheduled(&api, platform_id).await >= 2,
            "{platform}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_sync_without_a_start_brings_a_refund_of_an_older_order() {
    // No scheduler: only the backfill and the merchant's sync run.
    let system = System::start_with(&[], &[("LEADGEN__OAUTH__BACKFILL_DAYS", "90")]).await;
    let api = Api::new(&system, 6);
    for (platform, ..) in PLATFORMS {
        let platform_id = api.authorize(&system, platform).await;
        // The backfill (by creation time) brings the shop's history.
        let backfill = eventually(Duration::from_secs(120), "the backfill", || async {
            let records = api
                .get(&format!("/sync-records?platformId={platform_id}"))
                .await;
            records["data"]["records"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["trigger"] == "BACKFILL" && r["status"] != "RUNNING")
                .cloned()
        })
        .await;
        assert_eq!(
            (&backfill["status"], &backfill["listing"]),
            (&json!("COMPLETED"), &json!("CREATED")),
            "{platform}: {backfill}"
        );
        crate::flow::wait_until_settled(&system).await;
        let leads = Value::Array(all_leads(&api, platform_id).await);
        let (lead, order_id) = refund_one(&system, platform, &leads).await;
        let lead_id = lead["leadId"].as_i64().expect("leadId");

        // "Sync now": the order was created weeks ago, its refund is new; a sync without a
        // start reads changes, not only orders created since the last sync.
        let answer = api
            .post(&format!("/platforms/{platform_id}/sync"), json!({}))
            .await;
        let task = answer["data"]["syncTaskId"].as_i64().expect("syncTaskId");
        let record = api.wait_for_task(task, Duration::from_secs(120)).await;
        assert_eq!(record["status"], "COMPLETED", "{platform}: {record}");
        assert_eq!(record["listing"], "MODIFIED", "{platform}: {record}");
        assert!(
            record["updatedCount"].as_i64() >= Some(1),
            "{platform}: {record}"
        );
        refunded_lead(&api, platform, lead_id, &order_id).await;
    }
}
