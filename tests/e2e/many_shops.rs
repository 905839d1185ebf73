//! One app, many shops: which shop is connected is decided by who logs in on the platform's
//! consent page, not by the app key. A tenant connects two shops with the same app, another
//! tenant a third; each is its own authorization with its own orders.

use std::collections::BTreeSet;
use std::time::Duration;

use leadgen_e2e::system::System;

use crate::flow::{self, Api};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_app_connects_the_shop_of_whoever_logs_in() {
    let system = System::start(&[]).await;
    let first = Api::new(&system, 8);
    let second = Api::new(&system, 9);
    let (start, end) = flow::window_days(10);
    let mut stored: Vec<BTreeSet<String>> = Vec::new();
    let mut shops = Vec::new();
    for (api, seller) in [(&first, "shop-a"), (&first, "shop-b"), (&second, "shop-c")] {
        let platform_id = api.authorize_as(&system, "TAOBAO", Some(seller)).await;
        assert!(
            !shops.contains(&platform_id),
            "{seller}: a new authorization"
        );
        shops.push(platform_id);
        let task = api.request_sync(platform_id, &start, &end).await;
        let record = api.wait_for_task(task, Duration::from_secs(120)).await;
        assert_eq!(record["status"], "COMPLETED", "{seller}: {record}");
        flow::wait_until_settled(&system).await;
        let orders = flow::stored_order_ids(&system, platform_id).await;
        assert!(!orders.is_empty(), "{seller}: no orders");
        stored.push(orders);
    }
    // Each shop has its own orders.
    for (i, a) in stored.iter().enumerate() {
        for b in stored.iter().skip(i + 1) {
            assert!(a.is_disjoint(b), "two shops share orders");
        }
    }
    // The first tenant sees its two shops, with their own names; the second only its one.
    let listed = first
        .get("/platforms?platformType=TAOBAO&status=ACTIVE")
        .await;
    let records = listed["data"]["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(records.len(), 2, "{listed}");
    assert_ne!(records[0]["shopName"], records[1]["shopName"], "{listed}");
    let listed = second.get("/platforms?platformType=TAOBAO").await;
    assert_eq!(listed["data"]["total"], 1, "{listed}");
}
