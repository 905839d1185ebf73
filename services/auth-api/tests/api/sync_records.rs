//! `GET /sync-records` (design 2.4).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

use crate::helpers::{
    AUTH, Case, SYNC, SeedTask, TestApp, VIEW, expect_envelope, ids, page_records, spawn_app,
    token, utc,
};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a UTC time")
}

/// Tenant 1: Taobao `a` with t1 (COMPLETED 10/0), t2 (FAILED 0/3 with a message) and t4
/// (RUNNING 2/0, manual), JD `b` with t3 (COMPLETED 5/1). Tenant 2: Taobao `c` with one task.
struct Seeded {
    a: i64,
    b: i64,
    c: i64,
    t1: i64,
    t2: i64,
    t3: i64,
    t4: i64,
    other: i64,
}

async fn seed(app: &TestApp) -> Seeded {
    let a = app.insert_platform(1, "TAOBAO", "ACTIVE", "key-a").await;
    let b = app.insert_platform(1, "JD", "ACTIVE", "key-b").await;
    let c = app.insert_platform(2, "TAOBAO", "ACTIVE", "key-c").await;
    let t1 = app
        .insert_task(SeedTask {
            success_count: 10,
            ..SeedTask::completed(1, a, at("2024-05-01T00:00:00Z"))
        })
        .await;
    let t2 = app
        .insert_task(SeedTask {
            status: "FAILED",
            failure_count: 3,
            error_message: Some("淘宝接口签名错误"),
            ..SeedTask::completed(1, a, at("2024-05-02T00:00:00Z"))
        })
        .await;
    let t3 = app
        .insert_task(SeedTask {
            platform_type: "JD",
            success_count: 5,
            failure_count: 1,
            ..SeedTask::completed(1, b, at("2024-05-03T00:00:00Z"))
        })
        .await;
    let t4 = app
        .insert_task(SeedTask {
            status: "RUNNING",
            trigger: "MANUAL",
            finished_at: None,
            success_count: 2,
            ..SeedTask::completed(1, a, at("2024-05-04T00:00:00Z"))
        })
        .await;
    let other = app
        .insert_task(SeedTask::completed(2, c, at("2024-05-02T12:00:00Z")))
        .await;
    Seeded {
        a,
        b,
        c,
        t1,
        t2,
        t3,
        t4,
        other,
    }
}

async fn records(app: &TestApp, tenant: i64, query: &[(&str, &str)], total: i64) -> Vec<i64> {
    let response = app.sync_records(Some(&token(tenant, &[VIEW])), query).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let size = query
        .iter()
        .find(|(k, _)| *k == "size")
        .map_or(10, |(_, v)| v.parse().expect("size"));
    let current = query
        .iter()
        .find(|(k, _)| *k == "page")
        .map_or(1, |(_, v)| v.parse().expect("page"));
    ids(&page_records(&body, total, size, current), "syncId")
}

