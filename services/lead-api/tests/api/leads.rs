//! `GET /leads` (design 2.5): filters, sorting, paging, rendering, tenant isolation, permissions.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

use crate::helpers::{
    AUTH, Case, SYNC, SeedLead, TestApp, VIEW, expect_envelope, lead_ids, page_records,
    sealed_contact, spawn_app, token,
};

/// Tenant 1: platform `p1` (Taobao) with l1, l2 and `p2` (JD) with l3, l4; tenant 2: l5.
///
/// | lead | order time (UTC) | contact | amount | tags | score | status | created |
/// |---|---|---|---|---|---|---|---|
/// | l1 | 05-01 02:00 | 138****0001 | 199.00 | 高价值, 复购 | 80 | PENDING | 05-10 |
/// | l2 | 05-02 02:00 | *******5678 | 128.50 | 复购 | 60 | PROCESSED | 05-09 |
/// | l3 | 05-03 02:00 | 139****5678 | 0.07 | 高价值, 沉睡 | 95 | INVALID | 05-08 |
/// | l4 | 04-30 15:59:59 | 150****9999 | 1000.00 | — | 30 | PENDING | 05-11 |
pub(crate) struct Seeded {
    pub(crate) p1: i64,
    pub(crate) p2: i64,
    pub(crate) l1: i64,
    pub(crate) l2: i64,
    pub(crate) l3: i64,
    pub(crate) l4: i64,
    pub(crate) l5: i64,
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a UTC time")
}

pub(crate) async fn seed(app: &TestApp) -> Seeded {
    let (p1, t1) = app.platform(1, "TAOBAO").await;
    let (p2, t2) = app.platform(1, "JD").await;
    let (p3, t3) = app.platform(2, "TAOBAO").await;
    let l1 = app
        .lead(
            t1,
            "TAOBAO",
            SeedLead {
                contact_masked: "138****0001",
                contact_kind: "MASKED",
                product_info: "保温杯 x1",
                amount_fen: 19_900,
                tags: &["高价值", "复购"],
                score: 80,
                process_status: "PENDING",
                create_time: at("2024-05-10T00:00:00Z"),
                ..SeedLead::new(1, p1, "O-1", "2024-05-01T02:00:00Z")
            },
        )
        .await;
    let l2 = app
        .lead(
            t1,
            "TAOBAO",
            SeedLead {
                contact_masked: "*******5678",
                contact_kind: "PLATFORM_ENCRYPTED",
                product_info: "茶叶礼盒 x2",
                amount_fen: 12_850,
                tags: &["复购"],
                score: 60,
                process_status: "PROCESSED",
                create_time: at("2024-05-09T00:00:00Z"),
                ..SeedLead::new(1, p1, "O-2", "2024-05-02T02:00:00Z")
            },
        )
        .await;
    let l3 = app
        .lead(
            t2,
            "JD",
            SeedLead {
                contact_masked: "139****5678",
                contact_kind: "MASKED",
                product_info: "数据线 x1",
                amount_fen: 7,
                tags: &["高价值", "沉睡"],
                score: 95,
                process_status: "INVALID",
                create_time: at("2024-05-08T00:00:00Z"),
                ..SeedLead::new(1, p2, "O-3", "2024-05-03T02:00:00Z")
            },
        )
        .await;
    let l4 = app
        .lead(
            t2,
            "JD",
            SeedLead {
                contact_masked: "150****9999",
                contact_kind: "VIRTUAL",
                product_info: "按摩椅 x1",
                amount_fen: 100_000,
                tags: &[],
                score: 30,
                process_status: "PENDING",
                create_time: at("2024-05-11T00:00:00Z"),
                ..SeedLead::new(1, p2, "O-4", "2024-04-30T15:59:59Z")
            },
        )
        .await;
    let l5 = app
        .lead(
            t3,
            "TAOBAO",
            SeedLead {
                tags: &["高价值", "复购"],
                ..SeedLead::new(2, p3, "O-5", "2024-05-01T02:00:00Z")
            },
        )
        .await;
    Seeded {
        p1,
        p2,
        l1,
        l2,
        l3,
        l4,
        l5,
    }
}

