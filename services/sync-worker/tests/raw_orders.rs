//! Storing what a walk read: a version of an order older than the one stored (read before a
//! change, or served by a lagging replica) never replaces it. Against the real PostgreSQL.

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
    let sync: i64 = diesel::insert_into(task::table)
        .values((
            task::tenant_id.eq(1_i64),
            task::platform_id.eq(shop),
            task::platform_type.eq("DOUYIN"),
            task::trigger_type.eq("MANUAL"),
            task::status.eq("RUNNING"),
            task::window_start.eq(now - Duration::days(1)),
            task::window_end.eq(now),
        ))
        .returning(task::id)
        .get_result(&mut conn)
        .await
        .expect("task");
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
