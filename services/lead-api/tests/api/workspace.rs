//! The sales workspace: one lead in full, and its status workflow (If-Match, history, operation
//! log, `LeadUpdated`), with tenant isolation and permissions.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_order_lead;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PROCESS, SeedLead, TestApp, VIEW, expect_envelope, spawn_app, token};

/// Tenant 1 has lead `a` (two orders: `a` is linked to both) and `b`; tenant 2 has `other`.
struct Seeded {
    a: i64,
    b: i64,
    other: i64,
}

async fn seed(app: &TestApp) -> Seeded {
    let (p1, t1) = app.platform(1, "TAOBAO").await;
    let (p2, t2) = app.platform(2, "TAOBAO").await;
    let a = app
        .lead(
            t1,
            "TAOBAO",
            SeedLead::new(1, p1, "A-1", "2026-05-01T02:00:00Z"),
        )
        .await;
    let b = app
        .lead(
            t1,
            "TAOBAO",
            SeedLead::new(1, p1, "B-1", "2026-05-02T02:00:00Z"),
        )
        .await;
    let other = app
        .lead(
            t2,
            "TAOBAO",
            SeedLead::new(2, p2, "O-1", "2026-05-03T02:00:00Z"),
        )
        .await;
    Seeded { a, b, other }
}

impl TestApp {
    async fn detail(
        &self,
        tenant: i64,
        perms: &[&str],
        id: &str,
        query: &str,
    ) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/leads/{id}{query}")))
            .bearer_auth(token(tenant, perms))
            .send()
            .await
            .expect("GET /leads/{id}")
    }

    /// A PATCH of tenant 1's lead `id` with `perms`, to be finished by hand (headers, body).
    fn patch_lead(&self, id: i64, perms: &[&str]) -> reqwest::RequestBuilder {
        self.client
            .patch(self.url(&format!("/leads/{id}")))
            .bearer_auth(token(1, perms))
    }

    async fn patch_status(
        &self,
        tenant: i64,
        id: i64,
        if_match: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .patch(self.url(&format!("/leads/{id}")))
            .bearer_auth(token(tenant, &[VIEW, PROCESS]))
            .json(&body);
        if let Some(v) = if_match {
            request = request.header("If-Match", v);
        }
        request.send().await.expect("PATCH /leads/{id}")
    }
}

#[tokio::test]
async fn the_detail_shows_the_buyer_orders_reasons_and_version() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let response = app.detail(1, &[VIEW], &s.a.to_string(), "").await;
    assert_eq!(
        response.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some("\"1\"")
    );
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let lead = &body["data"];
    assert_eq!(lead["leadId"], s.a);
    assert_eq!(lead["orderId"], "A-1");
    assert_eq!(lead["contactInfo"], "138****0001");
    assert_eq!(lead["version"], 1);
    assert_eq!(lead["modelVersion"], leadgen_domain::scoring::MODEL_VERSION);
    assert_eq!(lead["scoreReasons"][0]["code"], "ONE_PURCHASE");
    assert_eq!(lead["contactValidity"]["validity"], "MASKED");
    assert_eq!(lead["buyer"]["orderCount"], 1);
    // Money in yuan, as everywhere in responses; the stored aggregate's own fields stay inside.
    let paid_total = lead["buyer"]["paidTotal"]
        .as_str()
        .expect("paidTotal is a string");
    assert!(
        paid_total.split_once('.').is_some_and(|(y, f)| {
            !y.is_empty() && y.bytes().all(|b| b.is_ascii_digit()) && f.len() == 2
        }),
        "{paid_total}"
    );
    assert!(
        lead["buyer"].get("paidTimes").is_none(),
        "{}",
        lead["buyer"]
    );
    assert_eq!(lead["orders"]["total"], 1);
    let order = &lead["orders"]["records"][0];
    assert_eq!(order["orderId"], "A-1");
    assert_eq!(order["contactInfo"], "138****0001");
    assert_eq!(order["amount"], "199.00");
    assert_eq!(lead["statusHistory"], json!([]));
    let text = body.to_string();
    assert!(
        !text.contains("SEALED"),
        "a sealed value in the detail: {text}"
    );

    // Another tenant's lead and an unknown id: the same 404; a malformed id: 400.
    for id in [s.other.to_string(), "999999".to_owned()] {
        let response = app.detail(1, &[VIEW], &id, "").await;
        expect_envelope(response, StatusCode::NOT_FOUND, 404).await;
    }
    let response = app.detail(1, &[VIEW], "abc", "").await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    let response = app
        .detail(1, &[VIEW], &s.a.to_string(), "?ordersSize=500")
        .await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    let response = app
        .detail(1, &["lead:order:auth"], &s.a.to_string(), "")
        .await;
    expect_envelope(response, StatusCode::FORBIDDEN, 403).await;
}

