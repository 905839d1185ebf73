//! `POST /platforms/{platformId}/sync` (design 2.3) and the `SyncRequested` event it enqueues.

use std::collections::BTreeSet;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, FixedOffset, Timelike, Utc};
use lapin::options::BasicGetOptions;
use leadgen_messaging::{Broker, QueueSpec};
use leadgen_test_support::TestBroker;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    AUTH, OPERATOR_NAME, SYNC, SeedTask, TestApp, VIEW, expect_envelope, expect_invalid_fields,
    iso, spawn_app_with, spawn_app_without_relay, token, utc, whole_seconds,
};

/// Posts a sync and returns the accepted task id, checking the answer's shape.
async fn accepted(app: &TestApp, platform_id: i64, body: Option<&str>) -> i64 {
    let response = app
        .request_sync(Some(&token(1, &[SYNC])), &platform_id.to_string(), body)
        .await;
    let envelope = expect_envelope(response, StatusCode::OK, 200).await;
    let data = envelope["data"].as_object().expect("data object");
    let keys: BTreeSet<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["syncTaskId", "status"]), "{envelope}");
    assert_eq!(data["status"], "ACCEPTED");
    data["syncTaskId"].as_i64().expect("syncTaskId is a number")
}

fn close(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    (a - b).num_milliseconds().abs() <= 1
}

#[tokio::test]
async fn sync_with_no_body_is_accepted_and_enqueues_sync_requested() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-sync").await;
    let before = Utc::now();
    let task_id = accepted(&app, platform, None).await;
    let after = Utc::now();

    // A RUNNING manual task; a first sync covers the last 30 days.
    let task = app.task_row(task_id).await;
    assert_eq!(task.tenant_id, 1);
    assert_eq!(task.platform_id, platform);
    assert_eq!(task.platform_type, "TAOBAO");
    assert_eq!(task.trigger_type, "MANUAL");
    assert_eq!(task.status, "RUNNING");
    assert_eq!(task.requested_by, Some(7));
    assert_eq!(task.requested_by_name.as_deref(), Some(OPERATOR_NAME));
    assert!(task.window_end >= before - Duration::seconds(1) && task.window_end <= after);
    assert_eq!(
        (task.window_end - task.window_start).num_seconds(),
        Duration::days(30).num_seconds()
    );

    // The event waits in the outbox, a CloudEvents envelope.
    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let (routing_key, event) = &outbox[0];
    assert_eq!(routing_key, "sync.requested.v1");
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "com.cunkebao.leadgen.sync.requested.v1");
    assert_eq!(event["source"], "/leadgen/auth-api");
    assert_eq!(event["datacontenttype"], "application/json");
    assert_eq!(event["subject"], format!("sync-task/{task_id}"));
    assert_eq!(event["tenantid"], 1);
    assert_eq!(
        event["id"].as_str().map(str::len),
        Some(36),
        "a UUID: {event}"
    );
    let time = utc(&event["time"]);
    assert!(time >= before - Duration::seconds(1) && time <= after);
    let data = &event["data"];
    assert_eq!(data["syncTaskId"], task_id);
    assert_eq!(data["platformId"], platform);
    assert_eq!(data["platformType"], "TAOBAO");
    assert_eq!(data["trigger"], "MANUAL");
    assert_eq!(data["requestedBy"], 7);
    assert!(
        close(utc(&data["windowStart"]), task.window_start),
        "{data}"
    );
    assert!(close(utc(&data["windowEnd"]), task.window_end), "{data}");

    // The operation log.
    let log = app.operation_log().await;
    let entry = log
        .iter()
        .find(|e| e.action == "SYNC_REQUEST")
        .expect("SYNC_REQUEST logged");
    assert_eq!(entry.result, "SUCCESS");
    assert_eq!(entry.target_type, "SYNC_TASK");
    assert_eq!(
        entry.target_ids,
        vec![task_id.to_string(), format!("platform:{platform}")]
    );
    assert_eq!(entry.operator_id, Some(7));
    assert_eq!(entry.operator_name.as_deref(), Some(OPERATOR_NAME));

    // A second request while the first runs: 409 40901, nothing more enqueued.
    let response = app
        .request_sync(Some(&token(1, &[SYNC])), &platform.to_string(), None)
        .await;
    expect_envelope(response, StatusCode::CONFLICT, 40901).await;
    assert_eq!(app.outbox().await.len(), 1);
    let refusals: Vec<_> = app
        .operation_log()
        .await
        .into_iter()
        .filter(|e| e.action == "SYNC_REQUEST" && e.result == "FAILURE")
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].target_ids, vec![platform.to_string()]);
    // The log says what the caller was answered: the code and its Chinese message.
    assert_eq!(
        refusals[0].error_message.as_deref(),
        Some("40901 该店铺正在同步订单，请等本次同步完成后再试"),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn a_sync_body_must_be_json_and_at_most_256_kb() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-sync-body").await;
    let post = |content_type: Option<&'static str>, body: String| {
        let mut request = app
            .client
            .post(app.url(&format!("/platforms/{platform}/sync")))
            .bearer_auth(token(1, &[SYNC]))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let window = r#"{"startTime":"2026-11-20T00:00:00Z","endTime":"2026-11-21T00:00:00Z"}"#;
    // A window sent as text is not read as JSON behind the caller's back.
    for content_type in [Some("text/plain"), None] {
        let response = post(content_type, window.to_owned()).await.expect("POST");
        let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
        assert_eq!(
            body["message"], "请求体必须是 JSON（Content-Type: application/json）",
            "{content_type:?}"
        );
    }
    let too_large = format!("{{\"startTime\":\"{}\"}}", " ".repeat(300 * 1024));
    let response = post(Some("application/json"), too_large)
        .await
        .expect("POST");
    let body = expect_envelope(response, StatusCode::PAYLOAD_TOO_LARGE, 413).await;
    assert_eq!(body["message"], "请求体过大（上限 256 KB）");
    assert!(app.outbox().await.is_empty(), "nothing was accepted");
    // No body at all needs no content type.
    let response = post(None, String::new()).await.expect("POST");
    expect_envelope(response, StatusCode::OK, 200).await;
}