/// The lead ids `tenant` gets for `query`, checking the envelope and that the page holds all.
pub(crate) async fn found(app: &TestApp, tenant: i64, query: &[(&str, &str)]) -> Vec<i64> {
    let response = app.leads(Some(&token(tenant, &[VIEW])), query).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let records = body["data"]["records"].as_array().expect("records").clone();
    let total = i64::try_from(records.len()).expect("small");
    lead_ids(&page_records(&body, total, 10, 1))
}

async fn found_raw(app: &TestApp, raw_query: &str) -> Vec<i64> {
    let response = app.leads_raw(&token(1, &[VIEW]), raw_query).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    let records = body["data"]["records"].as_array().expect("records").clone();
    let total = i64::try_from(records.len()).expect("small");
    lead_ids(&page_records(&body, total, 10, 1))
}

#[tokio::test]
async fn leads_render_masked_contacts_yuan_amounts_and_utc_times() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let response = app.leads(Some(&token(1, &[VIEW])), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("body");
    for order in ["O-1", "O-2", "O-3", "O-4"] {
        assert!(
            !text.contains(&sealed_contact(order)),
            "the sealed contact is never shown: {text}"
        );
    }
    let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let records = page_records(&body, 4, 10, 1);
    assert_eq!(lead_ids(&records), vec![s.l3, s.l2, s.l1, s.l4]);

    let l1 = &records[2];
    let keys: BTreeSet<&str> = l1
        .as_object()
        .expect("record")
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "leadId",
        "orderId",
        "platformId",
        "platformType",
        "orderTime",
        "contactInfo",
        "contactType",
        "productInfo",
        "amount",
        "intentionTags",
        "score",
        "processStatus",
        "createTime",
        // Buyer-lead fields: the buyer's aggregate and why it scored so.
        "orderCount",
        "totalAmount",
        "lastOrderTime",
        "scoreReasons",
        "modelVersion",
        "contactValidity",
        // What a status change's If-Match and a subscriber's initial load compare.
        "version",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected);
    assert_eq!(l1["version"], 1);
    assert_eq!(l1["orderCount"], 1);
    assert_eq!(l1["totalAmount"], "199.00");
    assert_eq!(l1["lastOrderTime"], "2024-05-01T02:00:00Z");
    assert_eq!(l1["scoreReasons"][0]["code"], "ONE_PURCHASE");
    assert_eq!(l1["modelVersion"], leadgen_domain::scoring::MODEL_VERSION);
    assert_eq!(l1["contactValidity"]["validity"], "MASKED");
    assert!(
        l1["contactValidity"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(l1["orderId"], "O-1");
    assert_eq!(l1["platformId"], s.p1);
    assert_eq!(l1["platformType"], "TAOBAO");
    assert_eq!(l1["orderTime"], "2024-05-01T02:00:00Z");
    assert_eq!(l1["createTime"], "2024-05-10T00:00:00Z");
    assert_eq!(l1["contactInfo"], "138****0001");
    assert_eq!(l1["contactType"], "MASKED");
    assert_eq!(l1["productInfo"], "保温杯 x1");
    assert_eq!(l1["amount"], "199.00", "19900 fen as a yuan string");
    assert_eq!(l1["intentionTags"], serde_json::json!(["高价值", "复购"]));
    assert_eq!(l1["score"], 80);
    assert_eq!(l1["processStatus"], "PENDING");

    let l2 = &records[1];
    assert_eq!(l2["amount"], "128.50");
    assert_eq!(l2["contactInfo"], "*******5678");
    assert_eq!(l2["contactType"], "PLATFORM_ENCRYPTED");
    let l3 = &records[0];
    assert_eq!(l3["amount"], "0.07");
    assert_eq!(l3["platformId"], s.p2);
    assert_eq!(l3["platformType"], "JD");
    let l4 = &records[3];
    assert_eq!(l4["amount"], "1000.00");
    assert_eq!(l4["intentionTags"], serde_json::json!([]));
    assert_eq!(l4["contactType"], "VIRTUAL");
}

#[tokio::test]
async fn leads_filter_by_platform_and_process_status() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let p1 = s.p1.to_string();
    let p2 = s.p2.to_string();
    assert_eq!(
        found(&app, 1, &[("platformId", &p1)]).await,
        vec![s.l2, s.l1]
    );
    assert_eq!(
        found(&app, 1, &[("platformId", &p2)]).await,
        vec![s.l3, s.l4]
    );
    // A renewed authorization's old id (a 201 answered it) lists the shop it was renewed into;
    // for another tenant it lists nothing.
    use diesel_async::RunQueryDsl as _;
    let (alias, _) = app.platform(1, "TAOBAO").await;
    let mut conn = app.conn().await;
    diesel::sql_query("UPDATE t_ecom_platform_auth SET superseded_by = $1 WHERE id = $2")
        .bind::<diesel::sql_types::BigInt, _>(s.p1)
        .bind::<diesel::sql_types::BigInt, _>(alias)
        .execute(&mut conn)
        .await
        .expect("an alias of shop 1");
    drop(conn);
    let alias = alias.to_string();
    assert_eq!(
        found(&app, 1, &[("platformId", &alias)]).await,
        vec![s.l2, s.l1]
    );
    assert!(found(&app, 2, &[("platformId", &alias)]).await.is_empty());
    assert_eq!(
        found(&app, 1, &[("processStatus", "PENDING")]).await,
        vec![s.l1, s.l4]
    );
    assert_eq!(
        found(&app, 1, &[("processStatus", "PROCESSED")]).await,
        vec![s.l2]
    );
    assert_eq!(
        found(&app, 1, &[("processStatus", "INVALID")]).await,
        vec![s.l3]
    );
    assert_eq!(
        found(
            &app,
            1,
            &[("platformId", &p1), ("processStatus", "PENDING")]
        )
        .await,
        vec![s.l1]
    );
    // Empty values are no filter.
    assert_eq!(
        found(
            &app,
            1,
            &[
                ("platformId", ""),
                ("processStatus", ""),
                ("contactInfo", "")
            ]
        )
        .await,
        vec![s.l3, s.l2, s.l1, s.l4]
    );
}