#[tokio::test]
async fn sync_records_show_every_field_newest_first() {
    let app = spawn_app().await;
    let s = seed(&app).await;

    let response = app.sync_records(Some(&token(1, &[VIEW])), &[]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let records = page_records(&body, 4, 10, 1);
    assert_eq!(ids(&records, "syncId"), vec![s.t4, s.t3, s.t2, s.t1]);

    let keys: BTreeSet<&str> = records[0]
        .as_object()
        .expect("record")
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "syncId",
        "platformId",
        "platformType",
        "syncTime",
        "status",
        "successCount",
        "failureCount",
        "errorMessage",
        "trigger",
        "windowStart",
        "windowEnd",
        "listing",
        "finishTime",
        "progress",
        "newCount",
        "updatedCount",
        "unchangedCount",
        "servedFrom",
        "warning",
        "setAsideCount",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected);
    assert!(
        records.iter().all(|r| r["setAsideCount"] == 0),
        "{records:?}"
    );

    let running = &records[0];
    assert_eq!(running["platformId"], s.a);
    assert_eq!(running["platformType"], "TAOBAO");
    assert_eq!(running["status"], "RUNNING");
    assert_eq!(running["trigger"], "MANUAL");
    assert_eq!(running["listing"], "CREATED");
    assert_eq!(running["successCount"], 2);
    assert_eq!(running["failureCount"], 0);
    assert_eq!(running["errorMessage"], "", "no error is an empty string");
    assert!(running["finishTime"].is_null());
    assert_eq!(utc(&running["syncTime"]), at("2024-05-04T00:00:00Z"));
    assert_eq!(utc(&running["windowStart"]), at("2024-05-03T00:00:00Z"));
    assert_eq!(utc(&running["windowEnd"]), at("2024-05-04T00:00:00Z"));

    let jd = &records[1];
    assert_eq!(jd["platformId"], s.b);
    assert_eq!(jd["platformType"], "JD");
    assert_eq!(jd["trigger"], "SCHEDULED");
    assert_eq!(jd["listing"], "MODIFIED");
    assert_eq!(jd["failureCount"], 1);
    assert_eq!(utc(&jd["finishTime"]), at("2024-05-03T00:01:00Z"));

    let failed = &records[2];
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["errorMessage"], "淘宝接口签名错误");
    assert_eq!(failed["failureCount"], 3);

    // An order the JD sync stored that order-processor set aside is counted on its record;
    // one sync-worker could not read (no neutral form) is its failureCount, not this.
    for (order, normalized, reason) in [
        ("j1", Some("sealed"), "处理失败（连续 3 次）：买家合并失败"),
        ("j2", Some("sealed"), "无法处理：normalized form unreadable"),
        ("j3", None, "缺少订单号"),
    ] {
        insert_raw(&app, (1, s.b, s.t3), order, normalized, reason).await;
    }
    let response = app.sync_records(Some(&token(1, &[VIEW])), &[]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let records = page_records(&body, 4, 10, 1);
    let counted: Vec<(i64, i64)> = records
        .iter()
        .map(|r| {
            (
                r["syncId"].as_i64().unwrap_or(0),
                r["setAsideCount"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(counted, vec![(s.t4, 0), (s.t3, 2), (s.t2, 0), (s.t1, 0)]);
}

/// A raw order of `(tenant, shop, task)`, MALFORMED with `reason`, with or without its neutral
/// form.
async fn insert_raw(
    app: &TestApp,
    (tenant, shop, task): (i64, i64, i64),
    order: &str,
    normalized: Option<&str>,
    reason: &str,
) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use leadgen_db::schema::t_ecom_order_raw as raw;
    let mut conn = app.conn().await;
    diesel::insert_into(raw::table)
        .values((
            raw::tenant_id.eq(tenant),
            raw::platform_id.eq(shop),
            raw::platform_type.eq("JD"),
            raw::order_id.eq(order),
            raw::raw_data.eq("sealed-raw"),
            raw::normalized.eq(normalized),
            raw::parse_error.eq(Some(reason)),
            raw::content_hash.eq(order),
            raw::sync_task_id.eq(task),
            raw::process_status.eq("MALFORMED"),
        ))
        .execute(&mut conn)
        .await
        .expect("raw order");
}

#[tokio::test]
async fn sync_records_page() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    assert_eq!(
        records(&app, 1, &[("page", "1"), ("size", "3")], 4).await,
        vec![s.t4, s.t3, s.t2]
    );
    assert_eq!(
        records(&app, 1, &[("page", "2"), ("size", "3")], 4).await,
        vec![s.t1]
    );
    assert!(
        records(&app, 1, &[("page", "5"), ("size", "1")], 4)
            .await
            .is_empty()
    );
}

/// Every sync of every shop, every day: counted and paged up to the records window (10,000),
/// as the operation log; a page beyond it is 40011 while more match.
#[tokio::test]
async fn sync_records_are_counted_and_paged_up_to_their_window() {
    use diesel_async::RunQueryDsl as _;
    let app = spawn_app().await;
    let shop = app.insert_platform(3, "TAOBAO", "ACTIVE", "app-many").await;
    diesel::sql_query(format!(
        "INSERT INTO t_ecom_sync_task (tenant_id, platform_id, platform_type, trigger_type, status, window_start, window_end, sync_time) \
         SELECT 3, {shop}, 'TAOBAO', 'SCHEDULED', 'COMPLETED', now() - (i + 30) * interval '1 minute', now() - i * interval '1 minute', now() - i * interval '1 minute' \
         FROM generate_series(1, 10001) AS i"
    ))
    .execute(&mut app.conn().await)
    .await
    .expect("seed");
    let query = |page: &'static str| [("size", "100"), ("page", page), ("sort", "successCount")];
    let view = token(3, &[VIEW]);
    let last = app.sync_records(Some(&view), &query("100")).await;
    let last = expect_envelope(last, StatusCode::OK, 200).await;
    assert_eq!(last["data"]["total"], 10_000, "{last}");
    assert_eq!(last["data"]["totalExact"], false, "{last}");
    assert_eq!(last["data"]["records"].as_array().map(Vec::len), Some(100));
    let beyond = app.sync_records(Some(&view), &query("101")).await;
    expect_envelope(beyond, StatusCode::BAD_REQUEST, 40011).await;

    // A sort by count orders the newest records only: the oldest's count is out of its reach,
    // while a sort by time from the oldest shows it first.
    diesel::sql_query(
        "UPDATE t_ecom_sync_task SET success_count = 999 \
         WHERE id = (SELECT min(id) FROM t_ecom_sync_task WHERE tenant_id = 3 AND sync_time = \
                     (SELECT min(sync_time) FROM t_ecom_sync_task WHERE tenant_id = 3))",
    )
    .execute(&mut app.conn().await)
    .await
    .expect("the oldest's count");
    let most = app
        .sync_records(Some(&view), &[("sort", "successCount"), ("order", "desc")])
        .await;
    let most = expect_envelope(most, StatusCode::OK, 200).await;
    assert_eq!(most["data"]["records"][0]["successCount"], 0, "{most}");
    let oldest = app
        .sync_records(Some(&view), &[("sort", "syncTime"), ("order", "asc")])
        .await;
    let oldest = expect_envelope(oldest, StatusCode::OK, 200).await;
    assert_eq!(
        oldest["data"]["records"][0]["successCount"], 999,
        "{oldest}"
    );
}

#[tokio::test]
async fn sync_records_sort_by_the_allowed_fields() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let cases: [Case<'_>; 7] = [
        (&[("order", "asc")], vec![s.t1, s.t2, s.t3, s.t4]),
        (
            &[("sort", "syncTime"), ("order", "desc")],
            vec![s.t4, s.t3, s.t2, s.t1],
        ),
        (
            &[("sort", "successCount"), ("order", "asc")],
            vec![s.t2, s.t4, s.t3, s.t1],
        ),
        (&[("sort", "successCount")], vec![s.t1, s.t3, s.t4, s.t2]),
        (
            &[("sort", "failureCount"), ("order", "desc")],
            vec![s.t2, s.t3, s.t4, s.t1],
        ),
        // Ties keep a stable order by id.
        (
            &[("sort", "status"), ("order", "asc")],
            vec![s.t1, s.t3, s.t2, s.t4],
        ),
        (
            &[("sort", "status"), ("order", "desc")],
            vec![s.t4, s.t2, s.t3, s.t1],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(records(&app, 1, query, 4).await, expected, "{query:?}");
    }
}

#[tokio::test]
async fn sync_records_filter_by_platform_status_and_time() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let a = s.a.to_string();
    let a = a.as_str();
    let b = s.b.to_string();
    let b = b.as_str();
    let t2 = s.t2.to_string();
    let other = s.other.to_string();
    let cases: [Case<'_>; 10] = [
        // One task, as a client polls the syncTaskId POST …/sync answered; another tenant's: none.
        (&[("syncId", t2.as_str())], vec![s.t2]),
        (&[("syncId", other.as_str())], vec![]),
        (&[("platformId", a)], vec![s.t4, s.t2, s.t1]),
        (&[("platformId", b)], vec![s.t3]),
        (&[("status", "FAILED")], vec![s.t2]),
        (&[("status", "COMPLETED"), ("platformId", a)], vec![s.t1]),
        // Both ends inclusive.
        (
            &[
                ("startTime", "2024-05-02T00:00:00Z"),
                ("endTime", "2024-05-03T00:00:00Z"),
            ],
            vec![s.t3, s.t2],
        ),
        // Any offset: 08:00 in Beijing is midnight UTC.
        (
            &[("startTime", "2024-05-03T08:00:00+08:00")],
            vec![s.t4, s.t3],
        ),
        (&[("endTime", "2024-05-01T08:00:00+08:00")], vec![s.t1]),
        (&[("platformId", "0")], vec![]),
    ];
    for (query, expected) in cases {
        let total = i64::try_from(expected.len()).expect("small");
        assert_eq!(records(&app, 1, query, total).await, expected, "{query:?}");
    }
}

#[tokio::test]
async fn sync_records_are_scoped_to_the_tenant() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    assert_eq!(records(&app, 2, &[], 1).await, vec![s.other]);
    let a = s.a.to_string();
    assert!(records(&app, 2, &[("platformId", &a)], 0).await.is_empty());
    let c = s.c.to_string();
    assert!(records(&app, 1, &[("platformId", &c)], 0).await.is_empty());
    assert!(records(&app, 3, &[], 0).await.is_empty());
}