#[tokio::test]
async fn sync_accepts_an_empty_object_and_an_explicit_window() {
    let app = spawn_app_without_relay().await;
    let empty = app.active_taobao(1, "key-empty").await;
    let explicit = app.active_taobao(1, "key-explicit").await;
    let blank = app.active_taobao(1, "key-blank").await;

    let task = accepted(&app, empty, Some("{}")).await;
    let row = app.task_row(task).await;
    assert_eq!(
        (row.window_end - row.window_start).num_seconds(),
        Duration::days(30).num_seconds()
    );

    // Whitespace only is an empty body too.
    accepted(&app, blank, Some("  \n")).await;

    // Any offset is accepted; the window is stored in UTC, exactly as asked.
    let start = whole_seconds(Utc::now() - Duration::days(3));
    let end = start + Duration::days(2);
    let beijing = FixedOffset::east_opt(8 * 3600).expect("offset");
    let body = json!({
        "startTime": start.with_timezone(&beijing).to_rfc3339(),
        "endTime": iso(end),
    })
    .to_string();
    let task = accepted(&app, explicit, Some(&body)).await;
    let row = app.task_row(task).await;
    assert_eq!(row.window_start, start);
    assert_eq!(row.window_end, end);

    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 3);
    let event = &outbox[2].1;
    assert_eq!(event["data"]["syncTaskId"], task);
    assert_eq!(utc(&event["data"]["windowStart"]), start);
    assert_eq!(utc(&event["data"]["windowEnd"]), end);

    // ISO 8601 as clients print it beside RFC 3339 (Java's OffsetDateTime drops zero seconds;
    // offsets as +0800), and a cleared end ("") as omitted: now.
    let minutes = app.active_taobao(1, "key-iso-forms").await;
    let start = whole_seconds(Utc::now() - Duration::days(2));
    let start = start - Duration::seconds(i64::from(start.second()));
    let local = start.with_timezone(&beijing).format("%Y-%m-%dT%H:%M+0800");
    let body = json!({ "startTime": local.to_string(), "endTime": "" }).to_string();
    let before = Utc::now();
    let task = accepted(&app, minutes, Some(&body)).await;
    let row = app.task_row(task).await;
    assert_eq!(row.window_start, start);
    assert!(
        row.window_end >= whole_seconds(before),
        "{}",
        row.window_end
    );
}

