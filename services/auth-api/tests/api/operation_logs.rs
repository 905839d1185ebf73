//! `GET /operation-logs`: the tenant's audit trail, filtered and paged, behind `lead:order:audit`.

use reqwest::StatusCode;

use crate::helpers::{OPERATOR_NAME, TestApp, expect_envelope, spawn_app, token};

const AUDIT: &str = "lead:order:audit";

impl TestApp {
    async fn logs(&self, tenant: i64, perms: &[&str], query: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .get(self.url("/operation-logs"))
            .bearer_auth(token(tenant, perms))
            .query(query)
            .send()
            .await
            .expect("GET /operation-logs")
    }

    /// An ACTIVE Taobao shop of tenant 1 with one manual sync requested: (shop, sync task).
    async fn shop_with_a_sync(&self, app_key: &str) -> (i64, i64) {
        let shop = self.create_taobao(1, app_key).await;
        self.set_status(shop, "ACTIVE").await;
        let accepted = self
            .request_sync(
                Some(&token(1, &["lead:order:sync"])),
                &shop.to_string(),
                Some("{}"),
            )
            .await;
        let task = expect_envelope(accepted, StatusCode::OK, 200).await["data"]["syncTaskId"]
            .as_i64()
            .expect("task id");
        (shop, task)
    }
}

