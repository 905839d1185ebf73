//! What could stop processing for good: a raw order that fails holds back no row behind it, and
//! stays `PENDING` while the failure is not its own (the database, a data key this process
//! lacks) rather than be set aside; one that does not open is set aside with its reason; control
//! characters in an order's texts are cleaned.
//! What operators watch: the backlog of orders waiting for processing.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_order_processed, t_ecom_order_raw, t_order_lead};
use leadgen_domain::{NeutralStatus, PlatformId};
use leadgen_settings::{CryptoSettings, SecretString};
use leadgen_test_support::crypto_settings;
use order_processor::processor::Processor;
use order_processor::sweep::{FAILURES_BEFORE_SET_ASIDE, FIRST_RETRY, FailedRows, Sweep};

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

/// A sweep of every row pending, ten at a time, that tries a row that failed alone again at
/// once.
fn sweep_of(run: &Run) -> Sweep {
    sweep_with(run, Arc::clone(&run.processor), 10, Duration::ZERO)
}

/// A sweep of every row pending, `batch` at a time, with `processor`; a row that failed alone
/// waits `first_retry` before this sweep claims it again.
fn sweep_with(run: &Run, processor: Arc<Processor>, batch: i64, first_retry: Duration) -> Sweep {
    Sweep {
        pool: run.db.pool.clone(),
        processor,
        pending_after: Duration::ZERO,
        interval: Duration::from_millis(10),
        batch_size: batch,
        failures: FailedRows::with_first_retry(first_retry),
        last_tenant: Default::default(),
    }
}

/// A row that fails for a reason that is not its own (the database refuses its write here, as a
/// statement timeout, a lock wait or a lost connection would) is never set aside: it stays
/// `PENDING`, without a reason, sweep after sweep, and holds back no other row; once the fault
/// is gone it is processed.
#[tokio::test]
async fn a_row_that_fails_for_the_database_stays_pending_and_holds_back_no_other() {
    let run = Run::new().await;
    let spec = |shop, id, day, buyer: &str| Spec {
        shop,
        order: order(id, day, NeutralStatus::Completed, 5_000, Some(buyer), None),
    };
    fault(&run, "t_ecom_order_processed", Some("NEW.order_id = 'p2'")).await;
    let stuck = run.store(&[spec(0, "p2", 6, "poison")], "PENDING").await[0];
    let other = run.store(&[spec(1, "q1", 7, "other")], "PENDING").await[0];
    let sweep = sweep_of(&run);

    // The batch of both fails; taken apart, the other buyer's order goes through at once.
    assert_eq!(sweep.sweep_once().await.unwrap(), 1);
    assert_eq!(state_of(&run, other).await.0, "PROCESSED");
    assert_eq!(state_of(&run, stuck).await, ("PENDING".to_owned(), None));
    // Failing alone sweep after sweep, longer than a row of its own would be set aside, it
    // waits for the database.
    for _ in 0..=FAILURES_BEFORE_SET_ASIDE {
        assert_eq!(sweep.sweep_once().await.unwrap(), 0);
        assert_eq!(state_of(&run, stuck).await, ("PENDING".to_owned(), None));
    }
    fault(&run, "t_ecom_order_processed", None).await;
    assert_eq!(sweep.sweep_once().await.unwrap(), 1);
    assert_eq!(state_of(&run, stuck).await.0, "PROCESSED");
    assert_eq!(sweep.sweep_once().await.unwrap(), 0, "nothing is left");
}

