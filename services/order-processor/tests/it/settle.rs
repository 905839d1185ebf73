//! Announcements and processing out of step: a changed shop counts as settled for its rescore
//! only when none of its raw orders still waits to be processed (a backlog whose batches are
//! slower than the settle time is not rescored midway, nor at its start; the longest wait,
//! counted from the first change not yet rescored, still bounds it), and
//! a `RawOrdersFetched` that comes after its orders were processed (by the pending sweep)
//! is not processed again (its shop would be marked changed and rescored for nothing).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_lead_shop_stats, t_order_lead};
use leadgen_domain::NeutralStatus::Completed;
use leadgen_messaging::{Handler as _, Incoming, Outcome};
use order_processor::handler::RawOrdersHandler;

use crate::support::{Run, Spec, order};

fn spec(shop: usize, id: &str, buyer: &str) -> Spec {
    Spec {
        shop,
        order: order(id, 10, Completed, 3_000, Some(buyer), None),
    }
}

#[tokio::test]
async fn a_shop_with_raw_orders_waiting_is_not_settled_until_they_are_processed() {
    let run = Run::new().await;
    // A wait of an hour at the longest: only settling claims the shop here.
    let mut rescore = run.rescore(3);
    rescore.max_wait = Duration::from_secs(3_600);
    // A new shop's first batch, with more of its orders still to come, is not rescored at once
    // (a shop never rescored used to count as waiting since for ever: rescored alongside its
    // backfill, then again at its end).
    let first = run.store(&[spec(0, "s1", "A")], "PENDING").await;
    run.process(&first).await;
    let second = run.store(&[spec(0, "s1b", "A2")], "PENDING").await;
    assert_eq!(
        rescore.rescore_once().await.unwrap(),
        None,
        "a new shop whose orders still come"
    );
    run.process(&second).await;
    let done = rescore.rescore_once().await.unwrap();
    assert_eq!(done.map(|d| d.leads), Some(2), "settled");
    // Rescored two hours ago: the first change since does not make it due at once either (the
    // longest wait counts from that change, not from the last rescore).
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::sql_query("UPDATE t_lead_shop_stats SET rescored_at = now() - interval '2 hours'")
        .execute(&mut conn)
        .await
        .unwrap();

    let processed = run.store(&[spec(0, "s2", "B")], "PENDING").await;
    run.process(&processed).await;
    let waiting = run.store(&[spec(0, "s3", "C")], "PENDING").await;
    assert_eq!(
        rescore.rescore_once().await.unwrap(),
        None,
        "changed, but an order of the shop still waits"
    );
    // Another shop's waiting order holds back only its own shop.
    run.store(&[spec(1, "t1", "D")], "PENDING").await;

    run.process(&waiting).await;
    let done = rescore.rescore_once().await.unwrap();
    assert_eq!(
        done.map(|d| (d.platform_id, d.leads)),
        Some((run.shops[0], 4))
    );
    assert_eq!(rescore.rescore_once().await.unwrap(), None);

    // The longest wait bounds it: a shop whose orders keep waiting is rescored all the same,
    // once its first change not yet rescored is that old.
    run.process(&run.store(&[spec(0, "s4", "E")], "PENDING").await)
        .await;
    run.store(&[spec(0, "s5", "F")], "PENDING").await;
    assert_eq!(rescore.rescore_once().await.unwrap(), None);
    diesel::sql_query("UPDATE t_lead_shop_stats SET dirty_since = now() - interval '2 hours'")
        .execute(&mut conn)
        .await
        .unwrap();
    let done = rescore.rescore_once().await.unwrap();
    assert_eq!(done.map(|d| d.platform_id), Some(run.shops[0]));
}