#[tokio::test]
async fn a_merged_lead_resolves_to_the_lead_it_merged_into() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let mut conn = app.conn().await;
    diesel::update(t_order_lead::table.find(s.b))
        .set(t_order_lead::merged_into.eq(s.a))
        .execute(&mut conn)
        .await
        .expect("merge");
    let body = expect_envelope(
        app.detail(1, &[VIEW], &s.b.to_string(), "").await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(body["data"]["leadId"], s.a);
    assert_eq!(body["data"]["mergedLeadIds"], json!([s.b]));
    let response = app
        .patch_status(1, s.b, Some("1"), json!({"processStatus": "PROCESSED"}))
        .await;
    let body = expect_envelope(response, StatusCode::CONFLICT, 40903).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&s.a.to_string())
    );
    // The bulk form names the lead to act on.
    let response = app
        .client
        .patch(app.url("/leads"))
        .bearer_auth(token(1, &[VIEW, PROCESS]))
        .json(&json!({"items": [{"leadId": s.b, "version": 1}], "processStatus": "INVALID"}))
        .send()
        .await
        .expect("PATCH /leads");
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let merged = &body["data"]["results"][0];
    assert_eq!(
        (&merged["result"], &merged["code"], &merged["mergedInto"]),
        (&json!("MERGED"), &json!(40903), &json!(s.a)),
        "{body}"
    );
    // The list no longer shows the merged lead.
    let list = expect_envelope(
        app.leads(Some(&token(1, &[VIEW])), &[]).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(list["data"]["total"], 1);
}

