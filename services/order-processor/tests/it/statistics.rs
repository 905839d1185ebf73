//! Planner statistics are refreshed where autovacuum does not keep them: a table whose rows
//! changed past autovacuum's analyze threshold is due, and no longer once analyzed.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_test_support::TestDb;
use order_processor::statistics;

#[tokio::test]
async fn a_table_changed_past_the_threshold_is_analyzed_and_then_no_longer_due() {
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.unwrap();
    let table = "public.t_processed_message";
    // Analyzed once empty, as migrations leave a table; then 500 rows, past the threshold of
    // 50 + 10 % of none.
    diesel::sql_query(format!("ANALYZE {table}"))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query(
        "INSERT INTO t_processed_message (consumer, message_id) \
         SELECT 'stats-test', g::text FROM generate_series(1, 500) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // A backend reports its table counters when its transaction ends, within a second.
    let mut due = Vec::new();
    for _ in 0..50 {
        due = statistics::due(&mut conn, true).await.unwrap();
        if due.iter().any(|t| t.name() == table) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let found = due.iter().find(|t| t.name() == table).expect("due");
    statistics::analyze(&mut conn, found).await.unwrap();
    let analyzed: i64 = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_user_tables \
         WHERE relname = 't_processed_message' AND last_analyze IS NOT NULL",
    )
    .get_result::<Count>(&mut conn)
    .await
    .unwrap()
    .n;
    assert_eq!(analyzed, 1);
    let mut still_due = true;
    for _ in 0..50 {
        still_due = statistics::due(&mut conn, true)
            .await
            .unwrap()
            .iter()
            .any(|t| t.name() == table);
        if !still_due {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!still_due, "analyzed, the table is no longer due");
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