#[tokio::test]
async fn an_announcement_that_comes_after_its_orders_were_processed_is_not_processed_again() {
    let run = Run::new().await;
    let ids = run
        .store(&[spec(0, "l1", "A"), spec(0, "l2", "A")], "PENDING")
        .await;
    run.process(&ids).await;
    // The leads' versions, and how often their shop was marked changed (for a rescore).
    let versions = || async {
        let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
        let leads = t_order_lead::table
            .order(t_order_lead::id)
            .select((t_order_lead::id, t_order_lead::version))
            .load::<(i64, i32)>(&mut conn)
            .await
            .unwrap();
        let marked: i64 = t_lead_shop_stats::table
            .find(run.shops[0])
            .select(t_lead_shop_stats::dirty_seq)
            .first(&mut conn)
            .await
            .unwrap();
        (leads, marked)
    };
    let before = versions().await;

    let event = run.fetched(ids);
    let handler = RawOrdersHandler {
        pool: run.db.pool.clone(),
        processor: Arc::clone(&run.processor),
    };
    let outcome = handler
        .handle(Incoming {
            body: serde_json::to_vec(&event).unwrap(),
            message_id: Some(event.id.to_string()),
            exchange: "leadgen.events".into(),
            routing_key: "orders.fetched.v1".into(),
            headers: HashMap::new(),
            delivery_count: 0,
            redelivered: false,
            early_ack: Default::default(),
        })
        .await;
    assert!(matches!(outcome, Outcome::Ack), "{outcome:?}");
    assert_eq!(versions().await, before);
}

/// A shop whose orders keep coming (a long backfill) was rescored at every longest wait, a
/// minute, however long its rescore took: a shop of a million leads whose rescore takes minutes
/// was rescored one time after another for the whole backfill, each rewriting leads the next
/// batches change again. The wait is now at least ten times its last rescore's duration.
#[tokio::test]
async fn a_shop_whose_rescore_is_long_waits_longer_between_rescores_while_it_changes() {
    let run = Run::new().await;
    let mut rescore = run.rescore(3);
    rescore.max_wait = Duration::from_secs(60);
    let first = run.store(&[spec(0, "b1", "A")], "PENDING").await;
    run.process(&first).await;
    assert!(rescore.rescore_once().await.unwrap().is_some(), "settled");
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let took: Option<i64> = t_lead_shop_stats::table
        .find(run.shops[0])
        .select(t_lead_shop_stats::rescore_took_ms)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(took.is_some(), "how long the rescore took is kept");

    // Its backfill goes on: one order processed, another still waiting. Its last rescore took
    // half an hour: two hours after the first change, the next is not due yet.
    run.process(&run.store(&[spec(0, "b2", "B")], "PENDING").await)
        .await;
    run.store(&[spec(0, "b3", "C")], "PENDING").await;
    let changing_since = |hours: i32| {
        diesel::sql_query(format!(
            "UPDATE t_lead_shop_stats SET rescore_took_ms = 1800000, \
             dirty_since = now() - interval '{hours} hours'"
        ))
    };
    changing_since(2).execute(&mut conn).await.unwrap();
    assert_eq!(rescore.rescore_once().await.unwrap(), None);
    // Five and a half hours (ten times half an hour, and more): due.
    changing_since(6).execute(&mut conn).await.unwrap();
    let done = rescore.rescore_once().await.unwrap();
    assert_eq!(done.map(|d| d.platform_id), Some(run.shops[0]));
}

/// A rescore under way when its process stops ends after the chunk it is on (a large shop's
/// took minutes, past the pod's grace, and its lease held the shop from other replicas after
/// the kill); the shop is left at once, still due, and another rescore takes it from the start.
#[tokio::test]
async fn a_rescore_stopped_with_its_process_leaves_the_shop_to_the_next_at_once() {
    let run = Run::new().await;
    let orders = run
        .store(
            &[spec(0, "r1", "A"), spec(0, "r2", "B"), spec(0, "r3", "C")],
            "PENDING",
        )
        .await;
    run.process(&orders).await;
    let stopping = run.rescore(1);
    stopping.stop.cancel();
    let done = stopping.rescore_once().await.unwrap().expect("claimed");
    assert!(done.stopped && done.leads == 0, "{done:?}");
    let next = run.rescore(1).rescore_once().await.unwrap();
    assert_eq!(next.map(|d| (d.leads, d.stopped)), Some((3, false)));
}
