//! One app key, many sellers: the consent page's `seller` field decides which shop a code and
//! its tokens belong to; each shop has its own ids and orders, and a session sees its own only.

use std::collections::BTreeSet;

use serde_json::json;

use super::listing::all_pages;
use super::*;
use crate::shop::Shop;
use crate::taobao::{PLATFORM, orders_for, shop_for};

const SOLD: &str = "taobao.trades.sold.get";
const DECRYPT: &str = "taobao.top.oaid.decrypt";

fn page_query(seller: Option<&str>) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", APP),
        ("redirect_uri", REDIRECT),
        ("state", "st-1"),
    ];
    pairs.extend(seller.map(|s| ("seller", s)));
    format!("/taobao/authorize?{}", form(&pairs))
}

/// Consents as `seller` and exchanges the code: the token answer.
async fn login_as(app: &impl TestApp, seller: &str) -> Value {
    let page = page_query(None);
    let code = approve_as(app, &page, "/taobao/authorize", "st-1", seller).await;
    let reply = exchange(app, APP, SECRET, &code).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()
}

/// Every tid `taobao.trades.sold.get` lists for `session` over the whole history.
async fn listed_tids(app: &impl TestApp, session: &str) -> BTreeSet<String> {
    let start = days_ago(85);
    let now = now_bj();
    let args = [
        ("fields", "tid_str"),
        ("start_created", start.as_str()),
        ("end_created", now.as_str()),
        ("type", ALL_TYPES),
    ];
    let trades = all_pages(app, session, SOLD, &args, false).await;
    trades
        .iter()
        .map(|t| t["tid_str"].as_str().unwrap().to_owned())
        .collect()
}

/// The tids the admin view lists for `seller` (`None`: no `seller` parameter).
async fn admin_tids(app: &impl TestApp, seller: Option<&str>) -> BTreeSet<String> {
    let mut pairs = vec![("app_key", APP)];
    pairs.extend(seller.map(|s| ("seller", s)));
    admin_list(app, "/_sim/taobao/orders", "tids", &pairs)
        .await
        .into_iter()
        .collect()
}

