//! Storing what a walk read: a version of an order older than the one stored (read before a
//! change, or served by a lagging replica) never replaces it; a sync that kept unreadable orders
//! says so. Against the real PostgreSQL.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_order_raw as raw, t_ecom_sync_task as task};
use leadgen_test_support::TestDb;
use sync_worker::repo::raw_orders::{RawInsert, upsert_changed};

fn version(shop: i64, sync: i64, hash: &str, modified: DateTime<Utc>) -> RawInsert {
    RawInsert {
        tenant_id: 1,
        platform_id: shop,
        platform_type: "DOUYIN".into(),
        order_id: "6921".into(),
        raw_data: format!("sealed {hash}"),
        normalized: None,
        parse_error: None,
        content_hash: hash.into(),
        order_created_at: None,
        order_modified_at: Some(modified),
        sync_task_id: sync,
        process_status: "PENDING".into(),
    }
}

#[tokio::test]
async fn an_older_version_of_an_order_never_replaces_the_stored_one() {
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "DOUYIN").await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let now = Utc::now();
    let sync = db.sync_task(1, shop, "DOUYIN", "RUNNING").await;
    let stored = || async {
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        raw::table
            .select(raw::content_hash)
            .get_results::<String>(&mut conn)
            .await
            .expect("raw orders")
    };

    // One page holds the order twice: the newer version (completed), then the older (paid).
    let completed = version(shop, sync, "completed", now - Duration::minutes(1));
    let paid = version(shop, sync, "paid", now - Duration::minutes(100));
    let written = upsert_changed(&mut conn, &[completed, paid])
        .await
        .expect("page");
    assert_eq!(written.rows.len(), 1);
    assert_eq!(stored().await, ["completed"]);

    // A later sync serves the older version again: left alone, and not counted as a change.
    let paid = version(shop, sync, "paid", now - Duration::minutes(100));
    let written = upsert_changed(&mut conn, &[paid]).await.expect("page");
    assert!(written.rows.is_empty() && written.updated.is_empty());
    assert_eq!(stored().await, ["completed"]);

    // A newer version replaces it.
    let refunded = version(shop, sync, "refunded", now);
    let written = upsert_changed(&mut conn, &[refunded]).await.expect("page");
    assert_eq!(written.updated.len(), 1);
    assert_eq!(stored().await, ["refunded"]);
}

/// A sync that kept orders it could not read says so in its warning, with one of the reasons,
/// after the warning it already had.
#[tokio::test]
async fn a_completed_sync_with_unreadable_orders_says_so() {
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "DOUYIN").await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let now = Utc::now();
    let sync = db.sync_task(1, shop, "DOUYIN", "COMPLETED").await;
    diesel::update(task::table.find(sync))
        .set((
            task::failure_count.eq(2),
            task::warning.eq("电商平台只提供部分时间范围的订单"),
        ))
        .execute(&mut conn)
        .await
        .expect("task");
    let mut unreadable = version(shop, sync, "bad", now);
    unreadable.process_status = "MALFORMED".into();
    unreadable.parse_error = Some("未知的订单状态 order_status `21`".into());
    upsert_changed(&mut conn, &[unreadable])
        .await
        .expect("stored");
    let task_id = leadgen_domain::SyncTaskId::new(sync);
    sync_worker::repo::tasks::note_unreadable(&mut conn, task_id)
        .await
        .expect("noted");
    let warning: Option<String> = task::table
        .find(sync)
        .select(task::warning)
        .first(&mut conn)
        .await
        .expect("task");
    assert_eq!(
        warning.as_deref(),
        Some(
            "电商平台只提供部分时间范围的订单；2 笔订单无法解析，已保留原始数据待查（如：未知的订单状态 order_status `21`）"
        )
    );
}

