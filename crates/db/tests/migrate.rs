//! Migrations wait for a table's lock only briefly, then try again: a migration queued for an
//! `ALTER TABLE` behind one long transaction must not make every other query of that table
//! queue behind it.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection as _, RunQueryDsl};

/// Migration 54 made pending again: its column dropped and its row forgotten.
async fn with_migration_54_pending(db: &leadgen_test_support::TestDb) {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    for sql in [
        "ALTER TABLE t_ecom_platform_auth DROP COLUMN activated_at",
        "DELETE FROM __diesel_schema_migrations WHERE version = '20261207000054'",
    ] {
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .expect("unapply");
    }
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
