//! Migrations wait for a table's lock only briefly, then try again: a migration queued for an
//! `ALTER TABLE` behind one long transaction must not make every other query of that table
//! queue behind it.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection as _, RunQueryDsl};

/// A migration made pending again: `undo` (its own down) run, and its row forgotten.
async fn unapply(db: &leadgen_test_support::TestDb, version: &str, undo: &str) {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    for sql in [
        undo.to_owned(),
        format!("DELETE FROM __diesel_schema_migrations WHERE version = '{version}'"),
    ] {
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .expect("unapply");
    }
}

/// Migration 54 made pending again: its column dropped and its row forgotten.
async fn with_migration_54_pending(db: &leadgen_test_support::TestDb) {
    unapply(
        db,
        "20261207000054",
        "ALTER TABLE t_ecom_platform_auth DROP COLUMN activated_at",
    )
    .await;
}

#[tokio::test]
async fn a_migration_behind_a_long_transaction_lets_other_queries_through_then_applies() {
    let db = leadgen_test_support::TestDb::new().await;
    with_migration_54_pending(&db).await;

    // A long reader: holds the table's shared lock for 12 s.
    let mut reader = leadgen_db::connect(&db.url).await.expect("reader");
    let held = tokio::spawn(async move {
        reader
            .transaction::<(), diesel::result::Error, _>(|c| {
                Box::pin(async move {
                    diesel::sql_query("SELECT 1 FROM t_ecom_platform_auth LIMIT 1")
                        .execute(c)
                        .await?;
                    tokio::time::sleep(Duration::from_secs(12)).await;
                    Ok(())
                })
            })
            .await
            .expect("reader");
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let url = db.url.clone();
    let migrating = tokio::spawn(async move { leadgen_db::run_migrations(&url).await });
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Another reader of the table while the migration waits for its exclusive lock: it gets
    // through once the migration gives up its place, long before the long reader ends.
    let started = Instant::now();
    let mut other = leadgen_db::connect(&db.url).await.expect("other");
    diesel::sql_query("SET statement_timeout = '9s'")
        .execute(&mut other)
        .await
        .expect("timeout");
    diesel::sql_query("SELECT count(*) FROM t_ecom_platform_auth")
        .execute(&mut other)
        .await
        .expect("a reader is not queued behind the waiting migration for long");
    assert!(started.elapsed() < Duration::from_secs(9));

    held.await.expect("reader ends");
    let applied = migrating
        .await
        .expect("migration task")
        .expect("applied once the long reader ended");
    assert_eq!(applied, vec!["20261207000054".to_owned()]);
    diesel::sql_query("SELECT activated_at FROM t_ecom_platform_auth LIMIT 1")
        .execute(&mut other)
        .await
        .expect("the column is back");
}

/// A migration that builds an index CONCURRENTLY is refused while an index is invalid (a
/// concurrent build that failed leaves one, and `IF NOT EXISTS` would take it for done and
/// record the migration as applied); once it is dropped, the migration builds a valid index.
#[tokio::test]
async fn a_concurrent_index_migration_is_refused_while_an_index_is_invalid() {
    let db = leadgen_test_support::TestDb::new().await;
    let shop = db.active_shop(1, "TAOBAO").await;
    for _ in 0..2 {
        db.sync_task(1, shop, "TAOBAO", "COMPLETED").await;
    }
    unapply(
        &db,
        "20261207000058",
        "DROP INDEX ix_sync_task_finished_time",
    )
    .await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    // A failed concurrent build under the migration's own index name: the two tasks share a
    // platform type, so a unique build fails and leaves the index invalid.
    let failed = diesel::sql_query(
        "CREATE UNIQUE INDEX CONCURRENTLY ix_sync_task_finished_time ON t_ecom_sync_task (platform_type)",
    )
    .execute(&mut conn)
    .await;
    assert!(failed.is_err(), "the unique build fails");
    assert!(!index_valid(&mut conn).await);

    let refused = leadgen_db::run_migrations(&db.url)
        .await
        .expect_err("refused");
    assert!(
        refused.to_string().contains("ix_sync_task_finished_time"),
        "{refused}"
    );
    diesel::sql_query("DROP INDEX CONCURRENTLY ix_sync_task_finished_time")
        .execute(&mut conn)
        .await
        .expect("drop the invalid index");
    let applied = leadgen_db::run_migrations(&db.url).await.expect("migrate");
    assert_eq!(applied, ["20261207000058"]);
    assert!(index_valid(&mut conn).await, "built again, valid");
}

/// Whether `ix_sync_task_finished_time` is valid.
async fn index_valid(conn: &mut leadgen_db::PooledConn) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Valid {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        valid: bool,
    }
    diesel::sql_query(
        "SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = 'ix_sync_task_finished_time'",
    )
    .get_result::<Valid>(conn)
    .await
    .expect("the index")
    .valid
}

/// A migration that locks two tables in the other order than a running service (57 drops the
/// raw orders' reference to their sync task: the raw table first, then the task table; a sync
/// writing a page holds its task row, then writes raw orders) deadlocks with it, and
/// PostgreSQL cancels the migration, which waited first. It was not tried again: the Job
/// failed and the rollout stopped. It is now tried again like a lock it gave up waiting for.
#[tokio::test]
async fn a_migration_cancelled_by_a_deadlock_is_tried_again() {
    let db = leadgen_test_support::TestDb::new().await;
    unapply(
        &db,
        "20261207000057",
        "ALTER TABLE t_ecom_order_raw ADD CONSTRAINT t_ecom_order_raw_sync_task_id_fkey \
         FOREIGN KEY (sync_task_id) REFERENCES t_ecom_sync_task (id) NOT VALID",
    )
    .await;

    // A sync's page: its task first.
    let mut sync = leadgen_db::connect(&db.url).await.expect("sync");
    diesel::sql_query("BEGIN")
        .execute(&mut sync)
        .await
        .expect("begin");
    diesel::sql_query("UPDATE t_ecom_sync_task SET status = status WHERE id = -1")
        .execute(&mut sync)
        .await
        .expect("the task");

    let url = db.url.clone();
    let migrating = tokio::spawn(async move { leadgen_db::run_migrations(&url).await });
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Then its orders, behind the migration that waits for the task table: a deadlock.
    diesel::sql_query("LOCK TABLE t_ecom_order_raw IN ROW EXCLUSIVE MODE")
        .execute(&mut sync)
        .await
        .expect("the page gets through once the migration is cancelled");
    diesel::sql_query("COMMIT")
        .execute(&mut sync)
        .await
        .expect("commit");

    let applied = migrating
        .await
        .expect("migration task")
        .expect("applied when tried again");
    assert_eq!(applied, vec!["20261207000057".to_owned()]);
}
