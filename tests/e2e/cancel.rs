//! Cancelling a running sync through the gateway: the task ends CANCELLED at once, the worker
//! stops between pages within seconds (no page is counted after), and the shop syncs again.

use std::time::{Duration, Instant};

use serde_json::json;

use leadgen_e2e::system::System;

use crate::flow::{self, Api};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_sync_stops_between_pages_and_the_shop_syncs_again() {
    // Every platform call takes 150 ms: a 60-day sync is still running when it is cancelled.
    let system = System::start(&["--delay-ms", "150"]).await;
    let api = Api::new(&system, 4);
    let platform_id = api.authorize(&system, "TAOBAO").await;
    let (start, end) = flow::window_days(60);
    let task_id = api.request_sync(platform_id, &start, &end).await;
    let pages =
        format!("SELECT pages_fetched::BIGINT AS n FROM t_ecom_sync_task WHERE id = {task_id}");

    let deadline = Instant::now() + Duration::from_secs(60);
    while flow::scalar(&system, &pages).await < 2 {
        assert!(Instant::now() < deadline, "the sync never fetched a page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancelled = api
        .post(&format!("/sync-records/{task_id}/cancel"), json!({}))
        .await;
    assert_eq!(cancelled["code"], 200, "{cancelled}");
    assert_eq!(cancelled["data"]["status"], "CANCELLED");

    // Within seconds the worker stops calling the platform: at most the page in flight.
    let calls = || async {
        let stats: serde_json::Value = system
            .http
            .get(system.sim_url("/_sim/stats"))
            .send()
            .await
            .expect("sim stats")
            .json()
            .await
            .expect("stats JSON");
        stats["platforms"]["taobao"]["api_calls"]
            .as_u64()
            .unwrap_or_else(|| panic!("no Taobao call count in {stats}"))
    };
    // The run ends (it logs SYNC_RUN) within seconds, and calls nothing after: its walk joins
    // the page it fetched ahead before it returns.
    let ended = format!(
        "SELECT count(*) AS n FROM t_operation_log WHERE action = 'SYNC_RUN' \
         AND '{task_id}' = ANY(target_ids)"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while flow::scalar(&system, &ended).await == 0 {
        assert!(Instant::now() < deadline, "the run did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopped_at = calls().await;
    assert!(
        stopped_at > 0,
        "the run called the platform before it was cancelled"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        calls().await,
        stopped_at,
        "the worker kept calling the platform"
    );
    let record = api.wait_for_task(task_id, Duration::from_secs(5)).await;
    assert_eq!(record["status"], "CANCELLED", "{record}");
    // Who cancelled it, and where it stopped, with what it had fetched, are both audited.
    let logged = api
        .get(&format!(
            "/operation-logs?targetType=SYNC_TASK&targetId={task_id}&sort=time&order=asc"
        ))
        .await;
    let actions: Vec<&str> = logged["data"]["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["SYNC_REQUEST", "SYNC_CANCEL", "SYNC_RUN"],
        "{logged}"
    );
    let end = &logged["data"]["records"][2]["detail"];
    assert_eq!(end["status"], "CANCELLED", "{logged}");
    assert!(
        end["successCount"].as_i64().is_some_and(|n| n > 0),
        "{logged}"
    );

    // The shop accepts a new sync, which completes.
    let (start, end) = flow::window_days(2);
    let again = api.request_sync(platform_id, &start, &end).await;
    let record = api.wait_for_task(again, Duration::from_secs(120)).await;
    assert_eq!(record["status"], "COMPLETED", "{record}");
}