#[tokio::test]
async fn leads_filter_by_order_time_in_any_offset() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    // 10:00 in Beijing is 02:00 UTC: both ends are inclusive.
    assert_eq!(
        found(&app, 1, &[("orderTimeStart", "2024-05-01T10:00:00+08:00")]).await,
        vec![s.l3, s.l2, s.l1]
    );
    assert_eq!(
        found(&app, 1, &[("orderTimeEnd", "2024-05-01T10:00:00+08:00")]).await,
        vec![s.l1, s.l4]
    );
    // May 1st in Beijing: l4 (23:59:59 on April 30th in Beijing) is outside.
    assert_eq!(
        found(
            &app,
            1,
            &[
                ("orderTimeStart", "2024-05-01T00:00:00+08:00"),
                ("orderTimeEnd", "2024-05-01T23:59:59+08:00"),
            ]
        )
        .await,
        vec![s.l1]
    );
    // The same day asked in UTC includes l4 and not l2.
    assert_eq!(
        found(
            &app,
            1,
            &[
                ("orderTimeStart", "2024-04-30T00:00:00Z"),
                ("orderTimeEnd", "2024-05-01T23:59:59Z"),
            ]
        )
        .await,
        vec![s.l1, s.l4]
    );
    // Percent-encoded by hand, as a front end would send it.
    assert_eq!(
        found_raw(&app, "orderTimeStart=2024-05-02T10%3A00%3A00%2B08%3A00").await,
        vec![s.l3, s.l2]
    );
}