#[tokio::test]
async fn the_operation_log_is_readable_filtered_and_scoped_to_the_tenant() {
    let app = spawn_app().await;
    let first = app.create_taobao(1, "app-one").await;
    let second = app.create_taobao(1, "app-two").await;
    app.create_taobao(2, "app-three").await;

    let body = expect_envelope(app.logs(1, &[AUDIT], &[]).await, StatusCode::OK, 200).await;
    let records = body["data"]["records"].as_array().expect("records");
    assert_eq!(body["data"]["total"], 2, "{body}");
    let newest = &records[0];
    assert_eq!(newest["targetIds"], serde_json::json!([second]));
    assert_eq!(newest["operatorId"], 7);
    assert_eq!(newest["operatorName"], OPERATOR_NAME);
    assert_eq!(newest["result"], "SUCCESS");
    assert_eq!(newest["service"], "auth-api");
    assert!(newest["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    let action = newest["action"].as_str().expect("action").to_owned();

    let first_id = first.to_string();
    for (query, total) in [
        (vec![("targetId", first_id.as_str())], 1),
        (vec![("targetId", "9007199254740993")], 0),
        (vec![("action", action.as_str())], 2),
        (vec![("action", "SYNC_RUN")], 0),
        (vec![("targetType", "PLATFORM_AUTH")], 2),
        (vec![("targetType", "LEAD")], 0),
        (vec![("operatorId", "7")], 2),
        (vec![("operatorId", "8")], 0),
        (vec![("result", "FAILURE")], 0),
        (vec![("result", "SUCCESS")], 2),
        (vec![("startTime", "2999-01-01T00:00:00Z")], 0),
        (vec![("endTime", "2000-01-01T00:00:00+08:00")], 0),
        (vec![("size", "1"), ("page", "2")], 2),
    ] {
        let body = expect_envelope(app.logs(1, &[AUDIT], &query).await, StatusCode::OK, 200).await;
        assert_eq!(body["data"]["total"], total, "{query:?}: {body}");
    }
    let query = [("sort", "time"), ("order", "asc")];
    let body = expect_envelope(app.logs(1, &[AUDIT], &query).await, StatusCode::OK, 200).await;
    assert_eq!(
        body["data"]["records"][0]["targetIds"],
        serde_json::json!([first]),
        "oldest first: {body}"
    );
    let body = expect_envelope(app.logs(2, &[AUDIT], &[]).await, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["total"], 1, "another tenant sees only its own");

    expect_envelope(
        app.logs(1, &["lead:order:view"], &[]).await,
        StatusCode::FORBIDDEN,
        403,
    )
    .await;
    for bad in [
        vec![("result", "MAYBE")],
        // Exact, like every enum filter.
        vec![("result", "failure")],
        vec![("result", "Success")],
        vec![("operatorId", "seven")],
        vec![("startTime", "yesterday")],
        vec![("size", "101")],
        vec![("sort", "action")],
        vec![("order", "up")],
    ] {
        expect_envelope(
            app.logs(1, &[AUDIT], &bad).await,
            StatusCode::BAD_REQUEST,
            400,
        )
        .await;
    }
    // An unknown action or target type is refused naming the accepted ones, never an empty page.
    for (name, bad, first_choice) in [
        ("action", "NOPE", "PLATFORM_AUTH_CREATE"),
        ("action", "sync_request", "PLATFORM_AUTH_CREATE"),
        ("targetType", "FOO", "PLATFORM_AUTH"),
    ] {
        let body = expect_envelope(
            app.logs(1, &[AUDIT], &[(name, bad)]).await,
            StatusCode::BAD_REQUEST,
            400,
        )
        .await;
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("{name} 取值无效：{bad}；可选值：{first_choice}、")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_shops_id_finds_its_syncs_too() {
    let app = spawn_app().await;
    // A sync names its shop `platform:<id>` beside its task.
    let (shop, _) = app.shop_with_a_sync("app-sync").await;
    let shop_id = shop.to_string();
    let query = [("targetId", shop_id.as_str())];
    let body = expect_envelope(app.logs(1, &[AUDIT], &query).await, StatusCode::OK, 200).await;
    let actions: Vec<&str> = body["data"]["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(actions, ["SYNC_REQUEST", "PLATFORM_AUTH_CREATE"], "{body}");
    // Shown as numbers: the task's id, and its shop apart.
    let sync = &body["data"]["records"][0];
    assert!(sync["targetIds"][0].is_i64(), "{sync}");
    assert_eq!(sync["platformId"], shop, "{sync}");
    assert!(body["data"]["records"][1].get("platformId").is_none());
    // An id is a number.
    expect_envelope(
        app.logs(1, &[AUDIT], &[("targetId", "platform:1")]).await,
        StatusCode::BAD_REQUEST,
        400,
    )
    .await;
}

/// What an action was asked to do (lead-api writes a reveal's purpose and reason) is shown as
/// written; lines without it have no `detail`.
#[tokio::test]
async fn a_lines_detail_is_shown_where_it_has_one() {
    use leadgen_db::oplog::{self, Entry, Operator};
    use leadgen_domain::{TenantId, UserId};
    let app = spawn_app().await;
    app.create_taobao(1, "app-detail").await;
    let operator = Operator::User {
        id: UserId::new(8),
        name: "李四".into(),
    };
    let entry = Entry {
        tenant_id: TenantId::new(1),
        service: "lead-api",
        operator: &operator,
        action: leadgen_domain::audit::AuditAction::ContactReveal,
        target_type: leadgen_domain::audit::AuditTarget::Lead,
        target_ids: vec!["42".into()],
        result: Ok(()),
    };
    let detail = serde_json::json!({"purpose": "CUSTOMER_CARE", "reason": "回访复购意向"});
    let mut conn = app.conn().await;
    oplog::record_detailed(&mut conn, entry, &detail, "trace")
        .await
        .expect("record");

    let body = expect_envelope(app.logs(1, &[AUDIT], &[]).await, StatusCode::OK, 200).await;
    let records = body["data"]["records"].as_array().expect("records");
    assert_eq!(records.len(), 2, "{body}");
    assert_eq!(records[0]["action"], "CONTACT_REVEAL");
    assert_eq!(records[0]["detail"], detail);
    assert!(
        records[1].get("detail").is_none(),
        "no detail, no field: {body}"
    );
}

/// A year of a tenant's log is counted and paged only up to the records window (10,000): exact
/// up to it; past it `total` reads 10,000 with `totalExact: false`, every page up to `pages`
/// answers, and a page beyond is 40011 (narrow the time range). With exactly the window's
/// number, a page beyond is an empty page past the list's end.
#[tokio::test]
async fn the_log_is_counted_and_paged_up_to_its_window() {
    use diesel_async::RunQueryDsl as _;
    let app = spawn_app().await;
    let add = |n: i64| {
        format!(
            "INSERT INTO t_operation_log (tenant_id, service, action, target_type, target_ids, result, occurred_at) \
             SELECT 3, 'auth-api', 'SYNC_RUN', 'SYNC_TASK', ARRAY[i::text], 'SUCCESS', now() - i * interval '1 second' \
             FROM generate_series(1, {n}) AS i"
        )
    };
    diesel::sql_query(add(10_000))
        .execute(&mut app.conn().await)
        .await
        .expect("seed");
    let page = |page: &'static str| [("size", "100"), ("page", page)];
    let body = expect_envelope(app.logs(3, &[AUDIT], &page("1")).await, StatusCode::OK, 200).await;
    assert_eq!(
        (
            &body["data"]["total"],
            &body["data"]["totalExact"],
            &body["data"]["pages"]
        ),
        (
            &serde_json::json!(10_000),
            &serde_json::json!(true),
            &serde_json::json!(100)
        ),
    );
    let past = expect_envelope(
        app.logs(3, &[AUDIT], &page("101")).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(past["data"]["records"], serde_json::json!([]), "{past}");

    diesel::sql_query(add(1))
        .execute(&mut app.conn().await)
        .await
        .expect("one more");
    let last = expect_envelope(
        app.logs(3, &[AUDIT], &page("100")).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(last["data"]["total"], 10_000, "{last}");
    assert_eq!(last["data"]["totalExact"], false, "{last}");
    assert_eq!(last["data"]["records"].as_array().map(Vec::len), Some(100));
    let beyond = app.logs(3, &[AUDIT], &page("101")).await;
    let body = expect_envelope(beyond, StatusCode::BAD_REQUEST, 40011).await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("缩小时间范围")),
        "{body}"
    );
    // A narrower range counts exactly again: the last 5,000 seconds hold about 5,000 entries.
    let since = (chrono::Utc::now() - chrono::Duration::seconds(5_000)).to_rfc3339();
    let recent = [("startTime", since.as_str())];
    let body = expect_envelope(app.logs(3, &[AUDIT], &recent).await, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["totalExact"], true, "{body}");
    let total = body["data"]["total"].as_i64().expect("total");
    assert!((4_900..=5_000).contains(&total), "{body}");
}

/// With a `targetType`, `targetId` is that kind of record's id: the sync of shop 2 (task 1) is
/// not found as task 2.
#[tokio::test]
async fn with_a_target_type_the_id_is_that_records() {
    let app = spawn_app().await;
    let _first = app.create_taobao(1, "app-first").await;
    let (shop, task) = app.shop_with_a_sync("app-second").await;
    assert_ne!(task, shop, "the test needs a task id other than the shop's");
    let count = |query: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let body =
                expect_envelope(app.logs(1, &[AUDIT], &query).await, StatusCode::OK, 200).await;
            body["data"]["total"].as_i64().expect("total")
        }
    };
    let sync = "SYNC_TASK".to_owned();
    assert_eq!(
        count(vec![("targetId", shop.to_string())]).await,
        2,
        "the shop's own and its sync's"
    );
    assert_eq!(
        count(vec![
            ("targetId", shop.to_string()),
            ("targetType", sync.clone())
        ])
        .await,
        0
    );
    assert_eq!(
        count(vec![("targetId", task.to_string()), ("targetType", sync)]).await,
        1
    );
}