#[tokio::test]
async fn a_manual_sync_shows_as_a_running_record() {
    let app = spawn_app().await;
    let platform = app.active_taobao(1, "key-manual").await;
    let response = app
        .request_sync(Some(&token(1, &[SYNC])), &platform.to_string(), None)
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let task = body["data"]["syncTaskId"].as_i64().expect("syncTaskId");

    let response = app.sync_records(Some(&token(1, &[VIEW])), &[]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let records = page_records(&body, 1, 10, 1);
    assert_eq!(records[0]["syncId"], task);
    assert_eq!(records[0]["platformId"], platform);
    assert_eq!(records[0]["status"], "RUNNING");
    assert_eq!(records[0]["trigger"], "MANUAL");
    assert_eq!(records[0]["successCount"], 0);
    assert_eq!(records[0]["errorMessage"], "");
}

#[tokio::test]
async fn sync_records_reject_bad_parameters_with_400() {
    let app = spawn_app().await;
    let view = token(1, &[VIEW]);
    let body = expect_envelope(
        app.sync_records(Some(&view), &[("endTime", "2024-05-01")])
            .await,
        StatusCode::BAD_REQUEST,
        400,
    )
    .await;
    assert_eq!(
        body["message"],
        "endTime 必须是带时区的 ISO 8601 时间，例如 2026-11-01T00:00:00+08:00"
    );
    for query in [
        vec![("sort", "bogus")],
        vec![("sort", "sync_time")],
        vec![("order", "up")],
        vec![("status", "FOO")],
        vec![("status", "completed")],
        vec![("platformId", "abc")],
        vec![("startTime", "yesterday")],
        vec![("endTime", "2024-05-01")],
        vec![("syncId", "x")],
        // A range that ends before it starts is a mistake, not an empty list.
        vec![
            ("startTime", "2024-05-03T00:00:00Z"),
            ("endTime", "2024-05-02T00:00:00Z"),
        ],
        vec![("size", "101")],
        vec![("page", "0")],
    ] {
        let response = app.sync_records(Some(&view), &query).await;
        expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    }
}

#[tokio::test]
async fn sync_records_require_a_token_and_the_view_permission() {
    let app = spawn_app().await;
    expect_envelope(
        app.sync_records(None, &[]).await,
        StatusCode::UNAUTHORIZED,
        401,
    )
    .await;
    expect_envelope(
        app.sync_records(Some(&token(1, &[AUTH, SYNC])), &[]).await,
        StatusCode::FORBIDDEN,
        403,
    )
    .await;
}