#[tokio::test]
async fn leads_filter_by_a_substring_of_the_masked_contact() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    assert_eq!(found(&app, 1, &[("contactInfo", "138")]).await, vec![s.l1]);
    assert_eq!(
        found(&app, 1, &[("contactInfo", "5678")]).await,
        vec![s.l3, s.l2]
    );
    assert_eq!(found(&app, 1, &[("contactInfo", "0001")]).await, vec![s.l1]);
    assert_eq!(
        found(&app, 1, &[("contactInfo", "****")]).await,
        vec![s.l3, s.l2, s.l1, s.l4]
    );
    assert_eq!(
        found(&app, 1, &[("contactInfo", "*******")]).await,
        vec![s.l2]
    );
    // LIKE wildcards are taken literally.
    assert!(found(&app, 1, &[("contactInfo", "%")]).await.is_empty());
    assert!(found(&app, 1, &[("contactInfo", "_")]).await.is_empty());
    assert!(found(&app, 1, &[("contactInfo", "1_8")]).await.is_empty());
    // The plain contact is not searchable (only the masked copy is): a full number is looked up
    // only through the buyers' blind indexes, and none is known here.
    let response = app
        .leads(Some(&token(1, &[VIEW])), &[("contactInfo", "13800000001")])
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["total"], 0, "{body}");
}

