//! One app key, many sellers (the shared pair store JD, PDD and Kuaishou use): the consent
//! page's `seller` field decides which shop a code and its tokens belong to; each shop has its
//! own `uid` and orders, and a token sees its own only.

use std::collections::BTreeSet;

use super::listing::all_pages;
use super::*;
use crate::jd::shop_for;

/// Consents to `APP` as `seller` and exchanges the code: the token answer.
async fn login_as(app: &impl TestApp, seller: &str) -> Value {
    let page = format!("/jd/oauth2/to_login?{}", form(&consent_query(APP, "st-1")));
    let code = approve_as(app, &page, "/jd/oauth2/to_login", "st-1", seller).await;
    let reply = exchange(app, APP, SECRET, &code).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()
}

/// The order ids created in the last four weeks, as `token` lists them and as the admin view
/// lists them for `seller`.
async fn both_ids(app: &impl TestApp, token: &str, seller: &str) -> [BTreeSet<String>; 2] {
    let (start, end) = (days_ago(27), now_bj());
    let b = [
        ("start_date", start.as_str()),
        ("end_date", end.as_str()),
        ("order_state", ALL_STATES),
        ("optional_fields", "orderId"),
        ("dateType", "1"),
    ];
    let listed = all_pages(app, token, &b)
        .await
        .iter()
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect();
    let q = [
        ("app_key", APP),
        ("seller", seller),
        ("start", start.as_str()),
        ("end", end.as_str()),
    ];
    let admin = admin_list(app, "/_sim/jd/orders", "order_ids", &q).await;
    [listed, admin.into_iter().collect()]
}

#[actix_web::test]
async fn two_sellers_of_one_app_get_their_own_shops_and_orders() {
    let state = state();
    let app = sim!(state);
    let alice = login_as(&app, "alice").await;
    let bob = login_as(&app, "bob").await;
    let default = login(&app).await;
    let uids: BTreeSet<String> = [&alice, &bob, &default]
        .iter()
        .map(|t| t["uid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(uids.len(), 3, "three shops: {uids:?}");
    assert_ne!(alice["open_id"], bob["open_id"]);
    let default_shop = shop_for(&state, &ShopKey::default_seller(APP));
    assert_eq!(default["uid"], default_shop.user_id.to_string());

    let [alice_ids, alice_admin] = both_ids(&app, &token_of(&alice), "alice").await;
    let [bob_ids, bob_admin] = both_ids(&app, &token_of(&bob), "bob").await;
    let [default_ids, default_admin] = both_ids(&app, &token_of(&default), DEFAULT_SELLER).await;
    assert!(!alice_ids.is_empty() && !bob_ids.is_empty());
    assert_eq!(alice_ids, alice_admin);
    assert_eq!(bob_ids, bob_admin);
    assert_eq!(default_ids, default_admin);
    assert!(alice_ids.is_disjoint(&bob_ids));
    assert!(alice_ids.is_disjoint(&default_ids));
    assert!(bob_ids.is_disjoint(&default_ids));

    // A refresh keeps the seller's shop.
    let q = [
        ("app_key", APP),
        ("app_secret", SECRET),
        ("grant_type", "refresh_token"),
        ("refresh_token", alice["refresh_token"].as_str().unwrap()),
    ];
    let refreshed = send(&app, get("/jd/oauth2/refresh_token", &q)).await.json();
    assert_eq!(refreshed["uid"], alice["uid"]);
    let [again, _] = both_ids(&app, &token_of(&refreshed), "alice").await;
    assert_eq!(again, alice_ids);
}
