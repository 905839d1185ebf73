//! Revealing a number for a call: permission, purpose, audit, limits, and the number never kept.
//! (Numbers the platforms only send encrypted are revealed through their decrypt APIs: the
//! end-to-end tests do that against the platform simulator.)

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_contact_reveal;
use leadgen_domain::{BuyerRef, ContactField, Money, NeutralStatus, OrderItem, RawOrder, Receiver};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    CONTACT, SeedLead, TestApp, VIEW, expect_envelope, spawn_app, spawn_app_with,
};

fn order(id: &str, phone: &str) -> RawOrder {
    RawOrder {
        order_id: id.to_owned(),
        status: NeutralStatus::Completed,
        platform_status: "FINISHED_L".into(),
        created_at: Utc::now(),
        paid_at: Some(Utc::now()),
        modified_at: None,
        amount: Money(19_900),
        refunded: false,
        partial_refund: None,
        buyer: BuyerRef::default(),
        receiver: Receiver {
            phone: ContactField::phone(phone),
            ..Receiver::default()
        },
        items: vec![OrderItem {
            sku_id: None,
            title: "保温杯".into(),
            quantity: 1,
            price: Money(19_900),
        }],
    }
}

impl TestApp {
    async fn reveal(
        &self,
        tenant: i64,
        user: i64,
        perms: &[&str],
        id: i64,
        body: Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/leads/{id}/contact/reveal")))
            .bearer_auth(leadgen_test_support::token(tenant, user, perms))
            .json(&body)
            .send()
            .await
            .expect("POST reveal")
    }

    /// A JD shop of tenant 1 and a lead whose order carries the buyer's mobile in clear
    /// (`13812345678`, order `J-1`): the shop's id and the lead's.
    async fn jd_lead_with_a_clear_number(&self) -> (i64, i64) {
        let (shop, tenant) = self.platform(1, "JD").await;
        let lead = self
            .lead(
                tenant,
                "JD",
                SeedLead::new(1, shop, "J-1", "2026-05-01T02:00:00Z"),
            )
            .await;
        self.set_order(lead, &order("J-1", "13812345678")).await;
        (shop, lead)
    }

    async fn audits(&self) -> Vec<(i64, String, String, Option<i32>)> {
        let mut conn = self.conn().await;
        t_contact_reveal::table
            .order(t_contact_reveal::id.asc())
            .select((
                t_contact_reveal::operator_id,
                t_contact_reveal::purpose,
                t_contact_reveal::result,
                t_contact_reveal::error_code,
            ))
            .load(&mut conn)
            .await
            .expect("audit")
    }
}

