//! What could stop processing for good: a raw order that never processes is set aside with its
//! error while the rows behind it go on, and control characters in an order's texts are cleaned.
//! What operators watch: the backlog of orders waiting for processing.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_order_processed, t_ecom_order_raw};
use leadgen_domain::NeutralStatus;
use order_processor::sweep::{FAILURES_BEFORE_SET_ASIDE, Sweep};

use crate::support::{Run, Spec, fault, order};

/// `(process_status, parse_error)` of raw order `id`.
async fn state_of(run: &Run, id: i64) -> (String, Option<String>) {
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    t_ecom_order_raw::table
        .find(id)
        .select((
            t_ecom_order_raw::process_status,
            t_ecom_order_raw::parse_error,
        ))
        .first(&mut conn)
        .await
        .unwrap()
}

/// A sweep of every row pending, ten at a time.
fn sweep_of(run: &Run) -> Sweep {
    Sweep {
        pool: run.db.pool.clone(),
        processor: std::sync::Arc::clone(&run.processor),
        pending_after: std::time::Duration::ZERO,
        interval: std::time::Duration::from_millis(10),
        batch_size: 10,
        failures: Default::default(),
    }
}

#[tokio::test]
async fn a_row_that_never_processes_is_set_aside_and_holds_back_no_other() {
    let run = Run::new().await;
    let spec = |shop, id, day, buyer: &str| Spec {
        shop,
        order: order(id, day, NeutralStatus::Completed, 5_000, Some(buyer), None),
    };
    // A buyer's order that fails every batch it is in, for a reason that stays.
    fault(&run, "t_ecom_order_processed", Some("NEW.order_id = 'p2'")).await;
    let stuck = run.store(&[spec(0, "p2", 6, "poison")], "PENDING").await[0];
    let other = run.store(&[spec(1, "q1", 7, "other")], "PENDING").await[0];
    let sweep = sweep_of(&run);

    // The batch of both fails; taken apart, the other buyer's order goes through at once.
    assert_eq!(sweep.sweep_once().await.unwrap(), 1);
    assert_eq!(state_of(&run, other).await.0, "PROCESSED");
    assert_eq!(state_of(&run, stuck).await, ("PENDING".to_owned(), None));
    // Failing alone sweep after sweep, it is set aside, with why, and counted.
    for _ in 2..FAILURES_BEFORE_SET_ASIDE {
        assert_eq!(sweep.sweep_once().await.unwrap(), 0);
        assert_eq!(state_of(&run, stuck).await.0, "PENDING");
    }
    assert_eq!(sweep.sweep_once().await.unwrap(), 1);
    let (status, reason) = state_of(&run, stuck).await;
    assert_eq!(status, "MALFORMED");
    let reason = reason.unwrap_or_default();
    assert!(
        reason.starts_with(&format!("处理失败（连续 {FAILURES_BEFORE_SET_ASIDE} 次）")),
        "{reason}"
    );
    assert_eq!(sweep.sweep_once().await.unwrap(), 0, "nothing is left");
}

/// Only failures in a row count: a row that failed alone, then went through with its batch,
/// starts again from none when it fails later (a new version of the order, say).
#[tokio::test]
async fn a_row_that_went_through_with_its_batch_counts_its_failures_anew() {
    let run = Run::new().await;
    let specs = [Spec {
        shop: 0,
        order: order("f1", 5, NeutralStatus::Completed, 5_000, Some("f"), None),
    }];
    let id = run.store(&specs, "PENDING").await[0];
    let sweep = sweep_of(&run);
    let failing = Some("NEW.order_id = 'f1'");
    fault(&run, "t_ecom_order_processed", failing).await;
    for _ in 1..FAILURES_BEFORE_SET_ASIDE {
        assert_eq!(sweep.sweep_once().await.unwrap(), 0);
    }
    fault(&run, "t_ecom_order_processed", None).await;
    assert_eq!(sweep.sweep_once().await.unwrap(), 1);
    assert_eq!(state_of(&run, id).await.0, "PROCESSED");

    run.store(&specs, "PENDING").await;
    fault(&run, "t_ecom_order_processed", failing).await;
    assert_eq!(sweep.sweep_once().await.unwrap(), 0);
    assert_eq!(
        state_of(&run, id).await,
        ("PENDING".to_owned(), None),
        "one failure since it went through, not the last of a row"
    );
}