/// A row that failed alone waits before this process claims it again, so rows that keep failing
/// never fill its batches: the rows behind it are swept meanwhile (one row per batch here).
/// Another replica (or this one after a restart) tries it again at once.
#[tokio::test]
async fn a_row_that_keeps_failing_waits_while_the_rows_behind_it_are_swept() {
    let run = Run::new().await;
    let spec = |id, day, buyer: &str| Spec {
        shop: 0,
        order: order(id, day, NeutralStatus::Completed, 5_000, Some(buyer), None),
    };
    fault(&run, "t_ecom_order_processed", Some("NEW.order_id = 'w1'")).await;
    let ids = run
        .store(
            &[spec("w1", 5, "w"), spec("w2", 6, "x"), spec("w3", 7, "y")],
            "PENDING",
        )
        .await;
    let sweep = sweep_with(&run, Arc::clone(&run.processor), 1, FIRST_RETRY);
    assert_eq!(sweep.sweep_once().await.unwrap(), 0, "the first row fails");
    assert_eq!(sweep.sweep_once().await.unwrap(), 1);
    assert_eq!(sweep.sweep_once().await.unwrap(), 1);
    assert_eq!(state_of(&run, ids[1]).await.0, "PROCESSED");
    assert_eq!(state_of(&run, ids[2]).await.0, "PROCESSED");
    assert_eq!(sweep.sweep_once().await.unwrap(), 0, "it waits");
    assert_eq!(state_of(&run, ids[0]).await, ("PENDING".to_owned(), None));

    fault(&run, "t_ecom_order_processed", None).await;
    let replica = sweep_with(&run, Arc::clone(&run.processor), 1, FIRST_RETRY);
    assert_eq!(replica.sweep_once().await.unwrap(), 1);
    assert_eq!(state_of(&run, ids[0]).await.0, "PROCESSED");
}

