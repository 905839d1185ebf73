//! A background task that stops before the process does (it panicked, or its loop returned)
//! stops the process with an error: left alone, the pod would stay live and ready without its
//! scheduler, sweep or relay, and the gauges that task sampled would freeze.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::sync::Arc;
use std::time::Duration;

use leadgen_runtime::{Background, Dependencies, Process, RunError};
use leadgen_test_support::TestDb;
use tokio_util::sync::CancellationToken;

async fn run_with(db: &TestDb, task: Background) -> (Result<(), RunError>, CancellationToken) {
    let server = actix_web::HttpServer::new(actix_web::App::new)
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind")
        .run();
    let process = Process {
        server,
        dependencies: Arc::new(Dependencies::new(db.pool.clone(), None, false)),
        broker: None,
        relay: None,
        consumer: None,
        background: vec![
            task,
            Background::new("waits_for_the_stop", |stop: CancellationToken| async move {
                stop.cancelled().await;
            }),
        ],
    };
    let shutdown = CancellationToken::new();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        process.run_until_stopped(shutdown.clone()),
    )
    .await
    .expect("the process stops on its own");
    (result, shutdown)
}

#[tokio::test]
async fn a_background_task_that_panics_stops_the_process_with_its_name() {
    let db = TestDb::new().await;
    let (result, shutdown) = run_with(
        &db,
        Background::new("panics", |_| async { panic!("a bug in a loop") }),
    )
    .await;
    assert!(shutdown.is_cancelled());
    let Err(error) = result else {
        panic!("a panicked task is an error");
    };
    assert!(
        matches!(error, RunError::TaskFailed { task: "panics", .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_background_task_whose_loop_returns_stops_the_process() {
    let db = TestDb::new().await;
    let (result, shutdown) = run_with(&db, Background::new("returns", |_| async {})).await;
    assert!(shutdown.is_cancelled());
    assert!(
        matches!(result, Err(RunError::TaskEnded("returns"))),
        "{result:?}"
    );
}

#[tokio::test]
async fn tasks_that_end_at_the_stop_are_no_error() {
    let db = TestDb::new().await;
    // The first task fires the shutdown itself, as a signal would, and then ends with it.
    let (result, _) = run_with(
        &db,
        Background::new(
            "stops_the_process",
            move |shutdown: CancellationToken| async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                shutdown.cancel();
            },
        ),
    )
    .await;
    assert!(result.is_ok(), "{result:?}");
}
