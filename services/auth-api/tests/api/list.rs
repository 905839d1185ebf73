//! `GET /platforms` (design 2.2).

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::helpers::{
    AUTH, Case, SYNC, VIEW, expect_envelope, ids, page_records, spawn_app, token, utc,
};

#[tokio::test]
async fn list_pages_newest_first() {
    let app = spawn_app().await;
    let a = app.create_taobao(1, "key-aaaa").await;
    let b = app.create_taobao(1, "key-bbbb").await;
    let c = app.create_taobao(1, "key-cccc").await;
    let view = token(1, &[VIEW]);

    let body = expect_envelope(
        app.list_platforms(Some(&view), &[]).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(
        ids(&page_records(&body, 3, 10, 1), "platformId"),
        vec![c, b, a]
    );

    let query = [("page", "1"), ("size", "2")];
    let body = expect_envelope(
        app.list_platforms(Some(&view), &query).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(ids(&page_records(&body, 3, 2, 1), "platformId"), vec![c, b]);

    let query = [("page", "2"), ("size", "2")];
    let body = expect_envelope(
        app.list_platforms(Some(&view), &query).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(ids(&page_records(&body, 3, 2, 2), "platformId"), vec![a]);

    // Past the last page: an empty page, totals unchanged.
    let query = [("page", "3"), ("size", "2")];
    let body = expect_envelope(
        app.list_platforms(Some(&view), &query).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert!(page_records(&body, 3, 2, 3).is_empty());

    let query = [("size", "100"), ("_t", "1700000000000")];
    let body = expect_envelope(
        app.list_platforms(Some(&view), &query).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(page_records(&body, 3, 100, 1).len(), 3);

    // Oldest first when asked; by the last change, the one touched last comes first.
    let query = [("sort", "createTime"), ("order", "asc")];
    let body = expect_envelope(
        app.list_platforms(Some(&view), &query).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(
        ids(&page_records(&body, 3, 10, 1), "platformId"),
        vec![a, b, c]
    );
    app.touch_platform(a).await;
    let query = [("sort", " updateTime "), ("order", "desc")];
    let body = expect_envelope(
        app.list_platforms(Some(&view), &query).await,
        StatusCode::OK,
        200,
    )
    .await;
    let records = page_records(&body, 3, 10, 1);
    assert_eq!(ids(&records, "platformId"), vec![a, c, b]);
    // The order is the records' own updateTime, newest first.
    let times: Vec<&str> = records
        .iter()
        .map(|r| r["updateTime"].as_str().expect("updateTime"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

#[tokio::test]
async fn list_rejects_bad_paging_and_unknown_filter_values_with_400() {
    let app = spawn_app().await;
    let view = token(1, &[VIEW]);
    for query in [
        vec![("size", "101")],
        vec![("size", "0")],
        vec![("page", "0")],
        vec![("page", "-1")],
        vec![("page", "abc")],
        vec![("size", "ten")],
        vec![("status", "FOO")],
        vec![("status", "active")],
        vec![("platformType", "TMALL")],
        vec![("sort", "appKey")],
        vec![("platfromType", "JD")],
        vec![("sort", "createTime"), ("order", "sideways")],
        // `order` is `asc` or `desc`, as written.
        vec![("order", "ASC")],
        // Past an int32, a client reading the page number as one would overflow.
        vec![("page", "2147483648")],
        vec![("page", "9223372036854775807")],
        // One value per parameter.
        vec![("size", "1"), ("size", "2")],
    ] {
        let response = app.list_platforms(Some(&view), &query).await;
        expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    }
    let response = app
        .list_platforms(Some(&view), &[("size", "1"), ("size", "2")])
        .await;
    let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    assert_eq!(body["message"], "查询参数 size 只能出现一次");
    // An empty value is the default, as for the filters.
    let response = app
        .list_platforms(Some(&view), &[("page", ""), ("size", " "), ("status", "")])
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(
        (&body["data"]["current"], &body["data"]["size"]),
        (&1.into(), &10.into())
    );
}

#[tokio::test]
async fn list_filters_by_platform_type_and_status() {
    let app = spawn_app().await;
    let pending = app.create_taobao(1, "key-pending").await;
    let active = app
        .insert_platform(1, "TAOBAO", "ACTIVE", "key-active")
        .await;
    let expired = app
        .insert_platform(1, "TAOBAO", "EXPIRED", "key-expired")
        .await;
    let jd = app.insert_platform(1, "JD", "ACTIVE", "key-jd").await;
    let view = token(1, &[VIEW]);

    let cases: [Case<'_>; 6] = [
        (&[("platformType", "JD")], vec![jd]),
        (
            &[("platformType", "TAOBAO")],
            vec![expired, active, pending],
        ),
        (&[("status", "ACTIVE")], vec![jd, active]),
        (&[("status", "PENDING_AUTH")], vec![pending]),
        (
            &[("platformType", "TAOBAO"), ("status", "ACTIVE")],
            vec![active],
        ),
        // An empty value is no filter.
        (
            &[("status", ""), ("platformType", "")],
            vec![jd, expired, active, pending],
        ),
    ];
    for (query, expected) in cases {
        let body = expect_envelope(
            app.list_platforms(Some(&view), query).await,
            StatusCode::OK,
            200,
        )
        .await;
        let total = i64::try_from(expected.len()).expect("small");
        let records = page_records(&body, total, 10, 1);
        assert_eq!(ids(&records, "platformId"), expected, "{query:?}");
        for record in &records {
            for (key, value) in query.iter().filter(|(_, v)| !v.is_empty()) {
                assert_eq!(record[*key], *value, "{record}");
            }
        }
    }

    let query = [("platformType", "PDD")];
    let body = expect_envelope(
        app.list_platforms(Some(&view), &query).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert!(page_records(&body, 0, 10, 1).is_empty());
}

#[tokio::test]
async fn list_is_scoped_to_the_tenant() {
    let app = spawn_app().await;
    app.create_taobao(1, "tenant-one-a").await;
    app.insert_platform(1, "JD", "ACTIVE", "tenant-one-b").await;

    let body = expect_envelope(
        app.list_platforms(Some(&token(2, &[VIEW])), &[]).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert!(page_records(&body, 0, 10, 1).is_empty());

    let own = app.create_taobao(2, "tenant-two").await;
    let body = expect_envelope(
        app.list_platforms(Some(&token(2, &[VIEW])), &[("platformType", "TAOBAO")])
            .await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(ids(&page_records(&body, 1, 10, 1), "platformId"), vec![own]);

    let body = expect_envelope(
        app.list_platforms(Some(&token(1, &[VIEW])), &[]).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert!(!ids(&page_records(&body, 2, 10, 1), "platformId").contains(&own));
}

#[tokio::test]
async fn list_shows_an_app_key_hint_and_no_secret() {
    let app = spawn_app().await;
    let app_key = "12345678abcd";
    let secret = format!("secret-of-{app_key}");
    let id = app.create_taobao(1, app_key).await;

    let response = app.list_platforms(Some(&token(1, &[VIEW])), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("body");
    assert!(!text.contains(&secret), "{text}");
    assert!(
        !text.contains(app_key),
        "the full app key is never listed: {text}"
    );
    let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    crate::helpers::check_envelope(&body, 200);

    let records = page_records(&body, 1, 10, 1);
    let record = &records[0];
    assert_eq!(record["platformId"], id);
    assert_eq!(record["platformType"], "TAOBAO");
    assert_eq!(record["status"], "PENDING_AUTH");
    assert_eq!(record["appKeyHint"], "****abcd");
    assert!(record["expiryTime"].is_null());
    assert!(record["shopName"].is_null());
    assert!(record["shopId"].is_null(), "not authorized yet");
    assert!(record["lastSyncTime"].is_null());
    let created = utc(&record["createTime"]);
    assert!((chrono::Utc::now() - created).num_minutes().abs() < 5);
    let keys: BTreeSet<&str> = record
        .as_object()
        .expect("record object")
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "platformId",
        "platformType",
        "status",
        "expiryTime",
        "grantExpiryTime",
        "createTime",
        "updateTime",
        "shopName",
        "shopId",
        "appKeyHint",
        "lastSyncTime",
        "statusReason",
        "statusVersion",
        "lastSync",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected);
    assert!(record["lastSync"].is_null(), "no sync yet: {record}");
}

/// An ACTIVE shop whose syncs fail says so in the list: its newest sync and why it failed.
#[tokio::test]
async fn a_shop_shows_its_newest_sync_and_why_it_failed() {
    use crate::helpers::SeedTask;
    let app = spawn_app().await;
    let id = app.create_taobao(1, "app-failing").await;
    app.set_status(id, "ACTIVE").await;
    let now = chrono::Utc::now();
    app.insert_task(SeedTask::completed(1, id, now - chrono::Duration::hours(3)))
        .await;
    let failed = app
        .insert_task(SeedTask {
            trigger: "SCHEDULED",
            status: "FAILED",
            error_message: Some("电商平台拒绝请求：签名验证失败"),
            ..SeedTask::completed(1, id, now - chrono::Duration::hours(1))
        })
        .await;
    let body = expect_envelope(
        app.list_platforms(Some(&token(1, &[VIEW])), &[]).await,
        StatusCode::OK,
        200,
    )
    .await;
    let last = &page_records(&body, 1, 10, 1)[0]["lastSync"];
    assert_eq!(last["syncId"], failed, "{last}");
    assert_eq!(last["status"], "FAILED");
    assert_eq!(last["trigger"], "SCHEDULED");
    assert_eq!(last["errorMessage"], "电商平台拒绝请求：签名验证失败");
    let detail = app.shop_detail(id).await;
    assert_eq!(&detail["data"]["lastSync"], last);
}

#[tokio::test]
async fn list_hints_non_ascii_app_keys_by_characters() {
    let app = spawn_app().await;
    app.create_taobao(1, "应用钥匙的名称与编号甲乙丙丁").await;
    let body = expect_envelope(
        app.list_platforms(Some(&token(1, &[VIEW])), &[]).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(
        page_records(&body, 1, 10, 1)[0]["appKeyHint"],
        "****甲乙丙丁"
    );
}

#[tokio::test]
async fn list_requires_a_token_and_the_view_permission() {
    let app = spawn_app().await;
    let response = app.list_platforms(None, &[]).await;
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer"),
        "a 401 names its scheme"
    );
    expect_envelope(response, StatusCode::UNAUTHORIZED, 401).await;
    expect_envelope(
        app.list_platforms(Some("not.a.token"), &[]).await,
        StatusCode::UNAUTHORIZED,
        401,
    )
    .await;
    expect_envelope(
        app.list_platforms(Some(&token(1, &[AUTH, SYNC])), &[])
            .await,
        StatusCode::FORBIDDEN,
        403,
    )
    .await;
}