#[tokio::test]
async fn leads_filter_by_intention_tags_requiring_every_tag() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    assert_eq!(
        found(&app, 1, &[("intentionTags", "高价值")]).await,
        vec![s.l3, s.l1]
    );
    assert_eq!(
        found(&app, 1, &[("intentionTags", "复购")]).await,
        vec![s.l2, s.l1]
    );
    // Repeated parameters.
    assert_eq!(
        found(
            &app,
            1,
            &[("intentionTags", "高价值"), ("intentionTags", "复购")]
        )
        .await,
        vec![s.l1]
    );
    // A comma list.
    assert_eq!(
        found(&app, 1, &[("intentionTags", "高价值,复购")]).await,
        vec![s.l1]
    );
    assert_eq!(
        found(&app, 1, &[("intentionTags", "高价值, 沉睡")]).await,
        vec![s.l3]
    );
    // The bracket form some front-end libraries send.
    assert_eq!(
        found(
            &app,
            1,
            &[("intentionTags[]", "高价值"), ("intentionTags[]", "沉睡")]
        )
        .await,
        vec![s.l3]
    );
    assert!(
        found(&app, 1, &[("intentionTags", "复购,沉睡")])
            .await
            .is_empty()
    );
    // A JSON array, as the design document writes its example (`["高意向"]`).
    assert_eq!(
        found(&app, 1, &[("intentionTags", r#"["高价值", "沉睡"]"#)]).await,
        vec![s.l3]
    );
    let body = expect_envelope(
        app.leads(Some(&token(1, &[VIEW])), &[("intentionTags", "[高价值]")])
            .await,
        StatusCode::BAD_REQUEST,
        400,
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("intentionTags 写成数组时")),
        "{body}"
    );
    // A tag that does not exist is a mistake, not an empty list: 400 naming the values.
    let body = expect_envelope(
        app.leads(
            Some(&token(1, &[VIEW])),
            &[("intentionTags", "高价值,不存在")],
        )
        .await,
        StatusCode::BAD_REQUEST,
        400,
    )
    .await;
    assert_eq!(
        body["message"],
        "intentionTags 取值无效：不存在；可选值：高意向、中意向、低意向、购买过、复购、未支付、退款售后、高价值、即将复购、沉睡"
    );
    // Combined with other filters.
    let p1 = s.p1.to_string();
    assert_eq!(
        found(&app, 1, &[("intentionTags", "高价值"), ("platformId", &p1)]).await,
        vec![s.l1]
    );
}

#[tokio::test]
async fn leads_sort_by_the_allowed_fields() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let cases: [Case<'_>; 9] = [
        (&[], vec![s.l3, s.l2, s.l1, s.l4]),
        (&[("order", "asc")], vec![s.l4, s.l1, s.l2, s.l3]),
        (
            &[("sort", "orderTime"), ("order", "desc")],
            vec![s.l3, s.l2, s.l1, s.l4],
        ),
        (&[("sort", "score")], vec![s.l3, s.l1, s.l2, s.l4]),
        (
            &[("sort", "score"), ("order", "asc")],
            vec![s.l4, s.l2, s.l1, s.l3],
        ),
        (&[("sort", "amount")], vec![s.l4, s.l1, s.l2, s.l3]),
        (
            &[("sort", "amount"), ("order", "asc")],
            vec![s.l3, s.l2, s.l1, s.l4],
        ),
        (&[("sort", "createTime")], vec![s.l4, s.l1, s.l2, s.l3]),
        (
            &[("sort", "createTime"), ("order", "asc")],
            vec![s.l3, s.l2, s.l1, s.l4],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(found(&app, 1, query).await, expected, "{query:?}");
    }
}

#[tokio::test]
async fn leads_page() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let view = token(1, &[VIEW]);
    let response = app.leads(Some(&view), &[("size", "3")]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(
        lead_ids(&page_records(&body, 4, 3, 1)),
        vec![s.l3, s.l2, s.l1]
    );

    let response = app
        .leads(Some(&view), &[("size", "3"), ("page", "2")])
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(lead_ids(&page_records(&body, 4, 3, 2)), vec![s.l4]);

    let response = app
        .leads(Some(&view), &[("size", "3"), ("page", "3")])
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert!(page_records(&body, 4, 3, 3).is_empty());

    let response = app
        .leads(
            Some(&view),
            &[("size", "2"), ("page", "2"), ("sort", "score")],
        )
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(lead_ids(&page_records(&body, 4, 2, 2)), vec![s.l2, s.l4]);
}

#[tokio::test]
async fn a_long_list_counts_up_to_its_window_and_every_page_it_names_is_reachable() {
    use diesel_async::RunQueryDsl;
    let app = spawn_app().await;
    let s = seed(&app).await;
    // 2,100 more buyers of tenant 1 (copies of l4 a minute apart), 4 of them 高价值.
    let mut conn = app.conn().await;
    diesel::sql_query(format!(
        "INSERT INTO t_order_lead (tenant_id, platform_id, platform_type, order_id, raw_order_id, \
           processed_order_id, contact_info, contact_masked, contact_kind, product_info, amount_fen, \
           order_time, intention_tags, score, process_status, order_count, paid_order_count, \
           paid_total_fen, last_order_time, aggregate, intention, score_reasons, model_version, \
           scored_by, contact_validity, contact_validity_reason) \
         SELECT tenant_id, platform_id, platform_type, 'copy-' || g, raw_order_id, processed_order_id, \
           contact_info, contact_masked, contact_kind, product_info, amount_fen, \
           order_time - make_interval(mins => g), \
           CASE WHEN g % 500 = 0 THEN ARRAY['高价值'] ELSE ARRAY['低意向'] END, score, \
           process_status, order_count, paid_order_count, paid_total_fen, last_order_time, \
           aggregate, intention, score_reasons, model_version, scored_by, contact_validity, \
           contact_validity_reason \
         FROM t_order_lead, generate_series(1, 2100) AS g WHERE id = {}",
        s.l4
    ))
    .execute(&mut *conn)
    .await
    .expect("copy leads");
    let view = token(1, &[VIEW]);

    // Past 2,000 the total stops counting: "at least 2,000", and pages follow from it.
    let body = expect_envelope(app.leads(Some(&view), &[]).await, StatusCode::OK, 200).await;
    assert_eq!(page_records(&body, 2000, 10, 1).len(), 10);
    assert_eq!(body["data"]["totalExact"], false);
    let body = expect_envelope(
        app.leads(Some(&view), &[("size", "100"), ("page", "20")])
            .await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(page_records(&body, 2000, 100, 20).len(), 100);
    // A size that does not divide the window: its last page (67 of 30) ends with the 2,000th
    // lead, and is the 2,000th of the whole list.
    let last = expect_envelope(
        app.leads(Some(&view), &[("size", "30"), ("page", "67")])
            .await,
        StatusCode::OK,
        200,
    )
    .await;
    let last = page_records(&last, 2000, 30, 67);
    assert_eq!(last.len(), 20);
    let twentieth = expect_envelope(
        app.leads(Some(&view), &[("size", "100"), ("page", "20")])
            .await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(
        last.last().map(|l| &l["leadId"]),
        twentieth["data"]["records"]
            .as_array()
            .and_then(|r| r.last())
            .map(|l| &l["leadId"])
    );
    expect_envelope(
        app.leads(Some(&view), &[("size", "30"), ("page", "68")])
            .await,
        StatusCode::BAD_REQUEST,
        40008,
    )
    .await;
    // One page beyond the window: 40008, in Chinese.
    let body = expect_envelope(
        app.leads(Some(&view), &[("size", "100"), ("page", "21")])
            .await,
        StatusCode::BAD_REQUEST,
        40008,
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("缩小筛选条件")
    );
    // Under the window the total is exact, from the count or from the last page.
    let body = expect_envelope(
        app.leads(Some(&view), &[("intentionTags", "高价值")]).await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(page_records(&body, 6, 10, 1).len(), 6);
    // A page past the list's end, beyond the window too: empty, as any list's, when fewer
    // leads than the window match.
    let body = expect_envelope(
        app.leads(
            Some(&view),
            &[("intentionTags", "高价值"), ("page", "999"), ("size", "10")],
        )
        .await,
        StatusCode::OK,
        200,
    )
    .await;
    assert!(page_records(&body, 6, 10, 999).is_empty());
    assert_eq!(body["data"]["totalExact"], true);
    assert_eq!(body["data"]["totalExact"], true);
    let body = expect_envelope(
        app.leads(Some(&view), &[("intentionTags", "高价值"), ("size", "4")])
            .await,
        StatusCode::OK,
        200,
    )
    .await;
    assert_eq!(page_records(&body, 6, 4, 1).len(), 4);
    assert_eq!(body["data"]["totalExact"], true);
}

#[tokio::test]
async fn every_intention_tag_has_the_bit_the_database_gives_it() {
    use diesel::sql_types::{Array, Integer, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Bits {
        #[diesel(sql_type = Integer)]
        bits: i32,
    }
    let app = spawn_app().await;
    let mut conn = app.conn().await;
    let mut all = 0;
    for tag in leadgen_domain::IntentionTag::ALL {
        let got: Bits = diesel::sql_query("SELECT lead_tag_bits($1) AS bits")
            .bind::<Array<Text>, _>(vec![tag.label().to_owned()])
            .get_result(&mut *conn)
            .await
            .expect("bits");
        assert_eq!(got.bits, tag.bit(), "{}", tag.label());
        all |= tag.bit();
    }
    let labels: Vec<String> = leadgen_domain::IntentionTag::ALL
        .iter()
        .map(|t| t.label().to_owned())
        .chain(["不存在".to_owned()])
        .collect();
    let got: Bits = diesel::sql_query("SELECT lead_tag_bits($1) AS bits")
        .bind::<Array<Text>, _>(labels)
        .get_result(&mut *conn)
        .await
        .expect("bits");
    assert_eq!(got.bits, all);
}

#[tokio::test]
async fn leads_reject_bad_parameters_with_400() {
    let app = spawn_app().await;
    seed(&app).await;
    let view = token(1, &[VIEW]);
    for query in [
        vec![("sort", "phone")],
        vec![("sort", "contactInfo")],
        vec![("order", "up")],
        vec![("size", "101")],
        vec![("size", "0")],
        vec![("size", "ten")],
        vec![("page", "0")],
        vec![("page", "abc")],
        vec![("platformId", "abc")],
        vec![("processStatus", "FOO")],
        vec![("processStatus", "pending")],
        vec![("orderTimeStart", "yesterday")],
        vec![("orderTimeEnd", "2024-05-01")],
        vec![("orderTimeEnd", "2024-05-01 10:00:00")],
        vec![
            ("orderTimeStart", "2024-05-02T00:00:00Z"),
            ("orderTimeEnd", "2024-05-01T00:00:00Z"),
        ],
    ] {
        let response = app.leads(Some(&view), &query).await;
        let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{query:?}: not Chinese: {message}"
        );
        for english in ["expected", "invalid", "valid ", "error"] {
            assert!(!message.contains(english), "{query:?}: {message}");
        }
    }
    // A NUL character, raw or encoded, anywhere in the query: 400, never a database error.
    for raw in [
        "contactInfo=%00",
        "contactInfo=13%008",
        "processStatus=PENDING%00",
        "x=%00",
    ] {
        let response = app.leads_raw(&view, raw).await;
        let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
        assert_eq!(body["message"], leadgen_http::nul::MESSAGE, "{raw}");
    }
    // An unencoded `+` arrives as a space; before an offset it can only be the `+` it was:
    // 10:00 in Beijing is 02:00 UTC, which takes the lead of 2024-05-02T02:00Z in.
    let response = app
        .leads_raw(&view, "orderTimeStart=2024-05-02T10:00:00+08:00")
        .await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["total"], 2, "{body}");
    // A cache buster is not a filter; any other undocumented name is refused.
    let response = app.leads_raw(&view, "_t=1700000000000&_=1").await;
    expect_envelope(response, StatusCode::OK, 200).await;
    let response = app.leads_raw(&view, "platfromId=1").await;
    let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    assert_eq!(body["message"], "不支持的查询参数：platfromId");
    // One value per parameter but the tags; an empty one is the default.
    let response = app.leads_raw(&view, "size=1&size=2").await;
    let body = expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    assert_eq!(body["message"], "查询参数 size 只能出现一次");
    let response = app.leads_raw(&view, "order=ASC").await;
    expect_envelope(response, StatusCode::BAD_REQUEST, 400).await;
    let response = app.leads_raw(&view, "page=&size=").await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert_eq!(body["data"]["size"], 10, "{body}");
}

#[tokio::test]
async fn leads_are_scoped_to_the_tenant() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    assert_eq!(found(&app, 2, &[]).await, vec![s.l5]);
    let p1 = s.p1.to_string();
    assert!(found(&app, 2, &[("platformId", &p1)]).await.is_empty());
    assert_eq!(
        found(
            &app,
            2,
            &[("contactInfo", "138"), ("intentionTags", "高价值,复购")]
        )
        .await,
        vec![s.l5]
    );
    assert!(
        !found(&app, 1, &[("contactInfo", "138")])
            .await
            .contains(&s.l5)
    );

    let response = app.leads(Some(&token(3, &[VIEW])), &[]).await;
    let body = expect_envelope(response, StatusCode::OK, 200).await;
    assert!(page_records(&body, 0, 10, 1).is_empty());
}

#[tokio::test]
async fn leads_require_a_valid_token_and_the_view_permission() {
    let app = spawn_app().await;
    seed(&app).await;
    expect_envelope(app.leads(None, &[]).await, StatusCode::UNAUTHORIZED, 401).await;
    expect_envelope(
        app.leads(Some("garbage"), &[]).await,
        StatusCode::UNAUTHORIZED,
        401,
    )
    .await;
    let expired = leadgen_http::auth::mint_hs256(
        leadgen_test_support::JWT_SECRET,
        &leadgen_http::Claims {
            sub: 7,
            tenant_id: 1,
            name: "测试用户".into(),
            perms: vec![VIEW.into()],
            exp: Utc::now().timestamp() - 3600,
            iss: None,
            aud: Vec::new(),
        },
    )
    .expect("mint");
    expect_envelope(
        app.leads(Some(&expired), &[]).await,
        StatusCode::UNAUTHORIZED,
        401,
    )
    .await;
    expect_envelope(
        app.leads(Some(&token(1, &[AUTH, SYNC])), &[]).await,
        StatusCode::FORBIDDEN,
        403,
    )
    .await;
}
