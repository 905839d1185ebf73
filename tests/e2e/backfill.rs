//! A shop connected for the first time is backfilled by creation time over as much history as
//! the platform serves (at most `[oauth] backfill_days`), with its progress stored per window: a
//! platform whose documented history is shorter gets a backfill of what it serves, with no
//! warning about its own limit. A manual sync over more than a platform serves is clipped, and
//! the record says which part, with a warning. A second sync of the same range counts every
//! order unchanged.

use std::time::Duration;

use leadgen_e2e::system::System;

use crate::flow::{self, Api};

/// The shop's sync records, newest first.
async fn records(api: &Api, platform_id: i64) -> Vec<serde_json::Value> {
    let page = api
        .get(&format!(
            "/sync-records?platformId={platform_id}&size=100&sort=syncTime&order=desc"
        ))
        .await;
    page["data"]["records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_a_shop_backfills_its_history_with_progress_and_a_warning_where_clipped() {
    let system = System::start_with(&[], &[("LEADGEN__OAUTH__BACKFILL_DAYS", "90")]).await;
    let api = Api::new(&system, 7);
    // Taobao serves three months by creation time (88 days, to be safe): its backfill takes
    // those 88 days. JD documents no limit: the whole 90 days.
    for (platform, days) in [("TAOBAO", 88), ("JD", 90)] {
        let platform_id = api.authorize(&system, platform).await;
        let backfill = records(&api, platform_id)
            .await
            .into_iter()
            .find(|r| r["trigger"] == "BACKFILL")
            .unwrap_or_else(|| panic!("{platform}: no BACKFILL task"));
        let task_id = backfill["syncId"].as_i64().expect("syncId");
        let record = api.wait_for_task(task_id, Duration::from_secs(180)).await;
        assert_eq!(record["status"], "COMPLETED", "{platform}: {record}");
        let progress = &record["progress"];
        assert!(progress["windowsTotal"].as_i64() > Some(0), "{record}");
        assert_eq!(
            progress["windowsDone"], progress["windowsTotal"],
            "{record}"
        );
        let stored = record["successCount"].as_i64().expect("successCount");
        assert!(stored > 0, "{platform}: {record}");
        assert_eq!(record["newCount"].as_i64(), Some(stored), "{record}");
        assert!(record["servedFrom"].is_null(), "{platform}: {record}");
        assert!(record["warning"].is_null(), "{platform}: {record}");
        let time = |field: &str| {
            chrono::DateTime::parse_from_rfc3339(record[field].as_str().expect(field))
                .expect("RFC 3339")
        };
        assert_eq!(
            (time("windowEnd") - time("windowStart")).num_days(),
            days,
            "{platform}: {record}"
        );

        // The same range again: nothing new, everything confirmed unchanged.
        flow::wait_until_settled(&system).await;
        let start = record["windowStart"]
            .as_str()
            .expect("windowStart")
            .to_owned();
        let end = record["windowEnd"].as_str().expect("windowEnd").to_owned();
        let again = api.request_sync(platform_id, &start, &end).await;
        let second = api.wait_for_task(again, Duration::from_secs(180)).await;
        assert_eq!(second["status"], "COMPLETED", "{second}");
        assert_eq!(second["successCount"].as_i64(), Some(stored), "{second}");
        assert_eq!(second["newCount"], 0, "{second}");
        assert_eq!(second["unchangedCount"].as_i64(), Some(stored), "{second}");
        if platform == "TAOBAO" {
            // Asked for more than it serves, a manual sync says what it could not fetch.
            let (start, end) = flow::window_days(90);
            let task = api.request_sync(platform_id, &start, &end).await;
            let clipped = api.wait_for_task(task, Duration::from_secs(180)).await;
            assert!(clipped["servedFrom"].is_string(), "{clipped}");
            let warning = clipped["warning"].as_str().unwrap_or_default();
            assert!(warning.contains("只提供"), "{clipped}");
        }
    }
}