#[tokio::test]
async fn sync_without_a_start_catches_up_on_changes_from_the_watermark_with_ten_minutes_overlap() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-resume").await;
    // The last sync (a manual one of a period, by creation time) moved last_sync_time; changes
    // are read from where the last by-modification window ended.
    app.set_last_sync_time(platform, Utc::now() - Duration::minutes(20))
        .await;
    let mark = whole_seconds(Utc::now() - Duration::hours(5));
    app.set_modified_watermark(platform, mark).await;
    let task = accepted(&app, platform, None).await;
    let row = app.task_row(task).await;
    assert_eq!(row.window_start, mark - Duration::minutes(10));
    assert_eq!(row.listing, "MODIFIED");

    // A named period is listed by creation time.
    app.set_task_status(task, "COMPLETED").await;
    let start = whole_seconds(Utc::now() - Duration::days(2));
    let body = json!({ "startTime": iso(start) }).to_string();
    let task = accepted(&app, platform, Some(&body)).await;
    let row = app.task_row(task).await;
    assert_eq!((row.window_start, row.listing.as_str()), (start, "CREATED"));
}

#[tokio::test]
async fn sync_without_a_start_before_any_change_was_read_starts_from_the_first_sync() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-first").await;
    // The backfill (by creation time) was the shop's first sync; an order it fetched may have
    // been refunded since, whenever it was created.
    let first = whole_seconds(Utc::now() - Duration::days(3));
    app.insert_task(SeedTask {
        trigger: "BACKFILL",
        ..SeedTask::completed(1, platform, first)
    })
    .await;
    app.set_last_sync_time(platform, Utc::now() - Duration::hours(1))
        .await;
    let task = accepted(&app, platform, Some("{}")).await;
    let row = app.task_row(task).await;
    assert_eq!(row.window_start, first - Duration::minutes(10));
    assert_eq!(row.listing, "MODIFIED");
}

#[tokio::test]
async fn concurrent_requests_start_exactly_one_sync() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-race").await;
    let mut requests = Vec::new();
    for _ in 0..6 {
        let client = app.client.clone();
        let url = app.url(&format!("/platforms/{platform}/sync"));
        let token = token(1, &[SYNC]);
        requests.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("POST sync")
        }));
    }
    let mut accepted = 0;
    let mut conflicts = 0;
    for request in requests {
        let response = request.await.expect("request task");
        if response.status() == StatusCode::OK {
            expect_envelope(response, StatusCode::OK, 200).await;
            accepted += 1;
        } else {
            expect_envelope(response, StatusCode::CONFLICT, 40901).await;
            conflicts += 1;
        }
    }
    assert_eq!((accepted, conflicts), (1, 5));
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn a_new_sync_is_accepted_once_the_running_one_has_finished() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-again").await;
    let first = accepted(&app, platform, None).await;
    let response = app
        .request_sync(Some(&token(1, &[SYNC])), &platform.to_string(), None)
        .await;
    expect_envelope(response, StatusCode::CONFLICT, 40901).await;

    // sync-worker finishes the task.
    app.set_task_status(first, "COMPLETED").await;
    let second = accepted(&app, platform, Some("{}")).await;
    assert_ne!(first, second);
    assert_eq!(app.outbox().await.len(), 2);
}

#[tokio::test]
async fn sync_without_a_start_after_a_backfill_cancelled_at_once_covers_a_first_sync() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-cancelled").await;
    // The backfill was cancelled before it stored a window: the shop was never synced.
    app.insert_task(SeedTask {
        trigger: "BACKFILL",
        status: "CANCELLED",
        ..SeedTask::completed(1, platform, Utc::now() - Duration::minutes(30))
    })
    .await;
    let task = accepted(&app, platform, Some("{}")).await;
    let row = app.task_row(task).await;
    assert_eq!(
        (row.window_end - row.window_start).num_days(),
        30,
        "{row:?}"
    );
}

