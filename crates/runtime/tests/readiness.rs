//! `/readyz`'s checks: the schema this build was written against is required (a process built
//! after a migration must serve and consume nothing before `leadctl migrate`), and the broker is
//! required only by the processes that consume from it.

use std::time::Duration;

use diesel_async::RunQueryDsl as _;
use leadgen_http::server::{Check, Readiness as _, is_ready};
use leadgen_runtime::Dependencies;
use leadgen_test_support::{TestBroker, TestDb};
use tokio_util::sync::CancellationToken;

fn find(checks: &[Check], name: &str) -> Check {
    *checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} check in {checks:?}"))
}

#[tokio::test]
async fn a_database_behind_this_build_is_not_ready_until_migrated() {
    let db = TestDb::new().await;
    let deps = Dependencies::new(db.pool.clone(), None, false);
    assert!(find(&deps.check().await, "schema").up);

    // The same database before the newest migration (as a rollout that skipped the Job).
    let fresh = TestDb::new().await;
    let mut conn = leadgen_db::conn(&fresh.pool).await.expect("conn");
    diesel::sql_query("DELETE FROM __diesel_schema_migrations WHERE version = $1")
        .bind::<diesel::sql_types::Text, _>(leadgen_db::newest_migration())
        .execute(&mut conn)
        .await
        .expect("forget the newest migration");
    let behind = Dependencies::new(fresh.pool.clone(), None, true);
    let checks = behind.check().await;
    assert!(find(&checks, "database").up, "{checks:?}");
    assert!(!is_ready(&checks));
    let schema = find(&checks, "schema");
    assert!(!schema.up && schema.required, "{checks:?}");

    // A worker waits (and takes nothing) until the migration is there, then starts.
    let shutdown = CancellationToken::new();
    let waiting = tokio::spawn({
        let pool = fresh.pool.clone();
        let shutdown = shutdown.clone();
        async move { leadgen_runtime::wait_for_schema(&pool, &shutdown).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a worker started on an old schema");
    diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ($1)")
        .bind::<diesel::sql_types::Text, _>(leadgen_db::newest_migration())
        .execute(&mut conn)
        .await
        .expect("migrate");
    let started = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("started once migrated")
        .expect("join");
    assert!(started);
    assert!(find(&behind.check().await, "schema").up);

    // Shutting down while waiting ends the wait.
    diesel::sql_query("DELETE FROM __diesel_schema_migrations WHERE version = $1")
        .bind::<diesel::sql_types::Text, _>(leadgen_db::newest_migration())
        .execute(&mut conn)
        .await
        .expect("forget it again");
    shutdown.cancel();
    assert!(!leadgen_runtime::wait_for_schema(&fresh.pool, &shutdown).await);
}

#[tokio::test]
async fn a_lost_broker_is_reported_and_fails_only_a_consumer() {
    let db = TestDb::new().await;
    let broker_of_test = TestBroker::new(Vec::new());
    let broker = leadgen_messaging::Broker::connect(&broker_of_test.settings(), Vec::new())
        .await
        .expect("broker");
    let api = Dependencies::new(db.pool.clone(), Some(broker.clone()), false);
    let worker = Dependencies::new(db.pool.clone(), Some(broker.clone()), true);
    for deps in [&api, &worker] {
        assert!(deps.check().await.iter().all(|c| c.up));
    }

    broker.close().await;
    let api_checks = api.check().await;
    let broker_check = find(&api_checks, "broker");
    assert!(!broker_check.up && !broker_check.required, "{api_checks:?}");
    assert!(is_ready(&api_checks), "an API serves through its outbox");
    let worker_checks = worker.check().await;
    let broker_check = find(&worker_checks, "broker");
    assert!(
        !broker_check.up && broker_check.required,
        "{worker_checks:?}"
    );
    assert!(!is_ready(&worker_checks));
}
