//! `GET /leads?contactInfo=` with a full mobile number: found through the keyed blind index
//! only, never by scanning or decrypting, and counted against the reveal limits (issue 11,
//! point 4). The list's data is the one `leads` seeds.

use reqwest::StatusCode;

use crate::helpers::{VIEW, expect_envelope, lead_ids, spawn_app, spawn_app_with, token};
use crate::leads::{found, seed};

#[tokio::test]
async fn a_full_mobile_finds_the_buyer_by_its_blind_index_only() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use leadgen_db::schema::t_lead_identity;
    let app = spawn_app().await;
    let s = seed(&app).await;
    let indexer =
        leadgen_runtime::blind_indexer(&leadgen_test_support::crypto_settings()).expect("key");
    let key = leadgen_domain::buyer::IdentityKey::phone("13912345678").expect("a mobile");
    let mut conn = app.conn().await;
    for (tenant, lead) in [(1, s.l3), (2, s.l5)] {
        diesel::insert_into(t_lead_identity::table)
            .values((
                t_lead_identity::tenant_id.eq(tenant),
                t_lead_identity::key_hash.eq(indexer.current(tenant, &key.material)),
                t_lead_identity::kind.eq("PHONE"),
                t_lead_identity::lead_id.eq(lead),
            ))
            .execute(&mut conn)
            .await
            .expect("identity");
    }
    // The design's contactInfo filter needs lead:order:view alone, a full number included.
    let by_phone = |query: &'static str| {
        let app = &app;
        async move {
            let response = app
                .leads(Some(&token(1, &[VIEW])), &[("contactInfo", query)])
                .await;
            let body = expect_envelope(response, StatusCode::OK, 200).await;
            lead_ids(body["data"]["records"].as_array().expect("records"))
        }
    };
    // Typed as digits, with the country code and separators, or in full-width digits.
    for query in [
        "13912345678",
        "+86 139 1234 5678",
        "139-1234-5678",
        "１３９１２３４５６７８",
    ] {
        assert_eq!(by_phone(query).await, vec![s.l3], "{query}");
    }
    // Another number whose last digits the masked contacts show: no buyer has it.
    assert_eq!(by_phone("13900005678").await, Vec::<i64>::new());
    // A page past the end answers no records but the total: audited with what it matched.
    let deep = app
        .leads(
            Some(&token(1, &[VIEW])),
            &[("contactInfo", "13912345678"), ("page", "300")],
        )
        .await;
    let deep = expect_envelope(deep, StatusCode::OK, 200).await;
    assert_eq!(deep["data"]["total"], 1, "{deep}");
    // So does a page past the matches within the browsing window.
    let second = app
        .leads(
            Some(&token(1, &[VIEW])),
            &[("contactInfo", "13912345678"), ("page", "2")],
        )
        .await;
    let second = expect_envelope(second, StatusCode::OK, 200).await;
    assert_eq!(second["data"]["total"], 1, "{second}");
    assert_eq!(second["data"]["records"], serde_json::json!([]));
    // Each search is audited with what it found, never the number.
    let log = app.operation_log().await;
    let searches: Vec<_> = log.iter().filter(|e| e.0 == "CONTACT_SEARCH").collect();
    assert_eq!(searches.len(), 7, "{log:?}");
    assert_eq!(searches[5].1, vec![s.l3.to_string()], "{log:?}");
    assert_eq!(searches[6].1, vec![s.l3.to_string()], "{log:?}");
    assert_eq!(searches[0].2, "SUCCESS", "{log:?}");
    assert_eq!(searches[0].1, vec![s.l3.to_string()]);
    assert!(searches[4].1.is_empty());
    for digits in ["13912345678", "12345678", "1391234"] {
        assert_eq!(app.operation_log_rows_holding(digits).await, 0, "{digits}");
    }
    // Visible digits still match masked contacts.
    assert!(
        found(&app, 1, &[("contactInfo", "5678")])
            .await
            .contains(&s.l3)
    );
}

