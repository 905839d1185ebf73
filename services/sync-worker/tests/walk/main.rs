//! What a walk brings in from a platform whose orders change while and after it is walked: an
//! order the platform records late inside the window being walked is not missed (the window is
//! read again when its total grows), and a later version that masks an order's phone keeps the
//! number that reached the buyer, and an unreadable order counts as a failure only; pages that
//! loop stop the sync, empty ones that move on do not; a long call keeps the lease. A run
//! stopped with its process is handed on ([`handover`]). Against the real PostgreSQL, with a
//! scripted stand-in for the platform ([`platform`]).

#![expect(clippy::expect_used, reason = "test fixtures panic on a broken setup")]

mod handover;
mod platform;
mod retry;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{
    t_ecom_order_raw as raw, t_ecom_platform_auth as auth, t_ecom_sync_task as task,
};
use leadgen_db::sealed;
use leadgen_domain::{PlatformId, PlatformType, RawOrder, TenantId};
use leadgen_platforms::{Listing, OrderPage, PlatformClient, TimeWindow};
use leadgen_test_support::{TestDb, crypto_settings};
use sync_worker::repo::tasks;
use sync_worker::sync::{self, Syncer, TaskOutcome};

use self::platform::{Hold, LateChange, order};

/// A syncer of `platforms` on `db` as the tests run it: no retries to speak of, a lease of ten
/// minutes, announcing every order at once.
fn syncer(
    db: &TestDb,
    sealer: std::sync::Arc<leadgen_crypto::Sealer>,
    platforms: leadgen_platforms::registry::Registry,
) -> Syncer {
    Syncer {
        pool: db.pool.clone(),
        sealer,
        platforms,
        policy: sync::policy(
            0,
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(40),
        ),
        lease: Duration::minutes(10),
        stop: tokio_util::sync::CancellationToken::new(),
        announce_orders: 1,
    }
}

/// Tenant 1's task `id`, as a run reads it.
async fn task_row(conn: &mut diesel_async::AsyncPgConnection, id: i64) -> tasks::TaskRow {
    tasks::find(conn, TenantId::new(1), leadgen_domain::SyncTaskId::new(id))
        .await
        .expect("find")
        .expect("the task")
}

/// The order ids stored for `shop`, sorted.
async fn stored_orders(db: &TestDb, shop: i64) -> Vec<String> {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let mut stored: Vec<String> = raw::table
        .filter(raw::platform_id.eq(shop))
        .select(raw::order_id)
        .load(&mut conn)
        .await
        .expect("stored");
    stored.sort();
    stored
}

/// Stores `page` as one page of a run of the PDD task `task_row`: what it counted.
async fn store_pdd_page(
    syncer: &Syncer,
    task_row: &tasks::TaskRow,
    page: OrderPage,
) -> sync::store::PageCounts {
    let mut run = sync::store::RunPages::default();
    sync::store::store_page(syncer, task_row, PlatformType::Pdd, &page, &mut run)
        .await
        .expect("stored")
}

/// A Douyin shop with credentials that open, a RUNNING by-modification task over the last two
/// hours, and a syncer whose Douyin client is `platform`: the syncer, the task and the shop.
async fn douyin_walk(
    db: &TestDb,
    platform: std::sync::Arc<LateChange>,
) -> (Syncer, tasks::TaskRow, i64) {
    let sealer = leadgen_runtime::sealer(&crypto_settings()).expect("sealer");
    let shop = db.active_shop(1, "DOUYIN").await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let context = |column| sealed::platform_auth(column, PlatformId::new(shop));
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
    let now = Utc::now();
    let id: i64 = diesel::insert_into(task::table)
        .values((
            task::tenant_id.eq(1_i64),
            task::platform_id.eq(shop),
            task::platform_type.eq("DOUYIN"),
            task::trigger_type.eq("MANUAL"),
            task::status.eq("RUNNING"),
            task::listing.eq("MODIFIED"),
            task::window_start.eq(now - Duration::hours(2)),
            task::window_end.eq(now - Duration::minutes(2)),
        ))
        .returning(task::id)
        .get_result(&mut conn)
        .await
        .expect("task");
    let syncer = syncer(
        db,
        sealer.clone(),
        leadgen_platforms::registry::Registry::default().with_client(platform.clone()),
    );
    let task_row = task_row(&mut conn, id).await;
    (syncer, task_row, shop)
}