#[tokio::test]
async fn a_status_change_needs_the_version_records_who_and_is_announced() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let change = json!({"processStatus": "PROCESSED", "note": "已电话回访，客户有意复购"});

    // Without If-Match: 428; a stale version: 409; without the permission: 403.
    let response = app.patch_status(1, s.a, None, change.clone()).await;
    expect_envelope(response, StatusCode::PRECONDITION_REQUIRED, 42801).await;
    // A refusal is audited like a change (design 7).
    let log = app.operation_log().await;
    let refused = log.last().expect("audited");
    assert_eq!(
        (refused.0.as_str(), refused.2.as_str()),
        ("LEAD_STATUS_CHANGE", "FAILURE")
    );
    assert!(
        refused.3.as_deref().is_some_and(|e| e.starts_with("42801")),
        "{refused:?}"
    );
    // `*` ("whatever the version") is the overwrite the check prevents: a version is required;
    // a list of versions is no one version.
    let response = app.patch_status(1, s.a, Some("*"), change.clone()).await;
    expect_envelope(response, StatusCode::PRECONDITION_REQUIRED, 42801).await;
    let response = app
        .patch_status(1, s.a, Some("\"1\", \"2\""), change.clone())
        .await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    // A body must say it is application/json (or an application/…+json type), as an optional
    // one must: text/json is not taken.
    let response = app
        .patch_lead(s.a, &[VIEW, PROCESS])
        .header("If-Match", "\"1\"")
        .header("Content-Type", "text/json")
        .body(change.to_string())
        .send()
        .await
        .expect("PATCH");
    expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    // Two If-Match headers are one list too, not the first alone.
    let response = app
        .patch_lead(s.a, &[VIEW, PROCESS])
        .header("If-Match", "\"1\"")
        .header("If-Match", "\"2\"")
        .json(&change)
        .send()
        .await
        .expect("PATCH");
    expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    let log = app.operation_log().await;
    let refused = log.last().expect("audited");
    assert!(
        refused.2 == "FAILURE" && refused.3.as_deref().is_some_and(|e| e.starts_with("400 ")),
        "a request that cannot be read is audited too: {refused:?}"
    );
    let response = app
        .patch_status(1, s.a, Some("\"7\""), change.clone())
        .await;
    // The refusal names the lead's current version, to reload from or send again.
    assert_eq!(
        response.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some("\"1\"")
    );
    expect_envelope(response, StatusCode::CONFLICT, 40902).await;
    // Versions start at 1: 0 or below is a version the lead never had, even before anyone set
    // its status.
    for never in ["\"0\"", "\"-1\""] {
        let response = app.patch_status(1, s.a, Some(never), change.clone()).await;
        expect_envelope(response, StatusCode::CONFLICT, 40902).await;
    }
    let response = app
        .patch_lead(s.a, &[VIEW])
        .header("If-Match", "\"1\"")
        .json(&change)
        .send()
        .await
        .expect("PATCH");
    expect_envelope(response, StatusCode::FORBIDDEN, 403).await;
    let log = app.operation_log().await;
    let refused = log.last().expect("audited");
    assert_eq!(
        (refused.0.as_str(), &refused.1, refused.2.as_str()),
        ("LEAD_STATUS_CHANGE", &vec![s.a.to_string()], "FAILURE"),
        "who tried without the permission is audited"
    );
    assert!(
        refused.3.as_deref().is_some_and(|e| e.starts_with("403 ")),
        "{refused:?}"
    );
    // The permission is checked before the body is read: a malformed body changes nothing.
    let response = app
        .patch_lead(s.a, &[VIEW])
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("PATCH");
    expect_envelope(response, StatusCode::FORBIDDEN, 403).await;
    let response = app
        .client
        .patch(app.url(&format!("/leads/{}", s.a)))
        .bearer_auth("Bearer-less garbage")
        .send()
        .await
        .expect("PATCH");
    expect_envelope(response, StatusCode::UNAUTHORIZED, 401).await;
    // The PATCH takes no query parameter.
    let response = app
        .client
        .patch(app.url(&format!("/leads/{}?processStatus=PROCESSED", s.a)))
        .bearer_auth(token(1, &[PROCESS]))
        .header("If-Match", "\"1\"")
        .json(&change)
        .send()
        .await
        .expect("PATCH");
    let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    assert_eq!(body["message"], "不支持的查询参数：processStatus");
    let response = app
        .client
        .get(app.url(&format!("/leads/{}", s.a)))
        .header("authorization", format!("BEARER {}", token(1, &[VIEW])))
        .send()
        .await
        .expect("GET");
    expect_envelope(response, StatusCode::OK, 200).await;
    // An unknown field or a wrong type is malformed (400); a value outside its set, a missing
    // one or a note too long is a validation error listing every failed field (422).
    for malformed in [
        json!({"processStatus": "PROCESSED", "x": 1}),
        json!({"processStatus": 3}),
    ] {
        let response = app.patch_status(1, s.a, Some("\"1\""), malformed).await;
        expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    }
    for (invalid, fields) in [
        (json!({"processStatus": "DONE"}), vec!["processStatus"]),
        (json!({}), vec!["processStatus"]),
        (
            json!({"processStatus": "DONE", "note": "长".repeat(501)}),
            vec!["note", "processStatus"],
        ),
    ] {
        let response = app.patch_status(1, s.a, Some("\"1\""), invalid).await;
        let body = expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
        let failed: Vec<&str> = body["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(failed, fields, "{body}");
    }
    let response = app
        .patch_status(2, s.a, Some("\"1\""), change.clone())
        .await;
    expect_envelope(response, StatusCode::NOT_FOUND, 404).await;
    assert!(
        app.outbox().await.is_empty(),
        "a refused change announces nothing"
    );

    // The change: version 2, visible to the list's filter at once, in the history, the log and
    // a LeadUpdated event.
    let response = app
        .patch_status(1, s.a, Some("W/\"1\""), change.clone())
        .await;
    assert_eq!(
        response.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some("\"2\"")
    );
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(
        body["data"],
        json!({"leadId": s.a, "processStatus": "PROCESSED", "version": 2, "changed": true})
    );
    let list = expect_envelope(
        app.leads(Some(&token(1, &[VIEW])), &[("processStatus", "PROCESSED")])
            .await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(list["data"]["records"][0]["leadId"], s.a);
    let detail = expect_envelope(
        app.detail(1, &[VIEW], &s.a.to_string(), "").await,
        StatusCode::OK,
        200,
    )
    .await;
    let history = &detail["data"]["statusHistory"][0];
    assert_eq!(history["fromStatus"], "PENDING");
    assert_eq!(history["toStatus"], "PROCESSED");
    assert_eq!(history["note"], "已电话回访，客户有意复购");
    assert_eq!(history["operatorId"], 7);
    let events = app.outbox().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "lead.updated.v1");
    let event = &events[0].1;
    assert_eq!(event["data"]["lead"]["leadId"], s.a);
    assert_eq!(event["data"]["lead"]["processStatus"], "PROCESSED");
    assert_eq!(event["data"]["lead"]["version"], 2);
    assert_eq!(event["data"]["changes"], json!(["STATUS"]));
    let log = app.operation_log().await;
    let success: Vec<_> = log
        .iter()
        .filter(|(a, _, r, _)| a == "LEAD_STATUS_CHANGE" && r == "SUCCESS")
        .collect();
    assert_eq!(success.len(), 1);
    assert_eq!(success[0].1, vec![s.a.to_string()]);
    {
        use leadgen_db::schema::t_operation_log as l;
        let mut conn = app.conn().await;
        let details: Vec<Option<Value>> = l::table
            .filter(l::action.eq("LEAD_STATUS_CHANGE"))
            .filter(l::result.eq("SUCCESS"))
            .order(l::id.asc())
            .select(l::detail)
            .load(&mut conn)
            .await
            .expect("details");
        assert_eq!(
            details.last().cloned().flatten(),
            Some(json!({"from": "PENDING", "to": "PROCESSED", "note": "已电话回访，客户有意复购"})),
            "the operation log shows what was changed"
        );
    }
    // The refused stale change is logged with the code and the message the salesperson saw.
    assert!(
        log.iter().any(|(_, _, r, e)| r == "FAILURE"
            && e.as_deref() == Some("40902 线索的处理状态已被修改（当前版本 1），请刷新后重试")),
        "{log:?}"
    );

    // The same request sent twice (a double click, a retry after a lost answer): its own change
    // is already made, answered as such; another salesperson with that old version conflicts.
    let again = app
        .patch_status(1, s.a, Some("\"1\""), change.clone())
        .await;
    let again = expect_envelope(again, StatusCode::OK, 200).await;
    assert_eq!(
        again["data"],
        json!({"leadId": s.a, "processStatus": "PROCESSED", "version": 2, "changed": false})
    );
    assert_eq!(app.outbox().await.len(), 1, "nothing announced twice");
    let colleague = app
        .client
        .patch(app.url(&format!("/leads/{}", s.a)))
        .bearer_auth(leadgen_test_support::token(1, 8, &[VIEW, PROCESS]))
        .header("If-Match", "\"1\"")
        .json(&change)
        .send()
        .await
        .expect("PATCH");
    expect_envelope(colleague, StatusCode::CONFLICT, 40902).await;

    // The same status again without a note: nothing changes, nothing is announced.
    let response = app
        .patch_status(1, s.a, Some("\"2\""), json!({"processStatus": "PROCESSED"}))
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(
        (&body["data"]["changed"], &body["data"]["version"]),
        (&json!(false), &json!(2))
    );
    // With a note, a follow-up: in the history and the log, a new version, announced to no one.
    // A phone number typed into it is stored and shown masked.
    let followup = json!({"processStatus": "PROCESSED", "note": "客户说下周再联系 13812345678"});
    let response = app.patch_status(1, s.a, Some("\"2\""), followup).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(
        (&body["data"]["changed"], &body["data"]["version"]),
        (&json!(false), &json!(3))
    );
    assert_eq!(app.outbox().await.len(), 1);
    let detail = expect_envelope(
        app.detail(1, &[VIEW], &s.a.to_string(), "").await,
        StatusCode::OK,
        200,
    )
    .await;
    let history = detail["data"]["statusHistory"].as_array().expect("history");
    assert_eq!(
        (
            &history[0]["fromStatus"],
            &history[0]["toStatus"],
            &history[0]["note"]
        ),
        (
            &json!("PROCESSED"),
            &json!("PROCESSED"),
            &json!("客户说下周再联系 138****5678")
        ),
        "{history:?}"
    );
    // A change made inside a transaction that began earlier (a bulk change of many leads) can
    // carry the earlier time; the history still lists the changes in the order they were made.
    {
        use diesel::dsl::IntervalDsl as _;
        use leadgen_db::schema::t_lead_status_change as history;
        let mut conn = app.conn().await;
        let newest: i64 = history::table
            .filter(history::lead_id.eq(s.a))
            .select(diesel::dsl::max(history::id))
            .first::<Option<i64>>(&mut conn)
            .await
            .expect("newest")
            .expect("a change");
        diesel::update(history::table.filter(history::id.eq(newest)))
            .set(history::occurred_at.eq(history::occurred_at - 1.minutes()))
            .execute(&mut conn)
            .await
            .expect("backdate");
    }
    let detail = expect_envelope(
        app.detail(1, &[VIEW], &s.a.to_string(), "").await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(
        detail["data"]["statusHistory"][0]["note"], "客户说下周再联系 138****5678",
        "{detail}"
    );
    // A version read before the status was set conflicts; one read after it does not, whatever
    // moved the version since (the note; a rescore or a new order alike).
    let response = app
        .patch_status(1, s.a, Some("\"1\""), json!({"processStatus": "INVALID"}))
        .await;
    expect_envelope(response, StatusCode::CONFLICT, 40902).await;
    {
        use leadgen_db::schema::t_order_lead as lead;
        let mut conn = app.conn().await;
        diesel::update(lead::table.find(s.a))
            .set(lead::version.eq(lead::version + 1))
            .execute(&mut conn)
            .await
            .expect("as order-processor rescores");
    }
    let response = app
        .patch_status(1, s.a, Some("\"2\""), json!({"processStatus": "INVALID"}))
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(
        (&body["data"]["changed"], &body["data"]["version"]),
        (&json!(true), &json!(5))
    );
    // A version the lead never had is no better.
    let response = app
        .patch_status(1, s.a, Some("\"9\""), json!({"processStatus": "PENDING"}))
        .await;
    expect_envelope(response, StatusCode::CONFLICT, 40902).await;
}

/// Bulk changes over the same leads, asked in opposite orders at once: each lead changes once
/// (the others, this same salesperson's repeats, find the change made: unchanged), and none
/// fails (no deadlock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bulk_changes_over_the_same_leads_never_deadlock() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let bulk = |items: Value| {
        let request = app
            .client
            .patch(app.url("/leads"))
            .bearer_auth(token(1, &[VIEW, PROCESS]))
            .json(&json!({"items": items, "processStatus": "INVALID"}));
        async move {
            let response = request.send().await.expect("PATCH /leads");
            expect_envelope(response, StatusCode::OK, 200).await
        }
    };
    let forward = json!([{"leadId": s.a, "version": 1}, {"leadId": s.b, "version": 1}]);
    let backward = json!([{"leadId": s.b, "version": 1}, {"leadId": s.a, "version": 1}]);
    let answers = futures::future::join_all((0..8).map(|i| {
        bulk(if i % 2 == 0 {
            forward.clone()
        } else {
            backward.clone()
        })
    }))
    .await;
    let mut updated = std::collections::HashMap::new();
    for answer in &answers {
        for result in answer["data"]["results"].as_array().expect("results") {
            let kind = result["result"].as_str().unwrap_or_default();
            assert!(matches!(kind, "UPDATED" | "UNCHANGED"), "{answer}");
            if kind == "UPDATED" {
                *updated
                    .entry(result["leadId"].as_i64().unwrap_or_default())
                    .or_insert(0) += 1;
            }
        }
    }
    assert_eq!(updated.get(&s.a), Some(&1), "{answers:?}");
    assert_eq!(updated.get(&s.b), Some(&1), "{answers:?}");
}