/// A buyer's stored contact sealed under a data key this process does not hold is its
/// configuration (a replica started without a key still in use), not the order's: the order
/// stays `PENDING` however often it fails, and a replica that holds the key processes it, with
/// the buyer's contact.
#[tokio::test]
async fn a_row_whose_buyer_has_a_contact_under_a_key_this_process_lacks_stays_pending() {
    let run = Run::new().await;
    let spec = |id, day, buyer: &str, phone| Spec {
        shop: 0,
        order: order(id, day, NeutralStatus::Completed, 5_000, Some(buyer), phone),
    };
    let first = run
        .store(&[spec("k1", 5, "K", Some("13800004444"))], "PENDING")
        .await;
    run.process(&first).await;
    // Another replica, whose current data key (9) this one does not hold yet, wrote k1's
    // contact.
    let (key_9, with_key_9) = key_9();
    let context = leadgen_db::sealed::contact(
        "t_ecom_order_processed",
        PlatformId::new(run.shops[0]),
        "k1",
    );
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let contact: Option<String> = t_ecom_order_processed::table
        .filter(t_ecom_order_processed::order_id.eq("k1"))
        .select(t_ecom_order_processed::contact_info)
        .first(&mut conn)
        .await
        .unwrap();
    let contact = run
        .processor
        .sealer
        .open(&context, &contact.unwrap())
        .unwrap();
    diesel::update(t_ecom_order_processed::table.filter(t_ecom_order_processed::order_id.eq("k1")))
        .set(t_ecom_order_processed::contact_info.eq(with_key_9.seal(&context, &contact).unwrap()))
        .execute(&mut conn)
        .await
        .unwrap();

    let stuck = run.store(&[spec("k2", 9, "K", None)], "PENDING").await[0];
    let other = run.store(&[spec("o1", 9, "O", None)], "PENDING").await[0];
    let sweep = sweep_of(&run);
    assert_eq!(sweep.sweep_once().await.unwrap(), 1);
    assert_eq!(state_of(&run, other).await.0, "PROCESSED");
    for _ in 0..=FAILURES_BEFORE_SET_ASIDE {
        assert_eq!(sweep.sweep_once().await.unwrap(), 0);
        assert_eq!(state_of(&run, stuck).await, ("PENDING".to_owned(), None));
    }

    // A replica that holds key 9 (the configuration mended).
    let crypto = CryptoSettings {
        previous_keys: vec![SecretString::from(format!("9:{key_9}"))],
        ..crypto_settings()
    };
    let mended = Arc::new(Processor {
        sealer: leadgen_runtime::sealer(&crypto).unwrap(),
        ..(*run.processor).clone()
    });
    assert_eq!(
        sweep_with(&run, mended, 10, Duration::ZERO)
            .sweep_once()
            .await
            .unwrap(),
        1
    );
    assert_eq!(state_of(&run, stuck).await, ("PROCESSED".to_owned(), None));
    let masked: String = t_order_lead::table
        .find(run.lead_of("k2").await)
        .select(t_order_lead::contact_masked)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(masked.ends_with("4444"), "{masked}");
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
        .set((
            t_ecom_order_raw::sync_time.eq(stored_at),
            t_ecom_order_raw::pending_since.eq(stored_at),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    // Stored again while it waits: it keeps waiting since then.
    hand_back(&mut conn, ids[0]).await;
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

    // Handed back an hour after it was stored (`leadctl leads rebuild`, a rotation): it waits
    // since now, not since it was stored, so a planned rebuild does not read as stuck.
    let handed_back = chrono::Utc::now();
    hand_back(&mut conn, ids[0]).await;
    let (waiting, oldest) = pending_backlog(&mut conn).await.unwrap();
    assert_eq!(waiting, 1);
    let oldest = oldest.expect("the handed-back order's time");
    assert!(
        (oldest - handed_back).num_seconds().abs() < 60,
        "{oldest} vs {handed_back}"
    );
}

/// Sets a raw order `PENDING` again, as a new version or `leadctl leads rebuild` does.
async fn hand_back(conn: &mut diesel_async::AsyncPgConnection, id: i64) {
    diesel::update(t_ecom_order_raw::table.find(id))
        .set(t_ecom_order_raw::process_status.eq("PENDING"))
        .execute(conn)
        .await
        .unwrap();
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
    // Its sync's record counts it set aside (`setAsideCount`), as every reader finds such rows.
    let (tenant, task): (i64, i64) = t_ecom_order_raw::table
        .find(ids[0])
        .select((t_ecom_order_raw::tenant_id, t_ecom_order_raw::sync_task_id))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        leadgen_db::set_aside::count_by_task(&mut conn, tenant, &[task])
            .await
            .unwrap(),
        vec![(task, 1)]
    );
}

/// During a rolling deploy a newer sync-worker may store orders of a platform this build does
/// not know: they are no fault of theirs, so they are neither set aside nor claimed again and
/// again; they wait, PENDING, for a replica that knows the platform.
#[tokio::test]
async fn an_order_of_a_platform_this_build_does_not_know_waits_for_a_newer_replica() {
    let run = Run::new().await;
    let spec = |id, buyer: &str| Spec {
        shop: 0,
        order: order(id, 5, NeutralStatus::Completed, 5_000, Some(buyer), None),
    };
    let ids = run
        .store(&[spec("n1", "a"), spec("n2", "b")], "PENDING")
        .await;
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::update(t_ecom_order_raw::table.find(ids[0]))
        .set(t_ecom_order_raw::platform_type.eq("YOUZAN"))
        .execute(&mut conn)
        .await
        .unwrap();
    let sweep = sweep_of(&run);
    for _ in 0..3 {
        sweep.sweep_once().await.unwrap();
    }
    assert_eq!(state_of(&run, ids[0]).await, ("PENDING".to_owned(), None));
    assert_eq!(state_of(&run, ids[1]).await.0, "PROCESSED");
    // Handed to a batch all the same (its message named it): left as it is, not set aside.
    let summary = run.process(&ids[..1]).await;
    assert_eq!((summary.orders, summary.unreadable), (0, 0));
    assert_eq!(state_of(&run, ids[0]).await, ("PENDING".to_owned(), None));
}

/// A rescore hands a buyer's orders back to processing while it holds their lead locked; a row
/// a batch holds (batches lock raw rows before leads) is passed over, never waited for: waiting
/// would take the locks in the reverse order, a deadlock.
#[tokio::test]
async fn a_rescore_hands_back_orders_without_waiting_for_a_batchs_rows() {
    use diesel_async::{AsyncConnection as _, SimpleAsyncConnection as _};
    let run = Run::new().await;
    let ids = run
        .store(
            &[
                Spec {
                    shop: 0,
                    order: order("held", 10, NeutralStatus::Completed, 9_000, Some("a"), None),
                },
                Spec {
                    shop: 0,
                    order: order("free", 11, NeutralStatus::Completed, 9_000, Some("a"), None),
                },
            ],
            "PROCESSED",
        )
        .await;
    let (held, free) = (ids[0], ids[1]);
    // The batch's transaction, holding its raw row.
    let mut batch = diesel_async::AsyncPgConnection::establish(&run.db.url)
        .await
        .unwrap();
    batch.batch_execute("BEGIN").await.unwrap();
    diesel::sql_query(format!(
        "SELECT id FROM t_ecom_order_raw WHERE id = {held} FOR UPDATE"
    ))
    .execute(&mut batch)
    .await
    .unwrap();

    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let skipped = tokio::time::timeout(
        Duration::from_secs(5),
        order_processor::repo::raw_orders::hand_back_unless_held(&mut conn, &[held, free]),
    )
    .await
    .expect("not waiting for the held row")
    .unwrap();
    assert_eq!(
        skipped,
        vec![held],
        "the held row, for the caller to hand back later"
    );
    assert_eq!(state_of(&run, free).await.0, "PENDING");
    batch.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(state_of(&run, held).await.0, "PROCESSED");
}

/// While one tenant's pending rows are held (another replica's sweep, a batch in flight), a
/// sweep claims another tenant's rows instead of claiming nothing and sleeping.
#[tokio::test]
async fn a_sweep_passes_over_the_rows_another_replica_holds_to_another_tenants() {
    let run = Run::new().await;
    let spec = |shop, id, day, buyer: &str| Spec {
        shop,
        order: order(id, day, NeutralStatus::Completed, 5_000, Some(buyer), None),
    };
    let held = run.store(&[spec(0, "h1", 5, "held")], "PENDING").await[0];
    let other = run.store(&[spec(1, "o1", 6, "other")], "PENDING").await[0];
    // Shop 1, its task and its order become tenant 2's.
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    for table in ["t_ecom_platform_auth", "t_ecom_sync_task"] {
        let column = if table == "t_ecom_platform_auth" {
            "id"
        } else {
            "platform_id"
        };
        diesel::sql_query(format!(
            "UPDATE {table} SET tenant_id = 2 WHERE {column} = {}",
            run.shops[1]
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    diesel::sql_query(format!(
        "UPDATE t_ecom_order_raw SET tenant_id = 2 WHERE id = {other}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    // Another replica holds tenant 1's row, the first in id order.
    diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
    diesel::sql_query(format!(
        "SELECT id FROM t_ecom_order_raw WHERE id = {held} FOR UPDATE"
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    assert_eq!(sweep_of(&run).sweep_once().await.unwrap(), 1);
    assert_eq!(state_of(&run, other).await.0, "PROCESSED");
    diesel::sql_query("ROLLBACK")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(state_of(&run, held).await.0, "PENDING");
}

/// A data key (id 9) the tests' processor does not hold, as another replica's current one: the
/// key (Base64) and a sealer with it.
fn key_9() -> (String, Arc<leadgen_crypto::Sealer>) {
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let sealer = leadgen_runtime::sealer(&CryptoSettings {
        key_id: 9,
        data_key: SecretString::from(key.clone()),
        ..crypto_settings()
    })
    .unwrap();
    (key, sealer)
}

/// Each sweep takes the next tenant's pending rows, wrapping round: the sweep took the tenant of
/// the lowest pending id, so one tenant's backlog of thousands held back every other tenant's
/// rows for as many sweeps as it took.
#[tokio::test]
async fn each_sweep_takes_the_next_tenants_rows() {
    use leadgen_db::schema::t_ecom_platform_auth;
    let run = Run::new().await;
    let spec = |shop, id: String, buyer: String| Spec {
        shop,
        order: order(&id, 6, NeutralStatus::Completed, 5_000, Some(&buyer), None),
    };
    // Tenant 1's backlog first (lower ids), then one order of tenant 2's shop.
    let backlog: Vec<Spec> = (0..25)
        .map(|n| spec(0, format!("b{n}"), format!("buyer-{n}")))
        .collect();
    let big = run.store(&backlog, "PENDING").await;
    let small = run
        .store(&[spec(1, "s1".into(), "small".into())], "PENDING")
        .await[0];
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::update(t_ecom_platform_auth::table.find(run.shops[1]))
        .set(t_ecom_platform_auth::tenant_id.eq(2_i64))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::update(t_ecom_order_raw::table.find(small))
        .set(t_ecom_order_raw::tenant_id.eq(2_i64))
        .execute(&mut conn)
        .await
        .unwrap();

    let sweep = sweep_of(&run);
    assert_eq!(
        sweep.sweep_once().await.unwrap(),
        10,
        "tenant 1's first ten"
    );
    assert_eq!(sweep.sweep_once().await.unwrap(), 1, "then tenant 2's");
    assert_eq!(state_of(&run, small).await.0, "PROCESSED");
    // Round again: tenant 1's rest.
    assert_eq!(sweep.sweep_once().await.unwrap(), 10);
    assert_eq!(sweep.sweep_once().await.unwrap(), 5);
    for id in big {
        assert_eq!(state_of(&run, id).await.0, "PROCESSED");
    }
}