#[tokio::test]
async fn a_number_sent_in_clear_is_revealed_audited_and_never_kept() {
    let app = spawn_app().await;
    let (_, lead) = app.jd_lead_with_a_clear_number().await;
    let body = json!({"purpose": "FULFILMENT", "reason": "核对收货信息 13812345678"});

    expect_envelope(
        app.reveal(1, 7, &[VIEW], lead, body.clone()).await,
        StatusCode::FORBIDDEN,
        403,
    )
    .await;
    // Without the right, a query or lead id that cannot be read is still a 403 (and a lead id
    // that cannot be read names no lead to audit).
    for path in [
        format!("/leads/{lead}/contact/reveal?x=1"),
        "/leads/abc/contact/reveal".into(),
    ] {
        let response = app
            .client
            .post(app.url(&path))
            .bearer_auth(leadgen_test_support::token(1, 7, &[VIEW]))
            .json(&body)
            .send()
            .await
            .expect("reveal");
        expect_envelope(response, StatusCode::FORBIDDEN, 403).await;
    }
    expect_envelope(
        app.reveal(2, 7, &[CONTACT], lead, body.clone()).await,
        StatusCode::NOT_FOUND,
        404,
    )
    .await;
    expect_envelope(
        app.reveal(1, 7, &[CONTACT], lead, json!({"purpose": "CHAT"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        422,
    )
    .await;

    let response = app.reveal(1, 7, &[CONTACT], lead, body.clone()).await;
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let answer = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(answer["data"]["phone"], "13812345678");
    assert_eq!(answer["data"]["kind"], "PLAIN");
    assert_eq!(answer["data"]["orderId"], "J-1");
    assert_eq!(answer["data"]["purpose"], "FULFILMENT");
    // Another tenant's attempt is audited too, in its own tenant: probing leaves a trace.
    assert_eq!(
        app.audits().await,
        vec![
            (7, "FULFILMENT".to_owned(), "FAILURE".to_owned(), Some(404)),
            (7, "FULFILMENT".to_owned(), "SUCCESS".to_owned(), None)
        ]
    );
    {
        use leadgen_db::schema::t_operation_log as l;
        let mut conn = app.conn().await;
        let lines: Vec<(i64, String, Option<String>, Option<serde_json::Value>)> = l::table
            .filter(l::action.eq("CONTACT_REVEAL"))
            .order(l::id.asc())
            .select((l::tenant_id, l::result, l::error_message, l::detail))
            .load(&mut conn)
            .await
            .expect("operation log");
        let refusals: Vec<(i64, Option<&str>)> = lines
            .iter()
            .filter(|(_, r, _, _)| r == "FAILURE")
            .map(|(t, _, e, _)| (*t, e.as_deref()))
            .collect();
        // The refusal without the right keeps the purpose and reason the body gave.
        let forbidden = &lines[0].3.as_ref().expect("detail");
        assert_eq!(
            (&forbidden["purpose"], &forbidden["reason"]),
            (&json!("FULFILMENT"), &json!("核对收货信息 138****5678")),
            "{lines:?}"
        );
        // The 404 keeps no free text: the lead may be one a shop's purge just deleted, whose
        // buyer nothing may be written about any more.
        let not_found = lines
            .iter()
            .find(|(t, _, _, _)| *t == 2)
            .and_then(|(_, _, _, d)| d.as_ref())
            .expect("the 404's detail");
        assert_eq!(not_found["reason"], serde_json::Value::Null, "{not_found}");
        assert_eq!(
            refusals,
            vec![
                (
                    1,
                    Some(
                        "403 没有权限：需要“查看号码”权限（lead:order:contact），请联系管理员开通"
                    )
                ),
                // With a query it may not send: refused for the right first, audited alike.
                (
                    1,
                    Some(
                        "403 没有权限：需要“查看号码”权限（lead:order:contact），请联系管理员开通"
                    )
                ),
                (2, Some("404 线索不存在")),
                // A purpose off the list is refused before the lead is read, and audited.
                (
                    1,
                    Some(
                        "422 请求参数校验失败（purpose：purpose 必须是 AFTER_SALES、CUSTOMER_CARE 或 FULFILMENT）"
                    )
                ),
            ],
            "{lines:?}"
        );
    }
    // JD permits fulfilment only, and that binds a number it sent in clear too; the answer
    // names the purpose to choose instead.
    let refused = expect_envelope(
        app.reveal(
            1,
            7,
            &[CONTACT],
            lead,
            json!({"purpose": "CUSTOMER_CARE", "reason": "回访复购意向"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        40006,
    )
    .await;
    assert_eq!(
        refused["message"],
        "该电商平台不允许以所选用途查看号码，可选用途：订单履约（FULFILMENT）"
    );

    // The number is in no table other than the sealed ones, and in no event.
    let mut conn = app.conn().await;
    #[derive(QueryableByName)]
    struct Hit {
        #[diesel(sql_type = diesel::sql_types::Text)]
        place: String,
    }
    let hits: Vec<Hit> = diesel::sql_query(
        "SELECT 'reveal' AS place FROM t_contact_reveal WHERE row_to_json(t_contact_reveal)::text LIKE '%13812345678%' \
         UNION ALL SELECT 'log' FROM t_operation_log WHERE row_to_json(t_operation_log)::text LIKE '%13812345678%' \
         UNION ALL SELECT 'outbox' FROM t_outbox WHERE payload::text LIKE '%13812345678%'",
    )
    .load(&mut conn)
    .await
    .expect("scan");
    assert!(
        hits.is_empty(),
        "the number was kept in {:?}",
        hits.iter().map(|h| &h.place).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_lead_without_a_revealable_contact_is_refused_and_audited() {
    let app = spawn_app().await;
    let (p1, t1) = app.platform(1, "TAOBAO").await;
    let lead = app
        .lead(
            t1,
            "TAOBAO",
            SeedLead::new(1, p1, "T-1", "2026-05-01T02:00:00Z"),
        )
        .await;
    let response = app
        .reveal(1, 7, &[CONTACT], lead, json!({"purpose": "FULFILMENT"}))
        .await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 40007).await;
    assert_eq!(
        app.audits().await,
        vec![(
            7,
            "FULFILMENT".to_owned(),
            "FAILURE".to_owned(),
            Some(40007)
        )]
    );
    // Why, for whoever reads the audit (it was only "该线索没有可查看的号码").
    let mut conn = app.conn().await;
    let said: Option<String> = t_contact_reveal::table
        .select(t_contact_reveal::error_message)
        .first(&mut conn)
        .await
        .expect("audit");
    assert!(
        said.as_deref()
            .is_some_and(|m| m.contains("（原因：订单 T-1 没有可读的收货人信息")),
        "{said:?}"
    );
}

#[tokio::test]
async fn reveals_are_limited_per_user_and_per_tenant_each_day() {
    let app = spawn_app_with(|s| {
        s.reveal.per_user_daily = 1;
        s.reveal.per_tenant_daily = 2;
    })
    .await;
    let (p1, t1) = app.platform(1, "JD").await;
    let lead = app
        .lead(
            t1,
            "JD",
            SeedLead::new(1, p1, "J-2", "2026-05-01T02:00:00Z"),
        )
        .await;
    app.set_order(lead, &order("J-2", "13912345678")).await;
    let body = json!({"purpose": "FULFILMENT"});
    expect_envelope(
        app.reveal(1, 7, &[CONTACT], lead, body.clone()).await,
        StatusCode::OK,
        200,
    )
    .await;
    let refused = app.reveal(1, 7, &[CONTACT], lead, body.clone()).await;
    // The limit renews at the next Beijing midnight, and the answer says when.
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=86_400).contains(&retry_after), "{retry_after}");
    expect_envelope(refused, StatusCode::TOO_MANY_REQUESTS, 42901).await;
    expect_envelope(
        app.reveal(1, 8, &[CONTACT], lead, body.clone()).await,
        StatusCode::OK,
        200,
    )
    .await;
    expect_envelope(
        app.reveal(1, 9, &[CONTACT], lead, body.clone()).await,
        StatusCode::TOO_MANY_REQUESTS,
        42902,
    )
    .await;
    // The refused tenant limit did not use up user 9's own reveal: the counters moved together.
    let codes: Vec<Option<i32>> = app.audits().await.into_iter().map(|a| a.3).collect();
    assert_eq!(codes, vec![None, Some(42901), None, Some(42902)]);
}

/// A merged buyer's lead shows the contact of one order and names another as its latest: the
/// reveal decrypts the order whose number the salesperson sees, on that order's platform.
#[tokio::test]
async fn a_reveal_decrypts_the_order_whose_contact_the_lead_shows() {
    let app = spawn_app().await;
    let (jd, jd_task) = app.platform(1, "JD").await;
    let (taobao, taobao_task) = app.platform(1, "TAOBAO").await;
    let lead = app
        .lead(
            jd_task,
            "JD",
            SeedLead::new(1, jd, "J-9", "2026-05-02T02:00:00Z"),
        )
        .await;
    app.set_order(lead, &order("J-9", "13700000009")).await;
    let older = app
        .lead(
            taobao_task,
            "TAOBAO",
            SeedLead::new(1, taobao, "T-8", "2026-04-01T02:00:00Z"),
        )
        .await;
    app.set_order(older, &order("T-8", "13600000008")).await;
    let body = json!({"purpose": "FULFILMENT"});

    // Before order-processor keeps the contact's order, the latest order is decrypted.
    let answer = expect_envelope(
        app.reveal(1, 7, &[CONTACT], lead, body.clone()).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(answer["data"]["orderId"], "J-9");

    let mut conn = app.conn().await;
    diesel::sql_query(
        "UPDATE t_order_lead SET contact_raw_order_id = \
         (SELECT raw_order_id FROM t_order_lead WHERE id = $2) WHERE id = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(lead)
    .bind::<diesel::sql_types::BigInt, _>(older)
    .execute(&mut conn)
    .await
    .expect("point the lead's contact at the older order");
    let answer = expect_envelope(
        app.reveal(1, 7, &[CONTACT], lead, body).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(answer["data"]["phone"], "13600000008");
    assert_eq!(answer["data"]["orderId"], "T-8");
    assert_eq!(answer["data"]["platformType"], "TAOBAO");
    assert_eq!(answer["data"]["leadId"], lead);
    let audited: Vec<(i64, String)> = t_contact_reveal::table
        .order(t_contact_reveal::id.asc())
        .select((t_contact_reveal::platform_id, t_contact_reveal::order_id))
        .load(&mut conn)
        .await
        .expect("audit");
    assert_eq!(
        audited,
        vec![(jd, "J-9".to_owned()), (taobao, "T-8".to_owned())]
    );
    // The operation log shows auditors what was asked for, and of which order.
    use leadgen_db::schema::t_operation_log;
    let details: Vec<Option<Value>> = t_operation_log::table
        .filter(t_operation_log::action.eq("CONTACT_REVEAL"))
        .order(t_operation_log::id.asc())
        .select(t_operation_log::detail)
        .load(&mut conn)
        .await
        .expect("operation log");
    assert_eq!(
        details.last().cloned().flatten(),
        Some(json!({"purpose": "FULFILMENT", "platformId": taobao, "orderId": "T-8"}))
    );
}

#[tokio::test]
async fn a_privacy_number_sent_in_clear_is_revealed_with_its_assumed_expiry() {
    let app = spawn_app().await;
    let (p1, t1) = app.platform(1, "JD").await;
    let lead = app
        .lead(
            t1,
            "JD",
            SeedLead::new(1, p1, "J-9", "2026-05-01T02:00:00Z"),
        )
        .await;
    let sent_with = |placed: chrono::DateTime<Utc>| {
        let mut sent = order("J-9", "17012349030-7841");
        sent.created_at = placed;
        sent.paid_at = Some(placed);
        sent
    };
    let placed = whole_seconds_ago(chrono::Duration::days(2));
    app.set_order(lead, &sent_with(placed)).await;
    let answer = expect_envelope(
        app.reveal(1, 7, &[CONTACT], lead, json!({"purpose": "FULFILMENT"}))
            .await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(answer["data"]["kind"], "VIRTUAL", "{answer}");
    assert_eq!(answer["data"]["phone"], "17012349030");
    assert_eq!(answer["data"]["extension"], "7841");
    let expires = (placed
        + chrono::Duration::days(leadgen_domain::contact::ASSUMED_PRIVACY_NUMBER_DAYS))
    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    assert_eq!(answer["data"]["expiresAt"], expires, "{answer}");

    // Past its forwarding days the number dials nobody: refused (40010), audited, and no reveal
    // spent on it.
    let lapsed = whole_seconds_ago(chrono::Duration::days(
        leadgen_domain::contact::ASSUMED_PRIVACY_NUMBER_DAYS + 3,
    ));
    app.set_order(lead, &sent_with(lapsed)).await;
    let refused = expect_envelope(
        app.reveal(1, 7, &[CONTACT], lead, json!({"purpose": "FULFILMENT"}))
            .await,
        StatusCode::BAD_REQUEST,
        40010,
    )
    .await;
    assert!(
        !refused.to_string().contains("17012349030"),
        "the number is not shown: {refused}"
    );
    let audits = app.audits().await;
    assert_eq!(
        audits.last().map(|a| (a.2.as_str(), a.3)),
        Some(("FAILURE", Some(40010))),
        "{audits:?}"
    );
}

/// A whole-second time `ago`, so that its JSON form is predictable.
fn whole_seconds_ago(ago: chrono::Duration) -> chrono::DateTime<Utc> {
    use chrono::Timelike as _;
    (Utc::now() - ago).with_nanosecond(0).unwrap_or_default()
}

/// A platform that never answers the decrypt call: the salesperson is answered 50201 within
/// `[reveal] deadline_ms`, not after every timeout and retry (46 s against a hung Taobao).
/// A Taobao lead whose number only the platform's decrypt API gives, on a platform that accepts
/// connections and never answers; reveals give up after `deadline_ms`, one at a time per tenant.
async fn taobao_lead_on_a_hung_platform(deadline_ms: u64) -> (TestApp, i64) {
    // Accepts connections and never answers.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = hung.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hung.accept().await {
            held.push(stream);
        }
    });
    taobao_lead_at(address, move |s| {
        s.reveal.deadline_ms = deadline_ms;
        s.reveal.per_tenant_concurrency = 1;
        s.reveal.busy_wait_ms = 200;
    })
    .await
}

/// A Taobao gateway at a local address that answers every call with `body` (HTTP 200, JSON).
async fn taobao_answering(body: &'static str) -> std::net::SocketAddr {
    leadgen_test_support::http_stub::answering_json(body)
        .await
        .address
}

/// A Taobao lead whose number only the platform's decrypt API gives, its shop's calls sent to
/// `address`, the app's settings changed by `tweak`.
async fn taobao_lead_at(
    address: std::net::SocketAddr,
    tweak: impl FnOnce(&mut lead_api::Settings),
) -> (TestApp, i64) {
    use leadgen_domain::{PlatformId, PlatformType};
    let app = spawn_app_with(move |s| {
        tweak(s);
        if let Some(taobao) = s.platforms.endpoints.get_mut(&PlatformType::Taobao) {
            taobao.api_url = format!("http://{address}/router/rest");
            // Far beyond the tests' bounds: a hung platform is answered by the reveal deadline.
            taobao.timeout_ms = 60_000;
        }
    })
    .await;
    let (shop, task) = app.platform(1, "TAOBAO").await;
    let sealer = leadgen_runtime::sealer(&leadgen_test_support::crypto_settings()).expect("sealer");
    let context = |column| leadgen_db::sealed::platform_auth(column, PlatformId::new(shop));
    {
        use leadgen_db::schema::t_ecom_platform_auth as auth;
        let mut conn = app.conn().await;
        diesel::update(auth::table.find(shop))
            .set((
                auth::auth_info.eq(sealer
                    .seal(&context("auth_info"), "{\"appSecret\":\"s\"}")
                    .expect("seal")),
                auth::access_token.eq(Some(
                    sealer.seal(&context("access_token"), "AT").expect("seal"),
                )),
            ))
            .execute(&mut conn)
            .await
            .expect("credentials");
    }
    let lead = app
        .lead(
            task,
            "TAOBAO",
            SeedLead::new(1, shop, "T-1", "2026-05-01T02:00:00Z"),
        )
        .await;
    let mut sent = order("T-1", "138****1234");
    sent.receiver.oaid = Some("oaid-1".into());
    app.set_order(lead, &sent).await;
    (app, lead)
}

#[tokio::test]
async fn a_platform_that_never_answers_is_given_up_at_the_reveal_deadline() {
    let (app, lead) = taobao_lead_on_a_hung_platform(500).await;
    let started = std::time::Instant::now();
    let answer = app
        .reveal(1, 7, &[CONTACT], lead, json!({"purpose": "FULFILMENT"}))
        .await;
    let waited = started.elapsed();
    let body = expect_envelope(answer, StatusCode::BAD_GATEWAY, 50201).await;
    assert!(
        waited < std::time::Duration::from_secs(5),
        "answered after {waited:?}: {body}"
    );
    let audits = app.audits().await;
    assert_eq!(
        audits.last().map(|a| (a.2.as_str(), a.3)),
        Some(("FAILURE", Some(50201))),
        "{audits:?}"
    );
    // The call the salesperson stopped waiting for still holds the tenant's one slot: a slow
    // platform is not sent more of the tenant's calls meanwhile.
    let again = app
        .reveal(1, 7, &[CONTACT], lead, json!({"purpose": "FULFILMENT"}))
        .await;
    expect_envelope(again, StatusCode::TOO_MANY_REQUESTS, 42904).await;
}

/// The day's counters of tenant 1: `(user id, used)`, the tenant's own as user 0.
async fn reveals_counted(app: &TestApp) -> Vec<(i64, i32)> {
    use leadgen_db::schema::t_contact_reveal_quota as quota;
    let mut conn = app.conn().await;
    quota::table
        .filter(quota::tenant_id.eq(1))
        .order(quota::user_id.asc())
        .select((quota::user_id, quota::used))
        .load(&mut conn)
        .await
        .expect("counters")
}

/// A decrypt the platform turned away with its throttle opened no number and spent none of the
/// platform's quota: the salesperson's and the tenant's counts are given back. One the platform
/// answered (an error code we do not know) may have been counted by it, and stays counted.
#[tokio::test]
async fn a_reveal_the_platform_throttled_is_not_counted_and_one_it_answered_is() {
    let throttled = taobao_answering(
        r#"{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 1 more seconds"}}"#,
    )
    .await;
    let (app, lead) = taobao_lead_at(throttled, |s| s.reveal.max_retries = 0).await;
    let body = json!({"purpose": "AFTER_SALES"});
    expect_envelope(
        app.reveal(1, 7, &[CONTACT], lead, body.clone()).await,
        StatusCode::TOO_MANY_REQUESTS,
        42903,
    )
    .await;
    assert_eq!(reveals_counted(&app).await, vec![(0, 0), (7, 0)]);
    let audits = app.audits().await;
    assert_eq!(
        audits.last().map(|a| (a.2.as_str(), a.3)),
        Some(("FAILURE", Some(42903))),
        "the attempt is audited all the same: {audits:?}"
    );

    let answered = taobao_answering(
        r#"{"error_response":{"code":9999,"msg":"Remote service error","sub_code":"isv.unknown","sub_msg":"未知错误"}}"#,
    )
    .await;
    let (app, lead) = taobao_lead_at(answered, |s| s.reveal.max_retries = 0).await;
    expect_envelope(
        app.reveal(1, 7, &[CONTACT], lead, body).await,
        StatusCode::BAD_GATEWAY,
        50201,
    )
    .await;
    assert_eq!(reveals_counted(&app).await, vec![(0, 1), (7, 1)]);
}

/// A shop whose sealed credentials do not open (a data key this process lacks) is never asked:
/// the reveal fails without counting against the salesperson's or the tenant's limits.
#[tokio::test]
async fn a_shop_whose_credentials_do_not_open_costs_no_reveal() {
    let address = taobao_answering(r#"{"top_oaid_decrypt_response":{}}"#).await;
    let (app, lead) = taobao_lead_at(address, |_| {}).await;
    {
        use leadgen_db::schema::t_ecom_platform_auth as auth;
        let mut conn = app.conn().await;
        diesel::update(auth::table.filter(auth::tenant_id.eq(1)))
            .set(auth::auth_info.eq("v1:not-a-seal-this-process-opens"))
            .execute(&mut conn)
            .await
            .expect("credentials");
    }
    let answer = app
        .reveal(1, 7, &[CONTACT], lead, json!({"purpose": "FULFILMENT"}))
        .await;
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reveals_counted(&app)
            .await
            .into_iter()
            .filter(|(_, used)| *used > 0)
            .count(),
        0,
        "nothing counted"
    );
}

/// A shop whose session the platform no longer takes, and that has no refresh token, ends its
/// grant: the reveal is refused as for a shop not connected, and the shop is EXPIRED.
#[tokio::test]
async fn a_reveal_that_finds_the_session_dead_ends_the_shops_grant() {
    let dead = taobao_answering(
        r#"{"error_response":{"code":27,"msg":"Invalid session","sub_code":"invalid-sessionkey","sub_msg":"SessionKey非法"}}"#,
    )
    .await;
    let (app, lead) = taobao_lead_at(dead, |s| s.reveal.max_retries = 0).await;
    let answer = app
        .reveal(1, 7, &[CONTACT], lead, json!({"purpose": "FULFILMENT"}))
        .await;
    expect_envelope(answer, StatusCode::BAD_REQUEST, 40001).await;
    use leadgen_db::schema::t_ecom_platform_auth as auth;
    let status: String = auth::table
        .filter(auth::tenant_id.eq(1))
        .select(auth::status)
        .first(&mut app.conn().await)
        .await
        .expect("the shop");
    assert_eq!(status, "EXPIRED");
}

/// A salesperson who stops waiting (the request dropped mid-call) leaves the reveal audited all
/// the same: the attempt and its audit do not depend on the caller staying.
#[tokio::test]
async fn a_reveal_whose_caller_went_away_is_still_audited() {
    let (app, lead) = taobao_lead_on_a_hung_platform(1_500).await;
    let gone = app
        .client
        .post(app.url(&format!("/leads/{lead}/contact/reveal")))
        .bearer_auth(leadgen_test_support::token(1, 7, &[CONTACT]))
        .json(&json!({"purpose": "FULFILMENT"}))
        .timeout(std::time::Duration::from_millis(200))
        .send()
        .await;
    assert!(gone.is_err(), "the caller gave up first: {gone:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let audits = app.audits().await;
        if let Some(last) = audits.last() {
            assert_eq!((last.2.as_str(), last.3), ("FAILURE", Some(50201)));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never audited");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let logged: i64 = {
        use leadgen_db::schema::t_operation_log as log;
        let mut conn = app.conn().await;
        log::table
            .filter(log::action.eq("CONTACT_REVEAL"))
            .count()
            .get_result(&mut conn)
            .await
            .expect("log")
    };
    assert_eq!(logged, 1, "the operation log has it too");
}

/// A reveal whose query cannot be read is refused and audited like one whose body cannot.
#[tokio::test]
async fn a_reveal_with_an_unreadable_query_is_refused_and_audited() {
    let app = spawn_app().await;
    let (_, lead) = app.jd_lead_with_a_clear_number().await;
    let answer = app
        .client
        .post(app.url(&format!("/leads/{lead}/contact/reveal?purpose=FULFILMENT")))
        .bearer_auth(leadgen_test_support::token(1, 7, &[CONTACT]))
        .json(&json!({"purpose": "FULFILMENT"}))
        .send()
        .await
        .expect("POST");
    expect_envelope(answer, StatusCode::BAD_REQUEST, 400).await;
    let refused: Vec<(String, Vec<String>, Option<String>)> = {
        use leadgen_db::schema::t_operation_log as log;
        let mut conn = app.conn().await;
        log::table
            .filter(log::action.eq("CONTACT_REVEAL"))
            .select((log::result, log::target_ids, log::error_message))
            .load(&mut conn)
            .await
            .expect("log")
    };
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "FAILURE");
    assert_eq!(refused[0].1, vec![lead.to_string()]);
    assert!(
        refused[0]
            .2
            .as_deref()
            .is_some_and(|m| m.contains("purpose")),
        "{refused:?}"
    );
    assert!(app.audits().await.is_empty(), "no reveal was attempted");
}

/// A number sent in clear is revealed only while the merchant keeps the shop connected and
/// running, as an encrypted one is: a paused shop answers 40009, a disconnected one 40001.
#[tokio::test]
async fn a_number_sent_in_clear_is_not_revealed_for_a_paused_or_disconnected_shop() {
    use leadgen_db::schema::t_ecom_platform_auth as auth;
    let app = spawn_app().await;
    let (p1, lead) = app.jd_lead_with_a_clear_number().await;
    let body = json!({"purpose": "FULFILMENT"});
    for (status, code) in [("DISABLED", 40009), ("REVOKED", 40001), ("EXPIRED", 40001)] {
        let mut conn = app.conn().await;
        diesel::update(auth::table.find(p1))
            .set(auth::status.eq(status))
            .execute(&mut conn)
            .await
            .expect("shop status");
        let answer = expect_envelope(
            app.reveal(1, 7, &[CONTACT], lead, body.clone()).await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
        assert!(answer["data"].is_null(), "{status}: {answer}");
    }
    let mut conn = app.conn().await;
    diesel::update(auth::table.find(p1))
        .set(auth::status.eq("ACTIVE"))
        .execute(&mut conn)
        .await
        .expect("shop status");
    let answer = expect_envelope(
        app.reveal(1, 7, &[CONTACT], lead, body).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(answer["data"]["phone"], "13812345678");
}