#[actix_web::test]
async fn the_form_has_a_seller_field_defaulting_to_the_default_seller() {
    let state = state();
    let app = sim!(state);
    let page = send(&app, get(&page_query(None))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(seller_input(&page.body), DEFAULT_SELLER);
    assert!(hidden_inputs(&page.body).iter().all(|(k, _)| k != "seller"));
    let default_shop = shop_for(&state, &ShopKey::default_seller(APP));
    assert!(page.body.contains(&default_shop.nick));

    // A page asked for as another seller shows that seller's shop, the name in the text input
    // (not as a hidden input too).
    let page = send(&app, get(&page_query(Some("alice")))).await;
    assert_eq!(seller_input(&page.body), "alice");
    assert!(hidden_inputs(&page.body).iter().all(|(k, _)| k != "seller"));
    let alice = shop_for(&state, &ShopKey::new(APP, "alice"));
    assert!(page.body.contains(&alice.nick), "{}", page.body);

    let too_long = "x".repeat(65);
    let refused = send(&app, get(&page_query(Some(&too_long)))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("登录名不合法"), "{}", refused.body);
    let posted = form(&[
        ("response_type", "code"),
        ("client_id", APP),
        ("redirect_uri", REDIRECT),
        ("seller", &too_long),
    ]);
    let refused = send(&app, post_form("/taobao/authorize", posted)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn two_sellers_of_one_app_get_their_own_shops_and_orders() {
    let state = state();
    let app = sim!(state);
    let alice = login_as(&app, "alice").await;
    let bob = login_as(&app, "bob").await;
    let default = login(&app).await;
    let field = |t: &Value, k: &str| t[k].as_str().unwrap().to_owned();
    let ids: BTreeSet<String> = [&alice, &bob, &default]
        .iter()
        .map(|t| field(t, "taobao_user_id"))
        .collect();
    assert_eq!(ids.len(), 3, "three shops: {ids:?}");
    let open_uids: BTreeSet<String> = [&alice, &bob, &default]
        .iter()
        .map(|t| field(t, "taobao_open_uid"))
        .collect();
    assert_eq!(open_uids.len(), 3);
    let alice_shop = shop_for(&state, &ShopKey::new(APP, "alice"));
    assert_eq!(
        field(&alice, "taobao_user_id"),
        alice_shop.user_id.to_string()
    );
    let nick = field(&alice, "taobao_user_nick");
    assert_eq!(urlencoding::decode(&nick).unwrap(), alice_shop.nick);

    // The default seller's shop is the one the app key always had: derived from the seed and
    // the app key alone, whether the form names no seller or names the default one.
    let legacy = Shop::derive(42, PLATFORM, &ShopKey::default_seller(APP));
    assert_eq!(
        field(&default, "taobao_user_id"),
        legacy.user_id.to_string()
    );
    let named_default = login_as(&app, DEFAULT_SELLER).await;
    assert_eq!(named_default["taobao_user_id"], default["taobao_user_id"]);

    // Each session lists its own shop's orders, all of them and nothing else.
    let alice_tids = listed_tids(&app, &token_of(&alice)).await;
    let bob_tids = listed_tids(&app, &token_of(&bob)).await;
    let default_tids = listed_tids(&app, &token_of(&default)).await;
    assert_eq!(alice_tids.len(), ORDERS);
    assert_eq!(bob_tids.len(), ORDERS);
    assert!(alice_tids.is_disjoint(&bob_tids));
    assert!(alice_tids.is_disjoint(&default_tids));
    assert!(bob_tids.is_disjoint(&default_tids));
    assert_eq!(alice_tids, admin_tids(&app, Some("alice")).await);
    assert_eq!(bob_tids, admin_tids(&app, Some("bob")).await);
    assert_eq!(default_tids, admin_tids(&app, None).await);
    assert_eq!(default_tids, admin_tids(&app, Some(DEFAULT_SELLER)).await);
    let generated = orders_for(&state, &ShopKey::default_seller(APP));
    let expected: BTreeSet<String> = generated.trades.iter().map(|t| t.tid.to_string()).collect();
    assert_eq!(default_tids, expected);

    // A refresh keeps the seller's shop.
    let refreshed = send(
        &app,
        post_form(
            "/taobao/token",
            form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &field(&bob, "refresh_token")),
                ("client_id", APP),
                ("client_secret", SECRET),
            ]),
        ),
    )
    .await
    .json();
    assert_eq!(refreshed["taobao_user_id"], bob["taobao_user_id"]);
    assert_eq!(listed_tids(&app, &token_of(&refreshed)).await, bob_tids);

    let shop_view =
        |seller: &str| get_with("/_sim/taobao/shop", &[("app_key", APP), ("seller", seller)]);
    let v = send(&app, shop_view("alice")).await.json();
    assert_eq!(v["taobao_user_id"], alice["taobao_user_id"]);
    assert_eq!(
        (v["seller"].as_str(), v["orders"].as_u64()),
        (Some("alice"), Some(300))
    );
    let v = send(&app, get_with("/_sim/taobao/shop", &[("app_key", APP)]))
        .await
        .json();
    assert_eq!(v["taobao_user_id"], default["taobao_user_id"]);
    assert_eq!(v["seller"], DEFAULT_SELLER);
    let bad = send(&app, shop_view(&"x".repeat(65))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn decrypt_contact_and_changes_address_one_sellers_shop() {
    let state = state();
    let app = sim!(state);
    let alice = token_of(&login_as(&app, "alice").await);
    let bob = token_of(&login_as(&app, "bob").await);
    let alice_orders = orders_for(&state, &ShopKey::new(APP, "alice"));
    let trade = alice_orders.trades.first().unwrap();
    let list = json!([{"oaid": trade.oaid, "tid": trade.tid.to_string(), "scene": "1006"}]);
    let decrypt = |session: &str| signed(DECRYPT, session, &[("query_list", &list.to_string())]);
    let v = api(&app, &decrypt(&alice)).await.json();
    let receivers = &v["top_oaid_decrypt_response"]["receiver_list"]["receiver"];
    assert_eq!(receivers[0]["tid"], trade.tid.to_string(), "{v}");
    // Bob's session does not see Alice's trade.
    let v = api(&app, &decrypt(&bob)).await.json();
    assert!(
        v["top_oaid_decrypt_response"]
            .get("receiver_list")
            .is_none(),
        "{v}"
    );

    let tid = trade.tid.to_string();
    let contact = |seller: Option<&str>| {
        let mut pairs = vec![("app_key", APP), ("order_id", tid.as_str())];
        pairs.extend(seller.map(|s| ("seller", s)));
        get_with("/_sim/taobao/contact", &pairs)
    };
    let seen = send(&app, contact(Some("alice"))).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(seen.json()["order_id"], tid);
    assert_eq!(
        send(&app, contact(Some("bob"))).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, contact(None)).await.status,
        StatusCode::NOT_FOUND
    );

    // A change names its shop by `seller`; another seller's shop has no such order.
    let paid = alice_orders
        .trades
        .iter()
        .find(|t| t.status == "WAIT_SELLER_SEND_GOODS")
        .unwrap();
    let body = |seller: &str| json!({"app_key": APP, "seller": seller, "order_id": paid.tid.to_string(), "change": "SHIP"});
    let refused = change_order(&app, "taobao", body("bob")).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    let shipped = change_order(&app, "taobao", body("alice")).await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    assert_eq!(shipped.json()["status"], "WAIT_BUYER_CONFIRM_GOODS");
    let now_alice = orders_for(&state, &ShopKey::new(APP, "alice"));
    let changed = now_alice.trades.iter().find(|t| t.tid == paid.tid).unwrap();
    assert_eq!(changed.status, "WAIT_BUYER_CONFIRM_GOODS");
}
