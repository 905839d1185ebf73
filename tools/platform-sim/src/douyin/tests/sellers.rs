//! One app key, many sellers: the consent page's `seller` field decides which shop a code and
//! its tokens belong to; each shop has its own `shop_id` and orders, and a token sees its own
//! only.

use std::collections::BTreeSet;

use super::listing::all_pages;
use super::*;
use crate::douyin::{orders_for, shop_for};

/// Consents as `seller` (`None`: the form as it comes) and creates a token: its data.
async fn login_as(app: &impl TestApp, seller: Option<&str>) -> Value {
    let q = form(&[
        ("service_id", APP),
        ("state", "st-1"),
        ("redirect_uri", REDIRECT),
    ]);
    let page = format!("/douyin/authorize?{q}");
    let code = match seller {
        Some(s) => approve_as(app, &page, "/douyin/authorize", "st-1", s).await,
        None => approve(app, &page, "/douyin/authorize", "st-1").await,
    };
    let c = call(
        "token.create",
        None,
        json!({"code": code, "grant_type": "authorization_code"}),
    );
    let reply = api(app, &c).await;
    assert_eq!(code_of(&reply).0, 10000, "{}", reply.body);
    reply.json()["data"].clone()
}

/// Every order id `order.searchList` lists for `token` over the whole history.
async fn listed_ids(app: &impl TestApp, token: &str) -> BTreeSet<String> {
    let (start, end) = (
        (anchor() - TimeDelta::days(81)).timestamp(),
        anchor().timestamp(),
    );
    let params = json!({"create_time_start": start, "create_time_end": end});
    all_pages(app, token, params, 100)
        .await
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn two_sellers_of_one_app_get_their_own_shops_and_orders() {
    let state = state();
    let app = sim!(state);
    let alice = login_as(&app, Some("alice")).await;
    let bob = login_as(&app, Some("bob")).await;
    let default = login_as(&app, None).await;
    let shop_ids: BTreeSet<String> = [&alice, &bob, &default]
        .iter()
        .map(|t| t["shop_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shop_ids.len(), 3, "three shops: {shop_ids:?}");
    let alice_shop = shop_for(&state, &ShopKey::new(APP, "alice"));
    assert_eq!(alice["shop_id"], alice_shop.shop_id.to_string());
    assert_eq!(alice["shop_name"], alice_shop.shop_name.as_str());
    let default_shop = shop_for(&state, &ShopKey::default_seller(APP));
    assert_eq!(default["shop_id"], default_shop.shop_id.to_string());

    let alice_ids = listed_ids(&app, &token_of(&alice)).await;
    let bob_ids = listed_ids(&app, &token_of(&bob)).await;
    let default_ids = listed_ids(&app, &token_of(&default)).await;
    assert_eq!((alice_ids.len(), bob_ids.len()), (ORDERS, ORDERS));
    assert!(alice_ids.is_disjoint(&bob_ids));
    assert!(alice_ids.is_disjoint(&default_ids));
    assert!(bob_ids.is_disjoint(&default_ids));
    let generated = |key: &ShopKey| -> BTreeSet<String> {
        orders_for(&state, key)
            .orders
            .iter()
            .map(|o| o.order_id.to_string())
            .collect()
    };
    assert_eq!(alice_ids, generated(&ShopKey::new(APP, "alice")));
    assert_eq!(default_ids, generated(&ShopKey::default_seller(APP)));
    let q = [("app_key", APP), ("seller", "bob")];
    let admin = admin_list(&app, "/_sim/douyin/orders", "order_ids", &q).await;
    assert_eq!(bob_ids, admin.into_iter().collect());

    // A refresh keeps the seller's shop.
    let refresh = call(
        "token.refresh",
        None,
        json!({"grant_type": "refresh_token", "refresh_token": bob["refresh_token"]}),
    );
    let refreshed = api(&app, &refresh).await.json()["data"].clone();
    assert_eq!(refreshed["shop_id"], bob["shop_id"]);

    // A self-built app's own shop is the default seller's.
    let own = call(
        "token.create",
        None,
        json!({"code": "", "grant_type": "authorization_self",
            "shop_id": default_shop.shop_id}),
    );
    let own = api(&app, &own).await.json()["data"].clone();
    assert_eq!(listed_ids(&app, &token_of(&own)).await, default_ids);

    let v = send(
        &app,
        get_with(
            "/_sim/douyin/shop",
            &[("app_key", APP), ("seller", "alice")],
        ),
    )
    .await
    .json();
    assert_eq!(
        (v["shop_id"].clone(), v["seller"].clone()),
        (alice["shop_id"].clone(), "alice".into())
    );
}