/// A platform may send any character in a free text: a NUL (which PostgreSQL refuses in text)
/// or a direction override in a product title or nick, stored before they were cleaned on the
/// way in, still becomes a lead, its texts cleaned.
#[tokio::test]
async fn an_order_whose_texts_carry_control_characters_becomes_a_lead() {
    let run = Run::new().await;
    let mut raw = order("n1", 5, NeutralStatus::Completed, 5_000, Some("nul"), None);
    raw.items[0].title = "保温杯\u{0}\u{202e}控制".into();
    raw.buyer.nick = Some("t*\u{0}*1".into());
    let ids = run
        .store(
            &[Spec {
                shop: 0,
                order: raw,
            }],
            "PENDING",
        )
        .await;
    let summary = run.process(&ids).await;
    assert_eq!(summary.new_leads.len(), 1);
    assert_eq!(state_of(&run, ids[0]).await.0, "PROCESSED");
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let product: String = t_ecom_order_processed::table
        .filter(t_ecom_order_processed::order_id.eq("n1"))
        .select(t_ecom_order_processed::product_info)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(product.contains("保温杯控制"), "{product}");
}

#[tokio::test]
async fn the_backlog_counts_the_orders_waiting_and_how_long_the_oldest_has() {
    use order_processor::repo::raw_orders::pending_backlog;
    let run = Run::new().await;
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    assert_eq!(pending_backlog(&mut conn).await.unwrap(), (0, None));
    let spec = |id, buyer: &str| Spec {
        shop: 0,
        order: order(id, 5, NeutralStatus::Completed, 5_000, Some(buyer), None),
    };
    let ids = run
        .store(
            &[spec("w1", "a"), spec("w2", "b"), spec("w3", "c")],
            "PENDING",
        )
        .await;
    // The first was stored an hour ago (its message lost, say).
    let stored_at = chrono::Utc::now() - chrono::Duration::hours(1);
    diesel::update(t_ecom_order_raw::table.find(ids[0]))
        .set(t_ecom_order_raw::sync_time.eq(stored_at))
        .execute(&mut conn)
        .await
        .unwrap();
    let (waiting, oldest) = pending_backlog(&mut conn).await.unwrap();
    assert_eq!(waiting, 3);
    let oldest = oldest.expect("the oldest waiting order's time");
    assert!(
        (oldest - stored_at).num_milliseconds().abs() < 1,
        "{oldest} vs {stored_at}"
    );
    run.process(&ids[1..]).await;
    assert_eq!(pending_backlog(&mut conn).await.unwrap().0, 1);
    run.process(&ids[..1]).await;
    assert_eq!(pending_backlog(&mut conn).await.unwrap(), (0, None));
}

#[tokio::test]
async fn a_raw_order_that_does_not_open_is_kept_malformed_with_its_reason() {
    let run = Run::new().await;
    let spec = |id, buyer: &str| Spec {
        shop: 0,
        order: order(id, 5, NeutralStatus::Completed, 5_000, Some(buyer), None),
    };
    let ids = run
        .store(&[spec("u1", "a"), spec("u2", "b")], "PENDING")
        .await;
    // The first row's neutral form no longer opens (damaged, or sealed under a key gone).
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::update(t_ecom_order_raw::table.find(ids[0]))
        .set(t_ecom_order_raw::normalized.eq(Some("v1:not-a-sealed-value")))
        .execute(&mut conn)
        .await
        .unwrap();
    let summary = run.process(&ids).await;
    assert_eq!((summary.orders, summary.unreadable), (1, 1));
    let (status, reason) = state_of(&run, ids[0]).await;
    assert_eq!(status, "MALFORMED");
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.starts_with("无法处理：")),
        "{reason:?}"
    );
    assert_eq!(state_of(&run, ids[1]).await.0, "PROCESSED");
}