#[tokio::test]
async fn full_mobile_searches_count_against_the_reveal_limits() {
    // Ten thousand searches over a mask's four hidden digits would otherwise recover a number.
    let app = spawn_app_with(|s| s.reveal.per_user_daily = 3).await;
    let _ = seed(&app).await;
    let search = |number: &'static str| {
        let app = &app;
        async move {
            app.leads(Some(&token(1, &[VIEW])), &[("contactInfo", number)])
                .await
        }
    };
    // A number searched again (the next page, another sort, a refetch) counts once.
    for number in [
        "13900000001",
        "13900000001",
        "+86 139 0000 0001",
        "13900000002",
        "13900000003",
    ] {
        expect_envelope(search(number).await, StatusCode::OK, 200).await;
    }
    let refused = search("13900000004").await;
    assert!(refused.headers().get("retry-after").is_some());
    expect_envelope(refused, StatusCode::TOO_MANY_REQUESTS, 42901).await;
    let log = app.operation_log().await;
    let last = log.last().expect("audited");
    assert_eq!(
        (last.0.as_str(), last.2.as_str()),
        ("CONTACT_SEARCH", "FAILURE")
    );
    // Partial digits are no number: not counted.
    let response = app
        .leads(Some(&token(1, &[VIEW])), &[("contactInfo", "5678")])
        .await;
    expect_envelope(response, StatusCode::OK, 200).await;
}

#[tokio::test]
async fn a_tenant_searches_only_a_few_different_numbers_behind_one_mask_a_day() {
    // A lead shows 139****1111: its ten thousand possible numbers, searched one by one within
    // the daily limits, would tell in days which one is the buyer's.
    let app = spawn_app_with(|s| s.reveal.per_mask_daily = 2).await;
    let _ = seed(&app).await;
    let search = |tenant: i64, user: i64, number: &'static str| {
        let app = &app;
        async move {
            let token = leadgen_test_support::token(tenant, user, &[VIEW]);
            app.leads(Some(&token), &[("contactInfo", number)]).await
        }
    };
    for number in ["13900001111", "13900011111"] {
        expect_envelope(search(1, 7, number).await, StatusCode::OK, 200).await;
    }
    let refused = search(1, 7, "13900021111").await;
    assert!(refused.headers().get("retry-after").is_some());
    expect_envelope(refused, StatusCode::TOO_MANY_REQUESTS, 42905).await;
    let log = app.operation_log().await;
    let last = log.last().expect("audited");
    assert_eq!(
        (last.0.as_str(), last.2.as_str()),
        ("CONTACT_SEARCH", "FAILURE")
    );
    assert!(
        last.3.as_deref().is_some_and(|m| m.starts_with("42905")),
        "{last:?}"
    );
    // A number already searched counts once, in any of its spellings; another mask has its own
    // count.
    for number in ["13900001111", "+86 139 0001 1111", "13900001112"] {
        expect_envelope(search(1, 7, number).await, StatusCode::OK, 200).await;
    }
    // The count is the tenant's: a colleague cannot take the search further; another tenant
    // counts its own.
    expect_envelope(
        search(1, 8, "13900031111").await,
        StatusCode::TOO_MANY_REQUESTS,
        42905,
    )
    .await;
    expect_envelope(search(2, 9, "13900021111").await, StatusCode::OK, 200).await;
    // What is kept is the mask and the number's keyed index, never the number.
    let mut conn = app.conn().await;
    let kept: Vec<(String, String)> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use leadgen_db::schema::t_contact_search_mask as mask;
        mask::table
            .filter(mask::tenant_id.eq(1))
            .select((mask::mask, mask::number_index))
            .load(&mut conn)
            .await
            .expect("masks")
    };
    let indexer =
        leadgen_runtime::blind_indexer(&leadgen_test_support::crypto_settings()).expect("key");
    let index = |number: &str| {
        let key = leadgen_domain::buyer::IdentityKey::phone(number).expect("a mobile");
        indexer.current(1, &key.material)
    };
    let mut expected = vec![
        ("139****1111".to_owned(), index("13900001111")),
        ("139****1111".to_owned(), index("13900011111")),
        ("139****1112".to_owned(), index("13900001112")),
    ];
    let mut kept = kept;
    expected.sort();
    kept.sort();
    assert_eq!(kept, expected);
}
