//! No stuck sync task: a RUNNING task whose lease expired (its worker was killed) or that never
//! started within the lease (its request was lost) is resumed with a new `SyncRequested`, and
//! failed with the reason once it has used its attempts; a task whose worker renews its lease is
//! left alone. Against the real PostgreSQL.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_ecom_sync_task as task, t_operation_log, t_outbox};
use leadgen_test_support::TestDb;
use sync_worker::recovery::{Recovered, Recovery};

/// A RUNNING task of its own shop, its lease `lease_from_now` (None: never started), created
/// `age` ago, after `attempts` runs.
async fn running(
    db: &TestDb,
    lease_from_now: Option<chrono::Duration>,
    age: chrono::Duration,
    attempts: i32,
) -> i64 {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let platform = db.active_shop(1, "JD").await;
    let now = Utc::now();
    diesel::insert_into(task::table)
        .values((
            task::tenant_id.eq(1_i64),
            task::platform_id.eq(platform),
            task::platform_type.eq("JD"),
            task::trigger_type.eq("SCHEDULED"),
            task::status.eq("RUNNING"),
            task::window_start.eq(now - chrono::Duration::days(1)),
            task::window_end.eq(now),
            task::sync_time.eq(now - age),
            task::lease_until.eq(lease_from_now.map(|d| now + d)),
            task::attempts.eq(attempts),
        ))
        .returning(task::id)
        .get_result(&mut conn)
        .await
        .expect("insert task")
}

async fn state(db: &TestDb, id: i64) -> (String, Option<String>, Option<chrono::DateTime<Utc>>) {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    task::table
        .find(id)
        .select((task::status, task::error_message, task::lease_until))
        .get_result(&mut conn)
        .await
        .expect("task")
}