#[tokio::test]
async fn sync_without_a_start_after_a_long_pause_is_accepted() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-stale").await;
    app.set_modified_watermark(platform, Utc::now() - Duration::days(100))
        .await;
    let task = accepted(&app, platform, None).await;
    let row = app.task_row(task).await;
    assert!(
        row.window_end - row.window_start <= Duration::days(90),
        "{row:?}"
    );
}

#[tokio::test]
async fn sync_clamps_an_end_time_in_the_future_to_now() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-future").await;
    let body = json!({
        "startTime": iso(Utc::now() - Duration::days(1)),
        "endTime": iso(Utc::now() + Duration::days(1)),
    })
    .to_string();
    let task = accepted(&app, platform, Some(&body)).await;
    let row = app.task_row(task).await;
    assert!(row.window_end <= Utc::now(), "{row:?}");
}

#[tokio::test]
async fn sync_refuses_an_authorization_that_is_not_active_with_40001() {
    let app = spawn_app_without_relay().await;
    let pending = app.create_taobao(1, "key-pending").await;
    let expired = app
        .insert_platform(1, "TAOBAO", "EXPIRED", "key-expired")
        .await;
    let invalid = app
        .insert_platform(1, "TAOBAO", "INVALID", "key-invalid")
        .await;
    for platform in [pending, expired, invalid] {
        let response = app
            .request_sync(Some(&token(1, &[SYNC])), &platform.to_string(), None)
            .await;
        expect_envelope(response, StatusCode::BAD_REQUEST, 40001).await;
    }
    assert!(app.outbox().await.is_empty());
    let refusals = app
        .operation_log()
        .await
        .into_iter()
        .filter(|e| e.action == "SYNC_REQUEST")
        .inspect(|e| assert_eq!(e.result, "FAILURE", "{e:?}"))
        .count();
    assert_eq!(refusals, 3);
}

#[tokio::test]
async fn sync_answers_404_for_another_tenants_or_a_missing_platform() {
    let app = spawn_app_without_relay().await;
    let theirs = app.active_taobao(2, "key-tenant-two").await;
    for platform in [theirs.to_string(), "987654321".to_owned()] {
        let response = app
            .request_sync(Some(&token(1, &[SYNC])), &platform, None)
            .await;
        expect_envelope(response, StatusCode::NOT_FOUND, 404).await;
    }
    assert!(app.outbox().await.is_empty());
    // The owner can.
    let response = app
        .request_sync(Some(&token(2, &[SYNC])), &theirs.to_string(), None)
        .await;
    expect_envelope(response, StatusCode::OK, 200).await;
}

#[tokio::test]
async fn sync_reports_invalid_times_with_422() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-times").await;
    let now = Utc::now();
    let cases = [
        (
            json!({ "startTime": iso(now - Duration::days(1)), "endTime": iso(now - Duration::days(2)) }),
            vec!["endTime"],
        ),
        (
            json!({ "startTime": iso(now - Duration::days(1)), "endTime": iso(now - Duration::days(1)) }),
            vec!["endTime"],
        ),
        // Apart by less than the microsecond the database keeps: the same instant.
        (
            json!({ "startTime": "2026-12-01T00:00:00Z", "endTime": "2026-12-01T00:00:00.000000001Z" }),
            vec!["endTime"],
        ),
        (json!({ "startTime": "yesterday" }), vec!["startTime"]),
        (
            json!({ "startTime": "2024-13-01T00:00:00Z" }),
            vec!["startTime"],
        ),
        (json!({ "endTime": "2024-05-01 00:00:00" }), vec!["endTime"]),
        // Longer than 90 days, with the end given or now.
        (
            json!({ "startTime": iso(now - Duration::days(100)), "endTime": iso(now - Duration::days(1)) }),
            vec!["endTime"],
        ),
        (
            json!({ "startTime": iso(now - Duration::days(91)) }),
            vec!["startTime"],
        ),
        // Starting in the future: nothing before "now" to fetch.
        (
            json!({ "startTime": iso(now + Duration::hours(1)) }),
            vec!["startTime"],
        ),
        (
            json!({ "startTime": "2024-05-01", "endTime": "soon" }),
            vec!["startTime", "endTime"],
        ),
    ];
    for (body, expected) in cases {
        let response = app
            .request_sync(
                Some(&token(1, &[SYNC])),
                &platform.to_string(),
                Some(&body.to_string()),
            )
            .await;
        assert_eq!(expect_invalid_fields(response).await, expected, "{body}");
    }
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn sync_refuses_an_invalid_window_with_40004() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-window").await;
    let now = Utc::now();
    // Without a start the sync resumes from the last one, which lies after the given end.
    app.set_modified_watermark(platform, now - Duration::days(1))
        .await;
    let body = json!({ "endTime": iso(now - Duration::days(2)) });
    let response = app
        .request_sync(
            Some(&token(1, &[SYNC])),
            &platform.to_string(),
            Some(&body.to_string()),
        )
        .await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40004).await;
    assert!(app.outbox().await.is_empty());

    // 89 days is fine.
    let body = json!({ "startTime": iso(now - Duration::days(89)) }).to_string();
    accepted(&app, platform, Some(&body)).await;
}