/// A later version the adapter cannot read (a status it does not know yet, say) never replaces
/// the readable one: the order keeps its data, and the unreadable version is kept beside it with
/// its reason until a readable version replaces both.
#[tokio::test]
async fn an_unreadable_later_version_is_kept_beside_the_readable_one() {
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "DOUYIN").await;
    let sync = db.sync_task(1, shop, "DOUYIN", "RUNNING").await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let now = Utc::now();
    let readable = |hash: &str, minutes_ago: i64| RawInsert {
        normalized: Some(format!("sealed normalized {hash}")),
        ..version(shop, sync, hash, now - Duration::minutes(minutes_ago))
    };
    let unreadable = || RawInsert {
        normalized: None,
        parse_error: Some("未知的订单状态 order_status `21`".into()),
        order_modified_at: None,
        process_status: "MALFORMED".into(),
        ..version(shop, sync, "unknown-status", now)
    };
    let stored = || async {
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        raw::table
            .select((
                raw::content_hash,
                raw::normalized,
                raw::parse_error,
                raw::unreadable_raw_data,
            ))
            .first::<(String, Option<String>, Option<String>, Option<String>)>(&mut conn)
            .await
            .expect("raw order")
    };
    upsert_changed(&mut conn, &[readable("paid", 30)])
        .await
        .expect("page");

    let written = upsert_changed(&mut conn, &[unreadable()])
        .await
        .expect("page");
    assert_eq!(written.kept_beside, 1);
    assert!(written.rows.is_empty() && written.updated.is_empty());
    assert_eq!(
        stored().await,
        (
            "paid".to_owned(),
            Some("sealed normalized paid".to_owned()),
            Some("未知的订单状态 order_status `21`".to_owned()),
            Some("sealed unknown-status".to_owned()),
        )
    );

    // An order order-processor set aside keeps its reason (why it is no part of a lead, and
    // found by the readers of set-aside orders) when a later version cannot be read.
    let set_aside = "处理失败（连续 3 次）：买家合并失败";
    diesel::update(raw::table)
        .set((
            raw::process_status.eq("MALFORMED"),
            raw::parse_error.eq(Some(set_aside)),
        ))
        .execute(&mut conn)
        .await
        .expect("set aside");
    let another_unreadable = RawInsert {
        content_hash: "unknown-status-2".into(),
        raw_data: "sealed unknown-status-2".into(),
        ..unreadable()
    };
    let written = upsert_changed(&mut conn, &[another_unreadable])
        .await
        .expect("page");
    assert_eq!(written.kept_beside, 1);
    let (_, _, reason, kept) = stored().await;
    assert_eq!(
        (reason.as_deref(), kept.as_deref()),
        (Some(set_aside), Some("sealed unknown-status-2"))
    );
    diesel::update(raw::table)
        .set(raw::process_status.eq("PROCESSED"))
        .execute(&mut conn)
        .await
        .expect("processed again");

    // In one page, a readable version wins over an unreadable one whatever their order.
    let written = upsert_changed(&mut conn, &[readable("shipped", 5), unreadable()])
        .await
        .expect("page");
    assert_eq!((written.updated.len(), written.kept_beside), (1, 0));
    assert_eq!(
        stored().await,
        (
            "shipped".to_owned(),
            Some("sealed normalized shipped".to_owned()),
            None,
            None
        )
    );
}

/// An order stored unreadable (a status the adapter did not know) is read again when a later
/// sync brings the same content and the adapter now reads it: it is stored readable and
/// waits for processing, counted as updated. The same unreadable content again changes nothing.
#[tokio::test]
async fn an_order_stored_unreadable_is_replaced_once_the_same_content_reads() {
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "DOUYIN").await;
    let sync = db.sync_task(1, shop, "DOUYIN", "RUNNING").await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let now = Utc::now();
    let unreadable = || RawInsert {
        parse_error: Some("未知的订单状态 order_status `21`".into()),
        order_modified_at: None,
        process_status: "MALFORMED".into(),
        ..version(shop, sync, "same-content", now)
    };
    upsert_changed(&mut conn, &[unreadable()])
        .await
        .expect("page");
    let written = upsert_changed(&mut conn, &[unreadable()])
        .await
        .expect("page");
    assert!(written.rows.is_empty() && written.updated.is_empty());

    let readable = RawInsert {
        normalized: Some("sealed normalized".into()),
        ..version(shop, sync, "same-content", now)
    };
    let written = upsert_changed(&mut conn, &[readable]).await.expect("page");
    assert_eq!(written.updated.len(), 1);
    let stored: (Option<String>, Option<String>, String) = raw::table
        .select((raw::normalized, raw::parse_error, raw::process_status))
        .first(&mut conn)
        .await
        .expect("raw order");
    assert_eq!(
        stored,
        (Some("sealed normalized".into()), None, "PENDING".into())
    );
}
