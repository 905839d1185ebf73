//! `leadctl leads rebuild` against the real PostgreSQL, as an operator runs it: every processed
//! raw order of the scope goes back to order-processor's pending sweep, or with `--set-aside`
//! only the ones order-processor set aside, so they are processed again once their cause (a data
//! key a replica lacked, say) is mended.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

mod support;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_ecom_order_raw as raw;
use leadgen_test_support::TestDb;

/// `leadctl leads rebuild <args>` on `db`; its standard output.
async fn rebuild(db: &TestDb, args: &[&str]) -> String {
    let args: Vec<&str> = ["leads", "rebuild"].iter().chain(args).copied().collect();
    let (ok, out) = support::leadctl(db, &args).await;
    assert!(ok, "{out}");
    out
}

/// A raw order of `shop` (of `tenant`) in `status`, with or without its neutral form, and
/// `parse_error`; its id.
async fn stored(
    db: &TestDb,
    (tenant, shop, task): (i64, i64, i64),
    order_id: &str,
    status: &str,
    normalized: bool,
    parse_error: Option<&str>,
) -> i64 {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::insert_into(raw::table)
        .values((
            raw::tenant_id.eq(tenant),
            raw::platform_id.eq(shop),
            raw::platform_type.eq("JD"),
            raw::order_id.eq(order_id),
            raw::raw_data.eq("sealed-raw"),
            raw::normalized.eq(normalized.then_some("sealed-normalized")),
            raw::parse_error.eq(parse_error),
            raw::content_hash.eq(order_id),
            raw::sync_task_id.eq(task),
            raw::process_status.eq(status),
        ))
        .returning(raw::id)
        .get_result(&mut conn)
        .await
        .expect("insert raw order")
}

/// `(process_status, parse_error)` of raw order `id`.
async fn state(db: &TestDb, id: i64) -> (String, Option<String>) {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    raw::table
        .find(id)
        .select((raw::process_status, raw::parse_error))
        .first(&mut conn)
        .await
        .expect("raw order")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_set_aside_hands_back_only_the_orders_order_processor_set_aside() {
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "JD").await;
    let task = db.sync_task(1, shop, "JD", "COMPLETED").await;
    let other_shop = db.active_shop(2, "JD").await;
    let other_task = db.sync_task(2, other_shop, "JD", "COMPLETED").await;
    let ours = (1, shop, task);
    let failed = "处理失败（连续 3 次）：a stored contact is sealed under data key 9, which this \
                  process does not hold";
    let unopened =
        "无法处理：normalized form unreadable: sealed value does not open: unknown key 9";
    // Set aside by order-processor's sweep and by its batch: handed back.
    let swept = stored(&db, ours, "s1", "MALFORMED", true, Some(failed)).await;
    let unopened_row = stored(&db, ours, "s2", "MALFORMED", true, Some(unopened)).await;
    // sync-worker could not read this one: no neutral form to process.
    let unread = stored(&db, ours, "s3", "MALFORMED", false, Some("缺少订单号")).await;
    // Processed, and another tenant's row set aside: left as they are.
    let processed = stored(&db, ours, "s4", "PROCESSED", true, None).await;
    let theirs = stored(
        &db,
        (2, other_shop, other_task),
        "t1",
        "MALFORMED",
        true,
        Some(failed),
    )
    .await;

    let out = rebuild(&db, &["--tenant", "1", "--set-aside"]).await;
    assert!(
        out.starts_with("2 raw orders set aside by order-processor handed back"),
        "{out}"
    );
    for id in [swept, unopened_row] {
        assert_eq!(state(&db, id).await, ("PENDING".to_owned(), None));
    }
    assert_eq!(
        state(&db, unread).await,
        ("MALFORMED".to_owned(), Some("缺少订单号".to_owned()))
    );
    assert_eq!(state(&db, processed).await.0, "PROCESSED");
    assert_eq!(
        state(&db, theirs).await,
        ("MALFORMED".to_owned(), Some(failed.to_owned()))
    );

    // Without it, the processed orders go back, and nothing set aside does.
    let out = rebuild(&db, &["--platform", &other_shop.to_string()]).await;
    assert!(out.starts_with("0 raw orders handed back"), "{out}");
    assert_eq!(state(&db, theirs).await.0, "MALFORMED");
    let out = rebuild(&db, &["--tenant", "1"]).await;
    assert!(out.starts_with("1 raw orders handed back"), "{out}");
    assert_eq!(state(&db, processed).await.0, "PENDING");
    assert_eq!(state(&db, unread).await.0, "MALFORMED");

    // Every tenant's, by shop.
    let out = rebuild(&db, &["--set-aside", "--platform", &other_shop.to_string()]).await;
    assert!(out.starts_with("1 raw orders set aside"), "{out}");
    assert_eq!(state(&db, theirs).await, ("PENDING".to_owned(), None));
}

/// `blind-index rotate` reads its keys before it hands anything back: without a blind-index key
/// (or with one key under two ids) it refuses, and no buyer is rebuilt for nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_without_its_keys_hands_nothing_back() {
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "JD").await;
    let task = db.sync_task(1, shop, "JD", "COMPLETED").await;
    let processed = stored(&db, (1, shop, task), "r1", "PROCESSED", true, None).await;
    let (ok, out) = support::leadctl(&db, &["blind-index", "rotate"]).await;
    assert!(!ok, "{out}");
    assert_eq!(state(&db, processed).await.0, "PROCESSED");
}

/// A rebuild hands orders back in batches (each its own transaction), and hands back every one
/// of the scope across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_hands_back_every_order_across_its_batches() {
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "JD").await;
    let task = db.sync_task(1, shop, "JD", "COMPLETED").await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::sql_query(format!(
        "INSERT INTO t_ecom_order_raw (tenant_id, platform_id, platform_type, order_id, raw_data, \
         normalized, content_hash, sync_task_id, process_status) \
         SELECT 1, {shop}, 'JD', 'b' || n, 'sealed-raw', 'sealed-normalized', 'h' || n, {task}, \
         'PROCESSED' FROM generate_series(1, 12001) AS n"
    ))
    .execute(&mut conn)
    .await
    .expect("orders");
    let out = rebuild(&db, &["--tenant", "1"]).await;
    assert!(out.starts_with("12001 raw orders handed back"), "{out}");
    let processed: i64 = raw::table
        .filter(raw::process_status.eq("PROCESSED"))
        .count()
        .get_result(&mut conn)
        .await
        .expect("count");
    assert_eq!(processed, 0);
    // Each batch in its own transaction: the trigger stamps each with its own now().
    #[derive(diesel::QueryableByName)]
    struct Stamps {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let stamps: Stamps =
        diesel::sql_query("SELECT count(DISTINCT pending_since) AS n FROM t_ecom_order_raw")
            .get_result(&mut conn)
            .await
            .expect("stamps");
    assert_eq!(stamps.n, 3, "three batches of at most 5,000");
}
