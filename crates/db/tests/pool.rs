//! The pool hands out working connections: one the server closed is replaced at checkout,
//! whether or not it was idle long enough to be verified with a round trip; and only an idle
//! one costs that round trip.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::time::Duration;

use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;

#[derive(diesel::QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

async fn backend_pid(pool: &leadgen_db::DbPool) -> i32 {
    let mut conn = leadgen_db::conn(pool).await.expect("checkout");
    diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut conn)
        .await
        .expect("a working connection")
        .pid
}

async fn a_closed_connection_is_replaced(verify_idle_ms: u64) {
    let db = leadgen_test_support::TestDb::new().await;
    let mut settings = leadgen_test_support::database_settings(&db.url);
    settings.max_connections = 1;
    settings.verify_idle_ms = verify_idle_ms;
    let pool = leadgen_db::build_pool(&settings, "pool-test").expect("pool");
    let first = backend_pid(&pool).await;
    assert_eq!(
        backend_pid(&pool).await,
        first,
        "the one connection is reused"
    );

    // The server ends the pooled connection (as a restart or an administrator would).
    let mut admin = leadgen_db::conn(&db.pool).await.expect("admin");
    // Waits (up to 5 s) for the backend to have exited, however loaded the machine.
    diesel::sql_query(format!("SELECT pg_terminate_backend({first}, 5000) AS pid"))
        .execute(&mut admin)
        .await
        .expect("terminate");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let second = backend_pid(&pool).await;
    assert_ne!(second, first, "a new connection replaced the closed one");
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_without_a_verifying_round_trip() {
    a_closed_connection_is_replaced(60_000).await;
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_when_verified() {
    a_closed_connection_is_replaced(0).await;
}

#[derive(diesel::QueryableByName)]
struct Query {
    #[diesel(sql_type = diesel::sql_types::Text)]
    query: String,
}

/// The last statement the pooled connection ran, after a checkout that runs nothing, seen from
/// another connection.
async fn last_statement_after_checkout(verify_idle_ms: u64) -> String {
    let db = leadgen_test_support::TestDb::new().await;
    let mut settings = leadgen_test_support::database_settings(&db.url);
    settings.max_connections = 1;
    settings.verify_idle_ms = verify_idle_ms;
    let pool = leadgen_db::build_pool(&settings, "pool-test").expect("pool");
    let pid = backend_pid(&pool).await;
    let held = leadgen_db::conn(&pool).await.expect("checkout");
    let mut admin = leadgen_db::conn(&db.pool).await.expect("admin");
    let seen = diesel::sql_query(format!(
        "SELECT query FROM pg_stat_activity WHERE pid = {pid}"
    ))
    .get_result::<Query>(&mut admin)
    .await
    .expect("the pooled backend")
    .query;
    drop(held);
    seen
}

#[tokio::test]
async fn only_a_connection_idle_for_verify_idle_ms_is_verified_at_checkout() {
    assert_eq!(last_statement_after_checkout(0).await, "SELECT 1");
    assert_eq!(
        last_statement_after_checkout(60_000).await,
        "SELECT pg_backend_pid() AS pid",
        "a connection used a moment ago is handed out without a round trip"
    );
}

/// Readiness: a pool whose every connection is in use is up (a pod is not taken out of service
/// for being busy; the ping waits `PING_WAIT`, not the pool's 5 s, which a probe's 3 s would
/// not outlast); a database that does not answer is down.
#[tokio::test]
async fn a_busy_pool_is_ready_and_an_unreachable_database_is_not() {
    let db = leadgen_test_support::TestDb::new().await;
    let mut settings = leadgen_test_support::database_settings(&db.url);
    settings.max_connections = 1;
    let pool = leadgen_db::build_pool(&settings, "ping-test").expect("pool");
    assert!(leadgen_db::ping(&pool).await, "idle");
    let held = leadgen_db::conn(&pool).await.expect("checkout");
    assert!(leadgen_db::ping(&pool).await, "every connection in use");
    drop(held);
    let nowhere =
        leadgen_test_support::database_settings("postgres://postgres@127.0.0.1:9/leadgen_nowhere");
    let unreachable = leadgen_db::build_pool(&nowhere, "ping-test").expect("pool");
    assert!(!leadgen_db::ping(&unreachable).await);
}