#[tokio::test]
async fn the_bulk_form_answers_per_lead() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let bulk = |items: Value| {
        app.client
            .patch(app.url("/leads"))
            .bearer_auth(token(1, &[VIEW, PROCESS]))
            .json(&json!({"items": items, "processStatus": "INVALID", "note": "空号"}))
            .send()
    };
    let response = bulk(json!([
        {"leadId": s.a, "version": 1},
        {"leadId": s.b, "version": 5},
        {"leadId": s.other, "version": 1},
    ]))
    .await
    .expect("PATCH /leads");
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let results = body["data"]["results"].as_array().expect("results");
    assert_eq!(results[0]["result"], "UPDATED");
    assert_eq!(results[0]["version"], 2);
    assert_eq!(results[1]["result"], "CONFLICT");
    assert_eq!(results[1]["code"], 40902);
    assert_eq!(results[1]["version"], 1, "the current version, to re-read");
    assert_eq!(results[2]["result"], "NOT_FOUND", "another tenant's lead");
    assert_eq!(app.outbox().await.len(), 1);

    let too_many: Vec<Value> = (1..=101)
        .map(|i| json!({"leadId": i, "version": 1}))
        .collect();
    let response = bulk(Value::Array(too_many)).await.expect("PATCH");
    let body = expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
    assert_eq!(body["errors"][0]["field"], "items", "{body}");
    let response = bulk(json!([{"leadId": s.a, "version": 2}, {"leadId": s.a, "version": 2}]))
        .await
        .expect("PATCH");
    let body = expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
    assert_eq!(
        body["errors"][0]["message"], "items 中的 leadId 不能重复",
        "{body}"
    );
    let response = bulk(json!([])).await.expect("PATCH");
    expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
    let response = bulk(json!([{"leadId": s.a}])).await.expect("PATCH");
    let body = expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
    assert_eq!(body["errors"][0]["field"], "items[0].version", "{body}");

    // Refusals are in the operation log as the single form's are, naming the leads the body
    // names: without lead:order:process, and a body that is refused.
    let response = app
        .client
        .patch(app.url("/leads"))
        .bearer_auth(token(1, &[VIEW]))
        .json(&json!({"items": [{"leadId": s.b, "version": 1}], "processStatus": "INVALID"}))
        .send()
        .await
        .expect("PATCH");
    expect_envelope(response, StatusCode::FORBIDDEN, 403).await;
    let log = app.operation_log().await;
    let refused = |leads: &[String], code: &str| {
        log.iter().any(|(action, targets, result, error)| {
            action == "LEAD_STATUS_CHANGE"
                && result == "FAILURE"
                && targets.as_slice() == leads
                && error.as_deref().is_some_and(|e| e.starts_with(code))
        })
    };
    assert!(refused(&[s.b.to_string()], "403"), "{log:?}");
    // The 101 ids of the refused body: named up to the bulk limit.
    let first_hundred: Vec<String> = (1..=100).map(|i: i64| i.to_string()).collect();
    assert!(refused(&first_hundred, "422"), "{log:?}");
}