#[tokio::test]
async fn an_order_recorded_late_inside_the_window_being_walked_is_not_missed() {
    let db = TestDb::new().await;
    let platform = std::sync::Arc::new(LateChange {
        orders: Mutex::new((1..=4).map(|n| format!("o-{n}")).collect()),
        ..Default::default()
    });
    let (mut syncer, task_row, shop) = douyin_walk(&db, platform.clone()).await;
    syncer.announce_orders = 2;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let outcome = syncer
        .run(&task_row, PlatformType::Douyin)
        .await
        .expect("run");
    assert!(
        matches!(outcome, TaskOutcome::Completed { success: 5, .. }),
        "{outcome:?}"
    );
    // Announced two at a time, the last alone when the run ended: each stored order once.
    let announced: Vec<Vec<i64>> = outbox_payloads(&mut conn, "orders.fetched.v1")
        .await
        .iter()
        .map(|event| serde_json::from_value(event["data"]["rawOrderIds"].clone()).expect("ids"))
        .collect();
    assert_eq!(
        announced.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    let mut announced: Vec<i64> = announced.concat();
    announced.sort_unstable();
    let mut stored: Vec<(String, i64)> = raw::table
        .filter(raw::platform_id.eq(shop))
        .select((raw::order_id, raw::id))
        .load(&mut conn)
        .await
        .expect("stored");
    stored.sort();
    let (orders, mut ids): (Vec<String>, Vec<i64>) = stored.into_iter().unzip();
    assert_eq!(orders, ["late", "o-1", "o-2", "o-3", "o-4"]);
    ids.sort_unstable();
    assert_eq!(announced, ids);
    // The probe and four pages (o-3 slipped from page 3 to page 4, already read), then the
    // window again: its probe and five pages.
    assert_eq!(AtomicUsize::load(&platform.calls, Ordering::SeqCst), 11);
}

/// A listing newest first (Taobao's, Douyin's default) puts an order modified again during the
/// walk at its head: every order it passes moves down a place, and the last of a page not yet
/// read slips into one already read. The order read twice with two modification times shows
/// it, and the window is read again.
#[tokio::test]
async fn an_order_modified_again_while_its_window_is_walked_newest_first_misses_no_other() {
    walks_four_orders_twice(LateChange {
        // After page 4 (o-4) is read: o-4 comes back at the head, o-3 slips into page 4.
        moved_at_call: Some(1),
        ..Default::default()
    })
    .await;
}

/// Walks `platform`'s window of four orders, o-1 to o-4, one a page, which must be read a
/// second time: each order is stored once, after the probe and four pages twice.
async fn walks_four_orders_twice(platform: LateChange) {
    let db = TestDb::new().await;
    let platform = std::sync::Arc::new(LateChange {
        orders: Mutex::new((1..=4).map(|n| format!("o-{n}")).collect()),
        ..platform
    });
    let (syncer, task_row, shop) = douyin_walk(&db, platform.clone()).await;
    let outcome = syncer
        .run(&task_row, PlatformType::Douyin)
        .await
        .expect("run");
    assert!(
        matches!(outcome, TaskOutcome::Completed { success: 4, .. }),
        "{outcome:?}"
    );
    assert_eq!(stored_orders(&db, shop).await, ["o-1", "o-2", "o-3", "o-4"]);
    // The probe and four pages, then the window again: its probe and four pages.
    assert_eq!(AtomicUsize::load(&platform.calls, Ordering::SeqCst), 10);
}

/// A platform that answers orders of the same second in another order from one call to the
/// next (no unique sort key) gives one order twice and another never in a pass, while its total
/// stays. The pass read fewer distinct orders than the total: the window is read again, and the
/// order the first pass missed is stored.
#[tokio::test]
async fn a_window_whose_tie_order_changed_mid_walk_is_read_again_and_misses_nothing() {
    walks_four_orders_twice(LateChange {
        // The probe (page 1), pages 4 and 3 (o-3) are read; then o-2 and o-3 trade places, so
        // page 2 answers o-3 again and o-2 is never answered in that pass.
        ties_swap_at_call: Some(2),
        ..Default::default()
    })
    .await;
}

/// A platform whose total counts an order its pages never give: the window is read again twice,
/// then the walk moves on (it would otherwise hold the shop's syncs for good), and the task
/// tells the merchant which period may miss orders.
#[tokio::test]
async fn a_window_short_of_its_total_after_every_pass_completes_with_a_warning() {
    let db = TestDb::new().await;
    let platform = std::sync::Arc::new(LateChange {
        orders: Mutex::new((1..=3).map(|n| format!("o-{n}")).collect()),
        overstated_total: 1,
        ..Default::default()
    });
    let (syncer, task_row, shop) = douyin_walk(&db, platform.clone()).await;
    let id = task_row.id.get();
    let outcome = syncer
        .run(&task_row, PlatformType::Douyin)
        .await
        .expect("run");
    assert!(
        matches!(outcome, TaskOutcome::Completed { success: 3, .. }),
        "{outcome:?}"
    );
    assert_eq!(stored_orders(&db, shop).await, ["o-1", "o-2", "o-3"]);
    // Three passes of the probe and four pages (the fourth empty).
    assert_eq!(AtomicUsize::load(&platform.calls, Ordering::SeqCst), 15);
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let warning: Option<String> = task::table
        .find(id)
        .select(task::warning)
        .first(&mut conn)
        .await
        .expect("task");
    let warning = warning.expect("a warning");
    assert!(
        warning.contains("平台称共 4 笔，多次读取只得到 3 笔，可能有订单未同步"),
        "{warning}"
    );
}

/// A catch-up of a shop whose changes were last read months ago starts at most 90 days back
/// (`changes_start`): the changes it leaves behind are named on the sync record, with what the
/// merchant can do, never skipped silently. A shop read up to the window's start gets none.
#[tokio::test]
async fn a_catch_up_says_which_changes_it_left_behind() {
    let db = TestDb::new().await;
    let platform = std::sync::Arc::new(LateChange {
        orders: Mutex::new(vec!["o-1".to_owned()]),
        ..Default::default()
    });
    let (syncer, task_row, shop) = douyin_walk(&db, platform.clone()).await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let warning_after = |watermark: Option<chrono::DateTime<Utc>>| {
        let syncer = syncer.clone();
        let task_row = task_row.clone();
        let pool = db.pool.clone();
        async move {
            let mut conn = leadgen_db::conn(&pool).await.expect("conn");
            diesel::update(auth::table.find(shop))
                .set(auth::modified_watermark.eq(watermark))
                .execute(&mut conn)
                .await
                .expect("watermark");
            let outcome = syncer
                .run(&task_row, PlatformType::Douyin)
                .await
                .expect("run");
            assert!(
                matches!(outcome, TaskOutcome::Completed { .. }),
                "{outcome:?}"
            );
            task::table
                .find(task_row.id.get())
                .select(task::warning)
                .first::<Option<String>>(&mut conn)
                .await
                .expect("task")
        }
    };
    let months_ago = task_row.window_start - Duration::days(110);
    let warning = warning_after(Some(months_ago)).await.expect("a warning");
    assert!(
        warning.contains("店铺超过 90 天未同步订单变更")
            && warning.contains(&leadgen_domain::time::format_beijing(
                months_ago - Duration::minutes(10)
            ))
            && warning.contains("可按下单时间指定时段手动同步"),
        "{warning}"
    );
    let again = || async {
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        diesel::update(task::table.find(task_row.id.get()))
            .set((
                task::status.eq("RUNNING"),
                task::windows_total.eq(None::<i32>),
                task::windows_done.eq(0),
            ))
            .execute(&mut conn)
            .await
            .expect("again");
    };
    again().await;
    let read_up_to_it = task_row.window_start + Duration::minutes(10);
    assert_eq!(
        warning_after(Some(read_up_to_it)).await,
        None,
        "the run's own warning replaces the last run's"
    );

    // No by-modification window stored yet: changes are read from the shop's first sync, and
    // one months ago is as far behind.
    again().await;
    diesel::insert_into(task::table)
        .values((
            task::tenant_id.eq(1_i64),
            task::platform_id.eq(shop),
            task::platform_type.eq("DOUYIN"),
            task::trigger_type.eq("BACKFILL"),
            task::status.eq("COMPLETED"),
            task::listing.eq("CREATED"),
            task::window_start.eq(months_ago - Duration::days(30)),
            task::window_end.eq(months_ago),
            task::sync_time.eq(months_ago),
        ))
        .execute(&mut conn)
        .await
        .expect("the first sync");
    let warning = warning_after(None).await.expect("a warning");
    assert!(
        warning.contains(&leadgen_domain::time::format_beijing(
            months_ago - Duration::minutes(10)
        )),
        "{warning}"
    );
}

/// Pages that come back empty while the walk still moves toward its end are not a loop: a
/// backward walk whose window lost orders after its probe (its last pages are empty down to
/// the orders left), and a cursor walk whose platform answers empty pages before its last.
#[tokio::test]
async fn empty_pages_of_a_walk_that_moves_on_do_not_stop_it() {
    let departed = LateChange {
        orders: Mutex::new((1..=10).map(|n| format!("o-{n}")).collect()),
        left_after_probe: Some(3),
        ..Default::default()
    };
    let empty_cursors = LateChange {
        empty_cursor_pages: 8,
        ..Default::default()
    };
    // The probe, pages 10 to 4 empty, pages 3 to 1; eight empty pages and the last.
    for (platform, stored, calls) in [
        (departed, vec!["o-1", "o-2", "o-3"], 11),
        (empty_cursors, vec!["after-empty"], 9),
    ] {
        let db = TestDb::new().await;
        let platform = std::sync::Arc::new(platform);
        let (syncer, task_row, shop) = douyin_walk(&db, platform.clone()).await;
        let outcome = syncer
            .run(&task_row, PlatformType::Douyin)
            .await
            .expect("run");
        assert!(
            matches!(outcome, TaskOutcome::Completed { .. }),
            "{outcome:?}"
        );
        assert_eq!(stored_orders(&db, shop).await, stored);
        assert_eq!(AtomicUsize::load(&platform.calls, Ordering::SeqCst), calls);
    }
}

/// A platform call that outlasts the run's lease keeps the task the run's: the lease is renewed
/// while the call waits, so recovery does not hand a live run's task to another worker. Not
/// for good: a run that stored nothing for three leases is let go (its lease runs out).
#[tokio::test]
async fn a_call_longer_than_the_lease_keeps_the_lease_alive_for_a_while() {
    // (the call's length, whether the lease must still be alive at 1.2 s or must lapse during it)
    for (call_ms, alive) in [(1_500, true), (6_000, false)] {
        let db = TestDb::new().await;
        let platform = std::sync::Arc::new(LateChange {
            orders: Mutex::new(vec!["o-1".into()]),
            slow_first_call: Some(std::time::Duration::from_millis(call_ms)),
            ..Default::default()
        });
        let (mut syncer, task_row, _) = douyin_walk(&db, platform).await;
        syncer.lease = Duration::milliseconds(600);
        let id = task_row.id.get();
        let run = tokio::spawn(async move { syncer.run(&task_row, PlatformType::Douyin).await });
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        let lease_alive = |conn: &mut diesel_async::AsyncPgConnection| {
            task::table
                .find(id)
                .select(task::lease_until)
                .first::<Option<DateTime<Utc>>>(conn)
        };
        if alive {
            tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
            let lease = lease_alive(&mut conn).await.expect("task");
            assert!(
                lease.is_some_and(|until| until > Utc::now()),
                "a call of {call_ms} ms, at 1.2 s: {lease:?}"
            );
        } else {
            // Three leases (1.8 s) after the run's last write its renewals stop, and the lease
            // lapses 0.6 s later: looked for until the call ends, however slow the start.
            loop {
                let lease = lease_alive(&mut conn).await.expect("task");
                if lease.is_some_and(|until| until <= Utc::now()) {
                    break;
                }
                assert!(
                    !run.is_finished(),
                    "the lease never lapsed during a call of {call_ms} ms: {lease:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        let outcome = run.await.expect("join").expect("run");
        assert!(
            matches!(outcome, TaskOutcome::Completed { success: 1, .. }),
            "{outcome:?}"
        );
    }
}

/// The payloads of the events waiting in the outbox under `routing_key`, oldest first.
async fn outbox_payloads(
    conn: &mut diesel_async::AsyncPgConnection,
    routing_key: &str,
) -> Vec<serde_json::Value> {
    use leadgen_db::schema::t_outbox as outbox;
    let payloads: Vec<String> = outbox::table
        .filter(outbox::routing_key.eq(routing_key))
        .order(outbox::id)
        .select(outbox::payload)
        .load(conn)
        .await
        .expect("outbox");
    payloads
        .iter()
        .map(|p| serde_json::from_str(p).expect("an event"))
        .collect()
}

/// A RUNNING PDD sync task of a new shop, and a syncer that stores its pages.
async fn pdd_task(db: &TestDb) -> (Syncer, tasks::TaskRow, i64) {
    let sealer = leadgen_runtime::sealer(&crypto_settings()).expect("sealer");
    let shop = db.active_shop(1, "PDD").await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let id = db.sync_task(1, shop, "PDD", "RUNNING").await;
    let task_row = task_row(&mut conn, id).await;
    let syncer = syncer(db, sealer, leadgen_platforms::registry::Registry::default());
    (syncer, task_row, shop)
}

/// A phone a salesperson revealed for an order stays the buyer's while the order's receiver
/// stays: a later version that only moves on (shipped) keeps it, an older one skipped changes
/// nothing, and a version naming another receiver forgets it (it would merge the buyer with
/// whoever the old receiver was), handing the order back to order-processor.
#[tokio::test]
async fn a_revealed_phone_is_forgotten_when_the_orders_receiver_changes() {
    use leadgen_db::schema::t_order_revealed_identity as revealed;
    let db = TestDb::new().await;
    let (syncer, task_row, shop) = pdd_task(&db).await;
    let now = Utc::now();
    let version = |phone: &str, status: &str, minutes_ago: i64| {
        let mut fetched = order("P-2");
        if let Ok(parsed) = &mut fetched.parsed {
            parsed.receiver.phone = leadgen_domain::ContactField::phone(phone);
            parsed.platform_status = status.to_owned();
            parsed.modified_at = Some(now - Duration::minutes(minutes_ago));
        }
        fetched.raw =
            serde_json::json!({ "order_sn": "P-2", "receiver_phone": phone, "status": status });
        OrderPage {
            orders: vec![fetched],
            next: None,
            total: Some(1),
        }
    };
    let store = |page: OrderPage| store_pdd_page(&syncer, &task_row, page);
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    store(version("~enc-friend~", "1", 30)).await;
    let raw_id: i64 = raw::table
        .filter(raw::platform_id.eq(shop))
        .filter(raw::order_id.eq("P-2"))
        .select(raw::id)
        .first(&mut conn)
        .await
        .expect("stored");
    diesel::insert_into(revealed::table)
        .values((
            revealed::raw_order_id.eq(raw_id),
            revealed::tenant_id.eq(1_i64),
            revealed::key_hash.eq("1.revealed-index"),
        ))
        .execute(&mut conn)
        .await
        .expect("a revealed phone");
    let kept = || async {
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        revealed::table
            .filter(revealed::raw_order_id.eq(raw_id))
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .expect("count")
            == 1
    };
    // Shipped, the same receiver: kept.
    store(version("~enc-friend~", "2", 20)).await;
    assert!(kept().await, "the receiver did not change");
    // An older answer naming another receiver is not stored: kept.
    store(version("~enc-buyer~", "1", 40)).await;
    assert!(kept().await, "an older version changes nothing");
    // The receiver corrected to another person: forgotten, and the order processed again.
    diesel::update(raw::table.find(raw_id))
        .set(raw::process_status.eq("PROCESSED"))
        .execute(&mut conn)
        .await
        .expect("processed");
    store(version("~enc-buyer~", "2", 10)).await;
    assert!(!kept().await, "the revealed phone was the old receiver's");
    let status: String = raw::table
        .find(raw_id)
        .select(raw::process_status)
        .first(&mut conn)
        .await
        .expect("status");
    assert_eq!(status, "PENDING");
}

/// A shipped order's later version masks the phone (PDD's `receiver_phone` is clear only while
/// 待发货) or drops it: the stored order keeps the number that reached the buyer, so the lead
/// still shows it and a reveal still finds it. A receiver that really changed replaces it.
#[tokio::test]
async fn a_later_version_that_masks_the_phone_keeps_the_number_that_reached_the_buyer() {
    let db = TestDb::new().await;
    let (syncer, task_row, shop) = pdd_task(&db).await;
    let sealer = syncer.sealer.clone();
    let now = Utc::now();
    let version = |phone: &str, minutes_ago: i64| {
        let mut fetched = order("P-1");
        if let Ok(parsed) = &mut fetched.parsed {
            parsed.receiver.phone = leadgen_domain::ContactField::phone(phone);
            parsed.modified_at = Some(now - Duration::minutes(minutes_ago));
        }
        fetched.raw = serde_json::json!({ "order_sn": "P-1", "receiver_phone": phone });
        OrderPage {
            orders: vec![fetched],
            next: None,
            total: Some(1),
        }
    };
    let stored_phone = || async {
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        let sealed: Option<String> = raw::table
            .filter(raw::order_id.eq("P-1"))
            .select(raw::normalized)
            .first(&mut conn)
            .await
            .expect("stored");
        let context = sealed::raw_order("normalized", PlatformId::new(shop), "P-1");
        let json = sealer
            .open(&context, &sealed.expect("normalized"))
            .expect("opens");
        let order: RawOrder = serde_json::from_str(&json).expect("order");
        order.receiver.phone.map(|p| p.value)
    };
    let store = |page: OrderPage| store_pdd_page(&syncer, &task_row, page);
    store(version("13876771234", 30)).await;
    store(version("1387677****", 20)).await;
    assert_eq!(stored_phone().await.as_deref(), Some("13876771234"));
    // The buyer moved the order to another number.
    store(version("1390000****", 10)).await;
    assert_eq!(stored_phone().await.as_deref(), Some("1390000****"));
}

/// The sync record's counts: `newCount`, `updatedCount` and `unchangedCount` compare the readable
/// orders with what was stored and add up to `successCount`; an unreadable order counts in
/// `failureCount` alone, whether it is new or seen again.
#[tokio::test]
async fn an_unreadable_order_counts_as_a_failure_only() {
    let db = TestDb::new().await;
    let (syncer, task_row, _) = pdd_task(&db).await;
    let mut unreadable = order("P-9");
    unreadable.parsed = Err("缺少订单金额".into());
    let page = || OrderPage {
        orders: vec![order("P-1"), unreadable.clone(), order("P-2")],
        next: None,
        total: Some(3),
    };
    let store = |page: OrderPage| async { store_pdd_page(&syncer, &task_row, page).await.counts };
    let first = store(page()).await;
    assert_eq!(
        (
            first.success,
            first.failure,
            first.new,
            first.updated,
            first.unchanged
        ),
        (2, 1, 2, 0, 0)
    );
    let again = store(page()).await;
    assert_eq!(
        (
            again.success,
            again.failure,
            again.new,
            again.updated,
            again.unchanged
        ),
        (2, 1, 0, 0, 2)
    );
}

/// A platform whose paging does not end stops the sync with the reason instead of walking
/// forever, holding the shop's one running task: a cursor it answered before in the same pass
/// (after the probe, A, B, then A again: 3 calls), or numbered pages that go on answering the
/// same orders, whose page numbers never repeat (the first page, then five that bring nothing
/// new: 6 calls), or cursors that go on answering empty pages (fifty: 50 calls).
#[tokio::test]
async fn a_platform_whose_paging_loops_stops_the_sync_with_the_reason() {
    let looping = LateChange {
        looping: true,
        ..Default::default()
    };
    let same_page = LateChange {
        same_page_forever: true,
        ..Default::default()
    };
    let empty_forever = LateChange {
        empty_cursor_pages: 60,
        ..Default::default()
    };
    for (platform, calls) in [(looping, 3), (same_page, 6), (empty_forever, 50)] {
        let db = TestDb::new().await;
        let platform = std::sync::Arc::new(platform);
        let (syncer, task_row, _) = douyin_walk(&db, platform.clone()).await;
        let outcome = syncer
            .run(&task_row, PlatformType::Douyin)
            .await
            .expect("run");
        assert!(
            matches!(&outcome, TaskOutcome::Failed(sync::Cause::Platform, reason) if reason == sync::PAGING_LOOPS),
            "{outcome:?}"
        );
        assert_eq!(AtomicUsize::load(&platform.calls, Ordering::SeqCst), calls);
    }
}

/// A shop that cannot be called (its grant ended, or the merchant paused it) fails its sync
/// without a platform call, and the failure is the merchant's to mend (`cause="authorization"`,
/// which pages no operator).
#[tokio::test]
async fn a_shop_that_cannot_be_called_fails_its_sync_for_its_authorization() {
    for status in ["EXPIRED", "DISABLED"] {
        let db = TestDb::new().await;
        let platform = std::sync::Arc::new(LateChange::default());
        let (syncer, task_row, shop) = douyin_walk(&db, platform.clone()).await;
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        diesel::update(auth::table.find(shop))
            .set(auth::status.eq(status))
            .execute(&mut conn)
            .await
            .expect("status");
        let outcome = syncer
            .run(&task_row, PlatformType::Douyin)
            .await
            .expect("run");
        assert!(
            matches!(&outcome, TaskOutcome::Failed(sync::Cause::Authorization, _)),
            "{status}: {outcome:?}"
        );
        assert_eq!(AtomicUsize::load(&platform.calls, Ordering::SeqCst), 0);
    }
}

/// A walker that stalled past its lease and was replaced writes nothing beside its successor:
/// its next page stops it (neither the page nor its count is written), it cannot end
/// the task or release the successor's claim, and the same request redelivered takes the task
/// over under a claim of its own.
#[tokio::test]
async fn a_run_replaced_after_its_lease_stops_at_its_next_write() {
    let db = TestDb::new().await;
    let (syncer, task_row, _) = pdd_task(&db).await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let lease = Duration::minutes(10);
    let first = tasks::start(&mut conn, task_row.id, lease, "m-1")
        .await
        .expect("start")
        .expect("claimed");
    let stalled = tasks::TaskRow {
        claimed_by: Some(first.clone()),
        ..task_row
    };
    let page = |id: &str| OrderPage {
        orders: vec![order(id)],
        next: None,
        total: Some(1),
    };
    let mut run = sync::store::RunPages::default();
    let stored =
        sync::store::store_page(&syncer, &stalled, PlatformType::Pdd, &page("P-1"), &mut run)
            .await
            .expect("stored");
    assert!(!stored.stopped);
    // A second request while the first's lease lives is a duplicate.
    assert_eq!(
        tasks::start(&mut conn, stalled.id, lease, "m-2")
            .await
            .expect("start"),
        None
    );
    // The lease ran out; recovery hands the task to a resumed request, which claims it.
    tasks::hand_over(
        &mut conn,
        &stalled,
        Utc::now() - Duration::minutes(11),
        lease,
    )
    .await
    .expect("hand over");
    let second = tasks::start(&mut conn, stalled.id, lease, "m-2")
        .await
        .expect("start")
        .expect("claimed");
    let stored =
        sync::store::store_page(&syncer, &stalled, PlatformType::Pdd, &page("P-2"), &mut run)
            .await
            .expect("stored");
    assert!(stored.stopped, "the replaced run stops");
    let (pages, claim): (i32, Option<String>) = task::table
        .find(stalled.id.get())
        .select((task::pages_fetched, task::claimed_by))
        .first(&mut conn)
        .await
        .expect("task");
    assert_eq!((pages, claim.as_deref()), (1, Some(second.as_str())));
    let stored: Vec<String> = raw::table
        .select(raw::order_id)
        .load(&mut conn)
        .await
        .expect("stored");
    assert_eq!(stored, ["P-1"], "the replaced run's page is not written");
    let ended = tasks::finish_run(
        &mut conn,
        stalled.id,
        Some(&first),
        leadgen_domain::SyncStatus::Completed,
        None,
    )
    .await
    .expect("finish");
    assert_eq!(ended, 0, "the replaced run cannot end the task");
    assert_eq!(
        tasks::release(&mut conn, stalled.id, &first, false)
            .await
            .expect("release"),
        0,
        "nor release its successor's claim"
    );
    // The successor's request redelivered (its worker died, or the broker restarted) takes over
    // under a new claim, without spending an attempt: the runs recovery resumed are counted.
    let before = task::table
        .find(stalled.id.get())
        .select(task::attempts)
        .first::<i32>(&mut conn)
        .await
        .expect("attempts");
    let third = tasks::start(&mut conn, stalled.id, lease, "m-2")
        .await
        .expect("start")
        .expect("claimed");
    assert_ne!(third, second);
    assert!(third.starts_with("m-2 "), "{third}");
    let attempts = task::table
        .find(stalled.id.get())
        .select(task::attempts)
        .first::<i32>(&mut conn)
        .await
        .expect("attempts");
    assert_eq!(attempts, before, "a redelivery spends no attempt");
    assert_eq!(before, 2, "the first request and the resumed one");
    // Its run fails after its request was acknowledged (a long sync): the claim is released
    // and the lease ended, so recovery resumes the task at its next pass.
    assert_eq!(
        tasks::release(&mut conn, stalled.id, &third, true)
            .await
            .expect("release"),
        1
    );
    let expired = tasks::expired(&mut conn, Utc::now(), lease, 10)
        .await
        .expect("expired");
    assert_eq!(
        expired.iter().map(|t| t.id).collect::<Vec<_>>(),
        [stalled.id]
    );
}

/// A backfill resumed later, on a platform that serves a limited history back from now (Taobao
/// and Kuaishou by creation time), walks the windows its first run split, after the ones stored:
/// split again from now they would all start later, and skipping the stored ones would skip the
/// first slice of the next.
#[tokio::test]
async fn a_resumed_run_walks_the_windows_its_first_run_split() {
    let db = TestDb::new().await;
    let platform = std::sync::Arc::new(LateChange {
        history_days: Some(3),
        ..Default::default()
    });
    let (syncer, task_row, _) = douyin_walk(&db, platform.clone()).await;
    // The first run split three windows' worth (each starts on the second the last ended) of
    // the three days the platform served, an hour ago, and stored the first before it was
    // interrupted.
    let split_at = tasks::windows_as_of(&task_row, Utc::now() - Duration::hours(1));
    let range = TimeWindow::new(
        split_at - Duration::days(3) + Duration::seconds(2),
        split_at - Duration::seconds(1),
    );
    let first_run = platform.windows(range, split_at, Listing::Modified);
    assert_eq!(first_run.len(), 3);
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::update(task::table.find(task_row.id.get()))
        .set((
            task::window_start.eq(range.start),
            task::window_end.eq(range.end),
            task::windows_total.eq(3),
            task::windows_done.eq(1),
            task::windows_as_of.eq(split_at),
        ))
        .execute(&mut conn)
        .await
        .expect("progress");
    let resumed = tasks::find(&mut conn, task_row.tenant_id, task_row.id)
        .await
        .expect("find")
        .expect("the task");
    let outcome = syncer
        .run(&resumed, PlatformType::Douyin)
        .await
        .expect("run");
    assert!(
        matches!(outcome, TaskOutcome::Completed { .. }),
        "{outcome:?}"
    );
    let asked = platform.asked.lock().expect("asked").clone();
    assert_eq!(
        asked,
        first_run[1..],
        "the first run's second and third windows"
    );
    // Split long ago (a task replayed days later): split again from now, and walked whole.
    let days_ago = tasks::TaskRow {
        windows_as_of: Some(split_at - Duration::days(2)),
        windows_done: 1,
        ..resumed.clone()
    };
    assert!(tasks::windows_as_of(&days_ago, Utc::now()) > split_at);
    let done: i32 = task::table
        .find(task_row.id.get())
        .select(task::windows_done)
        .first(&mut conn)
        .await
        .expect("task");
    assert_eq!(done, 3);
}