/// The sync tasks the outbox will request, by id.
async fn requested(db: &TestDb) -> Vec<i64> {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let payloads: Vec<serde_json::Value> = t_outbox::table
        .filter(t_outbox::routing_key.eq("sync.requested.v1"))
        .select(t_outbox::payload)
        .load::<String>(&mut conn)
        .await
        .expect("outbox")
        .iter()
        .map(|p| serde_json::from_str(p).expect("an event's JSON"))
        .collect();
    let mut ids: Vec<i64> = payloads
        .iter()
        .filter_map(|p| p["data"]["syncTaskId"].as_i64())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn expired_leases_are_resumed_or_failed_and_live_ones_are_left_alone() {
    let db = TestDb::new().await;
    let minutes = chrono::Duration::minutes;
    let expired = running(&db, Some(-minutes(1)), minutes(30), 1).await;
    let lost = running(&db, None, minutes(30), 0).await;
    let exhausted = running(&db, Some(-minutes(1)), minutes(90), 3).await;
    let alive = running(&db, Some(minutes(5)), minutes(30), 1).await;
    let just_requested = running(&db, None, minutes(1), 0).await;
    let recovery = Recovery {
        pool: db.pool.clone(),
        lease: minutes(10),
        max_attempts: 3,
        interval: Duration::from_secs(60),
    };

    let done = recovery.recover_once().await.expect("recovery");
    assert_eq!(
        done,
        Recovered {
            resumed: 2,
            failed: 1
        }
    );
    assert_eq!(requested(&db).await, vec![expired, lost]);
    for id in [expired, lost] {
        let (status, _, lease) = state(&db, id).await;
        assert_eq!(status, "RUNNING");
        assert!(
            lease.is_some_and(|l| l > Utc::now()),
            "{id}: the lease is held again"
        );
    }
    let (status, error, _) = state(&db, exhausted).await;
    assert_eq!(status, "FAILED");
    assert!(error.unwrap_or_default().contains("已尝试 3 次"));
    for id in [alive, just_requested] {
        assert_eq!(state(&db, id).await.0, "RUNNING");
    }
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let actions: Vec<String> = t_operation_log::table
        .order(t_operation_log::id.asc())
        .select(t_operation_log::action)
        .load(&mut conn)
        .await
        .expect("operation log");
    assert_eq!(actions, vec!["SYNC_RESUME", "SYNC_RESUME", "SYNC_RUN"]);

    // The resumed tasks hold their lease again: the next pass leaves them to their new request.
    let again = recovery.recover_once().await.expect("recovery");
    assert_eq!(again, Recovered::default());
    assert_eq!(requested(&db).await.len(), 2);
}

/// A task this build cannot read (a platform a newer build added, seen during a rollout) is
/// left for a replica that can, and does not stop the pass for the others.
#[tokio::test]
async fn a_task_this_build_cannot_read_is_left_and_the_others_are_resumed() {
    let db = TestDb::new().await;
    let minutes = chrono::Duration::minutes;
    let unknown = running(&db, Some(-minutes(1)), minutes(30), 1).await;
    let ordinary = running(&db, Some(-minutes(1)), minutes(30), 1).await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::update(task::table.find(unknown))
        .set(task::platform_type.eq("ALIEXPRESS"))
        .execute(&mut conn)
        .await
        .expect("a platform this build does not know");
    let recovery = Recovery {
        pool: db.pool.clone(),
        lease: minutes(10),
        max_attempts: 3,
        interval: Duration::from_secs(60),
    };
    let done = recovery.recover_once().await.expect("recovery");
    assert_eq!(
        done,
        Recovered {
            resumed: 1,
            failed: 0
        }
    );
    assert_eq!(requested(&db).await, vec![ordinary]);
    let (status, _, lease) = state(&db, unknown).await;
    assert_eq!(status, "RUNNING");
    assert!(
        lease.is_some_and(|l| l < Utc::now()),
        "left as it was, for a replica that reads it"
    );
}

/// A task whose requests no run starts (they wait behind a long queue, or are lost) is sent
/// again after a lease, then after two, four, eight, up to two hours: not one more duplicate
/// per lease in that queue for as long as it holds them. A run that starts the task sets the
/// count back: its worker dying later is resumed after a lease again.
#[tokio::test]
async fn requests_that_no_run_starts_are_sent_again_less_and_less_often() {
    let db = TestDb::new().await;
    let minutes = chrono::Duration::minutes;
    let waiting = running(&db, None, minutes(30), 0).await;
    let recovery = Recovery {
        pool: db.pool.clone(),
        lease: minutes(10),
        max_attempts: 3,
        interval: Duration::from_secs(60),
    };
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let mut hold_out = async || {
        let now = Utc::now();
        let (_, _, lease) = state(&db, waiting).await;
        let held = lease.expect("held") - now;
        // Time passes: the hold runs out.
        diesel::update(task::table.find(waiting))
            .set(task::lease_until.eq(now - chrono::Duration::seconds(1)))
            .execute(&mut conn)
            .await
            .expect("the hold runs out");
        (held + chrono::Duration::seconds(30)).num_minutes()
    };
    let mut holds = Vec::new();
    for _ in 0..6 {
        let done = recovery.recover_once().await.expect("recovery");
        assert_eq!(done.resumed, 1);
        holds.push(hold_out().await);
    }
    assert_eq!(holds, [10, 20, 40, 80, 120, 120]);
    assert_eq!(requested(&db).await, vec![waiting; 6]);

    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let started = sync_worker::repo::tasks::start(
        &mut conn,
        leadgen_domain::SyncTaskId::new(waiting),
        minutes(10),
        "m-1",
    )
    .await
    .expect("start");
    assert!(started.is_some());
    hold_out().await;
    assert_eq!(
        recovery.recover_once().await.expect("recovery").resumed,
        1,
        "its worker died"
    );
    assert_eq!(hold_out().await, 10);
}

/// Every task recovery resumes or fails has a trace of its own (the loop's span lives as long as
/// the process): the resumed sync runs under it, and the operation log says which.
#[tokio::test(flavor = "current_thread")]
async fn every_recovered_task_has_a_trace_of_its_own() {
    use tracing::Instrument as _;
    let _traces = leadgen_test_support::with_trace_ids();
    let db = TestDb::new().await;
    let minutes = chrono::Duration::minutes;
    running(&db, Some(-minutes(1)), minutes(30), 1).await;
    running(&db, None, minutes(30), 0).await;
    running(&db, Some(-minutes(1)), minutes(90), 3).await;
    let recovery = Recovery {
        pool: db.pool.clone(),
        lease: minutes(10),
        max_attempts: 3,
        interval: Duration::from_secs(60),
    };
    let the_loop = tracing::info_span!("recovery");
    let loop_trace = the_loop.in_scope(leadgen_telemetry::current_trace_id);
    recovery
        .recover_once()
        .instrument(the_loop)
        .await
        .expect("recovery");
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let traces: Vec<Option<String>> = t_operation_log::table
        .select(t_operation_log::trace_id)
        .load(&mut conn)
        .await
        .expect("operation log");
    let traces: std::collections::HashSet<String> = traces.into_iter().flatten().collect();
    assert_eq!(traces.len(), 3, "one trace each: {traces:?}");
    assert!(!traces.contains(&loop_trace), "{traces:?}");
    assert!(!traces.contains(&"0".repeat(32)), "{traces:?}");
}