#[tokio::test]
async fn sync_rejects_a_malformed_request_with_400() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-malformed").await;
    for id in ["abc", "1.5", "99999999999999999999999"] {
        let response = app.request_sync(Some(&token(1, &[SYNC])), id, None).await;
        expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    }
    // (`null` is the absent optional body, as the OpenAPI document declares it.)
    for body in ["{", "[1, 2]", r#"{"startTime": 5}"#] {
        let response = app
            .request_sync(Some(&token(1, &[SYNC])), &platform.to_string(), Some(body))
            .await;
        expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    }
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn sync_requires_a_token_and_the_sync_permission() {
    let app = spawn_app_without_relay().await;
    let platform = app.active_taobao(1, "key-perm").await;
    let id = platform.to_string();
    expect_envelope(
        app.request_sync(None, &id, None).await,
        StatusCode::UNAUTHORIZED,
        401,
    )
    .await;
    expect_envelope(
        app.request_sync(Some("garbage"), &id, None).await,
        StatusCode::UNAUTHORIZED,
        401,
    )
    .await;
    expect_envelope(
        app.request_sync(Some(&token(1, &[AUTH, VIEW])), &id, None)
            .await,
        StatusCode::FORBIDDEN,
        403,
    )
    .await;
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn the_relay_publishes_sync_requested_to_the_broker_and_empties_the_outbox() {
    let queue = QueueSpec {
        consumer: "sync-worker",
        routing_keys: vec!["sync.requested.v1"],
    };
    let app = spawn_app_with(TestBroker::new(vec![queue.clone()]), |_| {}).await;
    // The sync-worker's queue, bound as in production.
    let broker = Broker::connect(&app.broker.settings(), vec![queue])
        .await
        .expect("test broker connection");
    let queue_name = broker.topology().queue("sync-worker");
    let channel = broker.consumer_channel().await.expect("channel");

    let platform = app.active_taobao(1, "key-relay").await;
    let task_id = accepted(&app, platform, None).await;

    let deadline = Instant::now() + StdDuration::from_secs(15);
    let message = loop {
        let got = channel
            .basic_get(&queue_name, BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        if let Some(message) = got {
            break message;
        }
        assert!(
            Instant::now() < deadline,
            "no sync.requested.v1 on {queue_name}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    let delivery = &message.delivery;
    assert_eq!(delivery.routing_key.as_str(), "sync.requested.v1");
    let event: Value = serde_json::from_slice(&delivery.data).expect("JSON event");
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "com.cunkebao.leadgen.sync.requested.v1");
    assert_eq!(event["data"]["syncTaskId"], task_id);
    let properties = &delivery.properties;
    assert_eq!(
        properties.message_id().as_ref().map(ToString::to_string),
        event["id"].as_str().map(str::to_owned),
        "message_id is the event id"
    );
    assert_eq!(
        properties
            .kind()
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("sync.requested.v1")
    );
    assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
    assert_eq!(
        properties
            .content_type()
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("application/cloudevents+json; charset=utf-8")
    );

    // Deleted once confirmed.
    let deadline = Instant::now() + StdDuration::from_secs(5);
    while !app.outbox().await.is_empty() {
        assert!(Instant::now() < deadline, "the outbox row was not deleted");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    broker.close().await;
}