/// A failure of the database on one lead of a bulk change is the request's: nothing is
/// changed and the request answers 500, never a 200 that says the other leads changed.
#[tokio::test]
async fn a_database_failure_on_one_lead_undoes_the_whole_bulk_change() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let mut conn = app.conn().await;
    diesel::sql_query(
        "CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
    )
    .execute(&mut conn)
    .await
    .expect("fault");
    diesel::sql_query(format!(
        "CREATE TRIGGER test_fault BEFORE INSERT ON t_lead_status_change FOR EACH ROW \
         WHEN (NEW.lead_id = {}) EXECUTE FUNCTION test_fault()",
        s.b
    ))
    .execute(&mut conn)
    .await
    .expect("trigger");
    let response = app
        .client
        .patch(app.url("/leads"))
        .bearer_auth(token(1, &[VIEW, PROCESS]))
        .json(&json!({
            "items": [{"leadId": s.a, "version": 1}, {"leadId": s.b, "version": 1}],
            "processStatus": "INVALID"
        }))
        .send()
        .await
        .expect("PATCH /leads");
    expect_envelope(response, StatusCode::INTERNAL_SERVER_ERROR, 500).await;
    let versions: Vec<i32> = t_order_lead::table
        .filter(t_order_lead::id.eq_any([s.a, s.b]))
        .select(t_order_lead::version)
        .load(&mut conn)
        .await
        .expect("versions");
    assert_eq!(versions, [1, 1], "nothing changed");
    assert!(app.outbox().await.is_empty(), "nothing announced");
}
