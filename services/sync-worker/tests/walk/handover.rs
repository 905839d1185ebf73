//! A sync whose process stops mid-walk (SIGTERM: a rollout, a scale-down) is handed on to
//! another worker without spending an attempt, unless it was cancelled meanwhile.

use super::*;

/// A Douyin task of three one-order pages, walked by a handler whose process stops while the
/// platform answers the second page (after `hold` lets it, when given): the handler, its stop,
/// the task, the shop and the task's first request.
async fn stopping(
    db: &TestDb,
    hold: Option<std::sync::Arc<Hold>>,
) -> (
    sync_worker::handler::SyncRequestedHandler,
    tokio_util::sync::CancellationToken,
    tasks::TaskRow,
    i64,
    leadgen_events::CloudEvent<leadgen_events::SyncRequestedV1>,
) {
    let stop = tokio_util::sync::CancellationToken::new();
    let platform = std::sync::Arc::new(LateChange {
        orders: Mutex::new((1..=3).map(|n| format!("o-{n}")).collect()),
        stop_at: Some((1, stop.clone())),
        hold,
        ..Default::default()
    });
    let (syncer, task_row, shop) = douyin_walk(db, platform).await;
    let handler = sync_worker::handler::SyncRequestedHandler {
        syncer: Syncer {
            stop: stop.clone(),
            ..syncer
        },
        ack_after: std::time::Duration::from_secs(1200),
        room: sync_worker::handler::Room::new(8, std::time::Duration::from_secs(60)),
    };
    let first = leadgen_events::CloudEvent::new(
        "sync-worker-test",
        TenantId::new(1),
        leadgen_events::SyncRequestedV1 {
            sync_task_id: task_row.id,
            platform_id: PlatformId::new(shop),
            platform_type: PlatformType::Douyin,
            trigger: leadgen_domain::SyncTrigger::Manual,
            window_start: task_row.window_start,
            window_end: task_row.window_end,
            requested_by: None,
        },
    );
    (handler, stop, task_row, shop, first)
}

/// A task's status and the attempts counted.
async fn status_and_attempts(conn: &mut diesel_async::AsyncPgConnection, id: i64) -> (String, i32) {
    task::table
        .find(id)
        .select((task::status, task::attempts))
        .first(conn)
        .await
        .expect("task")
}

/// `event` as the broker delivers it the first time.
fn incoming(
    event: &leadgen_events::CloudEvent<leadgen_events::SyncRequestedV1>,
) -> leadgen_messaging::Incoming {
    leadgen_messaging::Incoming {
        body: serde_json::to_vec(event).expect("event"),
        message_id: Some(event.id.to_string()),
        exchange: "leadgen.events".into(),
        routing_key: leadgen_events::routing::SYNC_REQUESTED_V1.into(),
        headers: Default::default(),
        delivery_count: 0,
        redelivered: false,
        early_ack: Default::default(),
    }
}

/// A sync whose process stops (a scale-down, a rollout) stops between pages, keeps what it
/// stored, and goes on elsewhere at once without spending one of the task's attempts: the
/// platform call it waited on is dropped, the claim released, and a new request for the task
/// written to the outbox beside the operation log's resume, in one transaction. That request
/// then runs the task to its end.
#[tokio::test]
async fn a_sync_whose_process_stops_is_handed_on_without_spending_an_attempt() {
    use leadgen_db::schema::{t_operation_log as oplog, t_outbox as outbox};
    use leadgen_events::{CloudEvent, SyncRequestedV1};
    use leadgen_messaging::{Handler as _, Outcome};

    let db = TestDb::new().await;
    let (handler, stop, task_row, shop, first) = stopping(&db, None).await;
    let handled = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        handler.handle(incoming(&first)),
    )
    .await
    .expect("the run stops instead of waiting on the platform");
    assert_eq!(handled, Outcome::Ack);
    assert!(stop.is_cancelled());

    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let (status, attempts, claim, lease): (String, i32, Option<String>, Option<DateTime<Utc>>) =
        task::table
            .find(task_row.id.get())
            .select((
                task::status,
                task::attempts,
                task::claimed_by,
                task::lease_until,
            ))
            .first(&mut conn)
            .await
            .expect("task");
    assert_eq!((status.as_str(), attempts, claim), ("RUNNING", 0, None));
    assert!(
        lease.is_some_and(|l| l > Utc::now() + Duration::minutes(5)),
        "held for the request on its way, not resumed by recovery meanwhile: {lease:?}"
    );
    let stored: i64 = raw::table
        .filter(raw::platform_id.eq(shop))
        .count()
        .get_result(&mut conn)
        .await
        .expect("stored");
    assert_eq!(stored, 1, "the page answered before the stop is kept");
    let resumes: Vec<String> = oplog::table
        .filter(oplog::action.eq(leadgen_domain::audit::AuditAction::SyncResume.as_str()))
        .select(oplog::result)
        .load(&mut conn)
        .await
        .expect("log");
    assert_eq!(resumes.len(), 1, "{resumes:?}");
    let requests: Vec<String> = outbox::table
        .filter(outbox::routing_key.eq(leadgen_events::routing::SYNC_REQUESTED_V1))
        .select(outbox::payload)
        .load(&mut conn)
        .await
        .expect("outbox");
    let [request] = requests.as_slice() else {
        panic!("one request hands the task on: {requests:?}");
    };
    let resumed: CloudEvent<SyncRequestedV1> = serde_json::from_str(request).expect("a request");
    assert_eq!(resumed.data.sync_task_id, task_row.id);
    assert_ne!(resumed.id, first.id);
    // The first request again (redelivered) is done; the new one runs the task to its end.
    assert_eq!(handler.handle(incoming(&first)).await, Outcome::Ack);
    let handler = sync_worker::handler::SyncRequestedHandler {
        syncer: Syncer {
            stop: tokio_util::sync::CancellationToken::new(),
            ..handler.syncer
        },
        ..handler
    };
    assert_eq!(handler.handle(incoming(&resumed)).await, Outcome::Ack);
    let (status, attempts) = status_and_attempts(&mut conn, task_row.id.get()).await;
    assert_eq!((status.as_str(), attempts), ("COMPLETED", 1));
}

/// A sync cancelled while the platform answers, its process stopping before the answer: the
/// task is not handed on (it no longer runs under the run's claim); the run ends as cancelled,
/// its end in the operation log as for any cancelled sync.
#[tokio::test]
async fn a_sync_cancelled_as_its_process_stops_ends_cancelled_not_handed_on() {
    use leadgen_db::schema::{t_operation_log as oplog, t_outbox as outbox};
    use leadgen_messaging::{Handler as _, Outcome};

    let db = TestDb::new().await;
    let hold = std::sync::Arc::new(Hold::default());
    let (handler, _stop, task_row, _, first) = stopping(&db, Some(hold.clone())).await;
    let handled = tokio::spawn(async move { handler.handle(incoming(&first)).await });
    hold.reached.notified().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::update(task::table.find(task_row.id.get()))
        .set((
            task::status.eq("CANCELLED"),
            task::finished_at.eq(Utc::now()),
        ))
        .execute(&mut conn)
        .await
        .expect("cancelled");
    hold.go.notify_one();
    let handled = tokio::time::timeout(std::time::Duration::from_secs(30), handled)
        .await
        .expect("the run stops")
        .expect("the handler");
    assert_eq!(handled, Outcome::Ack);
    let (status, attempts) = status_and_attempts(&mut conn, task_row.id.get()).await;
    assert_eq!((status.as_str(), attempts), ("CANCELLED", 1));
    let actions: Vec<String> = oplog::table
        .select(oplog::action)
        .load(&mut conn)
        .await
        .expect("log");
    assert_eq!(actions, ["SYNC_RUN"], "its end, and no resume");
    let requests: i64 = outbox::table
        .filter(outbox::routing_key.eq(leadgen_events::routing::SYNC_REQUESTED_V1))
        .count()
        .get_result(&mut conn)
        .await
        .expect("outbox");
    assert_eq!(requests, 0, "not handed on");
}

/// A process runs at most `max_running` syncs. A request that finds no room within
/// `defer_after` goes back to the queue as a new request, and is itself done; a claim it held (a
/// redelivery after its worker died) is released for the new request, without an attempt spent.
/// A duplicate (its task held by another request's live run) is done at once, not sent round.
#[tokio::test]
async fn a_request_without_room_to_run_goes_back_to_the_queue() {
    use leadgen_db::schema::t_outbox as outbox;
    use leadgen_events::{CloudEvent, SyncRequestedV1};
    use leadgen_messaging::{Handler as _, Outcome};

    let db = TestDb::new().await;
    let hold = std::sync::Arc::new(Hold::default());
    let (handler, _stop, _task, _shop, first) = stopping(&db, Some(hold.clone())).await;
    let handler = sync_worker::handler::SyncRequestedHandler {
        room: sync_worker::handler::Room::new(1, std::time::Duration::from_millis(200)),
        ..handler
    };
    // Another shop's task, held by a request whose worker died: here it comes again.
    let other_shop = db.active_shop(1, "DOUYIN").await;
    let other = db.sync_task(1, other_shop, "DOUYIN", "RUNNING").await;
    let redelivered = CloudEvent::new(
        "sync-worker-test",
        TenantId::new(1),
        SyncRequestedV1 {
            sync_task_id: leadgen_domain::SyncTaskId::new(other),
            platform_id: PlatformId::new(other_shop),
            ..first.data.clone()
        },
    );
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::update(task::table.find(other))
        .set((
            task::claimed_by.eq(format!("{} dead-run", redelivered.id)),
            task::started_at.eq(Utc::now() - Duration::minutes(1)),
            task::lease_until.eq(Utc::now() + Duration::minutes(9)),
            task::attempts.eq(1),
        ))
        .execute(&mut conn)
        .await
        .expect("claimed");
    let duplicate = CloudEvent::new("sync-worker-test", TenantId::new(1), first.data.clone());
    let (running, (deferred, duplicated)) = tokio::join!(handler.handle(incoming(&first)), async {
        // The first run holds the one place while the platform answers its second page.
        hold.reached.notified().await;
        let deferred = handler.handle(incoming(&redelivered)).await;
        // Bounded only against a hang: a duplicate that waited for room would be deferred
        // after 200 ms, and its request is what the count of requests below refuses.
        let duplicated = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            handler.handle(incoming(&duplicate)),
        )
        .await
        .expect("a duplicate does not wait for room");
        hold.go.notify_one();
        (deferred, duplicated)
    });
    assert_eq!(
        (running, deferred, duplicated),
        (Outcome::Ack, Outcome::Ack, Outcome::Ack)
    );

    let requests: Vec<String> = outbox::table
        .filter(outbox::routing_key.eq(leadgen_events::routing::SYNC_REQUESTED_V1))
        .order(outbox::id.asc())
        .select(outbox::payload)
        .load(&mut conn)
        .await
        .expect("outbox");
    // The deferred request, then the first run's hand-on when its process stopped; nothing for
    // the duplicate.
    assert_eq!(requests.len(), 2, "{requests:?}");
    let again: CloudEvent<SyncRequestedV1> = serde_json::from_str(&requests[0]).expect("request");
    assert_eq!(again.data.sync_task_id.get(), other);
    assert_ne!(again.id, redelivered.id);
    assert!(
        leadgen_outbox::is_processed(&mut conn, "sync-worker", &redelivered.id.to_string())
            .await
            .expect("ledger"),
        "the deferred request is done"
    );
    // The dead run's claim is gone, its attempt kept, and the new request may take the task.
    let (claim, attempts): (Option<String>, i32) = task::table
        .find(other)
        .select((task::claimed_by, task::attempts))
        .first(&mut conn)
        .await
        .expect("task");
    assert_eq!((claim, attempts), (None, 1));
    assert!(
        tasks::claimable(
            &mut conn,
            leadgen_domain::SyncTaskId::new(other),
            &again.id.to_string()
        )
        .await
        .expect("claimable")
    );
}

/// A request naming another platform or shop than its task (a producer's mistake, a hand-edited
/// replay) is refused to the dead-letter queue: the shop's credentials are never signed into
/// another platform's calls, and nothing is fetched or claimed.
#[tokio::test]
async fn a_request_naming_another_platform_than_its_task_is_refused() {
    use leadgen_messaging::{Handler as _, Outcome};

    let db = TestDb::new().await;
    let (handler, _stop, task_row, shop, first) = stopping(&db, None).await;
    for (platform_id, platform_type) in [
        (PlatformId::new(shop), PlatformType::Taobao),
        (PlatformId::new(shop + 1), PlatformType::Douyin),
    ] {
        let wrong = leadgen_events::CloudEvent::new(
            "sync-worker-test",
            TenantId::new(1),
            leadgen_events::SyncRequestedV1 {
                platform_id,
                platform_type,
                ..first.data.clone()
            },
        );
        let outcome = handler.handle(incoming(&wrong)).await;
        assert!(
            matches!(&outcome, Outcome::Reject(why) if why.contains("the request names")),
            "{outcome:?}"
        );
    }
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let (claim, pages): (Option<String>, i32) = task::table
        .find(task_row.id.get())
        .select((task::claimed_by, task::pages_fetched))
        .first(&mut conn)
        .await
        .expect("task");
    assert_eq!((claim, pages), (None, 0), "nothing claimed or fetched");
}

/// A tenant runs at most its share of syncs at once, across replicas: a merchant backfilling
/// twenty shops took nearly every place for hours while other tenants' scheduled syncs waited
/// behind them. Counted and claimed under the tenant's lock: over its share, the claim is
/// refused; another tenant's is not; once a run ends (its lease gone), the next is claimed.
/// Through the handler, a request over its tenant's share goes back to the queue with the task
/// left unclaimed, published `defer_after` later: it holds neither a place nor its delivery
/// meanwhile.
#[tokio::test]
async fn a_tenant_over_its_share_of_running_syncs_waits_and_others_do_not() {
    use leadgen_db::schema::t_outbox as outbox;
    use leadgen_domain::SyncTaskId;
    use leadgen_messaging::{Handler as _, Outcome};
    use sync_worker::repo::tasks::Start;

    let db = TestDb::new().await;
    let (handler, _stop, running, _shop, first) = stopping(&db, None).await;
    let handler = sync_worker::handler::SyncRequestedHandler {
        room: sync_worker::handler::Room::new(8, std::time::Duration::from_millis(300))
            .with_per_tenant(1),
        ..handler
    };
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    // Tenant 1's first sync runs on some replica.
    diesel::update(task::table.find(running.id.get()))
        .set((
            task::claimed_by.eq(format!("{} live-run", first.id)),
            task::started_at.eq(Utc::now()),
            task::lease_until.eq(Utc::now() + Duration::minutes(9)),
        ))
        .execute(&mut conn)
        .await
        .expect("claimed");
    let second_shop = db.active_shop(1, "DOUYIN").await;
    let second = SyncTaskId::new(db.sync_task(1, second_shop, "DOUYIN", "RUNNING").await);
    let other_shop = db.active_shop(2, "DOUYIN").await;
    let other = SyncTaskId::new(db.sync_task(2, other_shop, "DOUYIN", "RUNNING").await);
    let lease = Duration::minutes(10);
    let tenant = |t: i64| TenantId::new(t);

    assert_eq!(
        tasks::start_within(&mut conn, (tenant(1), second), 1, lease, "m-2")
            .await
            .expect("start"),
        Start::TenantFull
    );
    assert!(matches!(
        tasks::start_within(&mut conn, (tenant(2), other), 1, lease, "m-3")
            .await
            .expect("start"),
        Start::Claimed(_)
    ));

    // Through the handler: deferred, the task left to the new request, the request published
    // `defer_after` later.
    let request = leadgen_events::CloudEvent::new(
        "sync-worker-test",
        TenantId::new(1),
        leadgen_events::SyncRequestedV1 {
            sync_task_id: second,
            platform_id: PlatformId::new(second_shop),
            ..first.data.clone()
        },
    );
    assert_eq!(handler.handle(incoming(&request)).await, Outcome::Ack);
    let requests: Vec<(String, chrono::DateTime<Utc>, Option<chrono::DateTime<Utc>>)> =
        outbox::table
            .filter(outbox::routing_key.eq(leadgen_events::routing::SYNC_REQUESTED_V1))
            .select((outbox::payload, outbox::created_at, outbox::not_before))
            .load(&mut conn)
            .await
            .expect("outbox");
    assert_eq!(requests.len(), 1, "sent back to the queue: {requests:?}");
    let (_, created, not_before) = &requests[0];
    let delayed = not_before.map(|at| at - *created);
    assert!(
        delayed.is_some_and(|d| d >= Duration::milliseconds(290)),
        "published defer_after (300 ms) later: {delayed:?}"
    );
    let claim: Option<String> = task::table
        .find(second.get())
        .select(task::claimed_by)
        .first(&mut conn)
        .await
        .expect("task");
    assert_eq!(claim, None, "not run");

    // The first run ends (its lease gone): the next of tenant 1 is claimed.
    diesel::update(task::table.find(running.id.get()))
        .set(task::lease_until.eq(Utc::now() - Duration::seconds(1)))
        .execute(&mut conn)
        .await
        .expect("ended");
    assert!(matches!(
        tasks::start_within(&mut conn, (tenant(1), second), 1, lease, "m-4")
            .await
            .expect("start"),
        Start::Claimed(_)
    ));
}

/// A sync that ended with a warning (a window short of the platform's total, unreadable
/// orders, history the platform no longer serves) logged a clean-looking `SYNC_RUN`: its
/// detail carried the counts only. It carries the warning and where the platform's history
/// began, as the sync record does.
#[tokio::test]
async fn a_sync_runs_log_entry_carries_its_warning() {
    use leadgen_db::schema::t_operation_log as log;
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "DOUYIN").await;
    let id = db.sync_task(1, shop, "DOUYIN", "COMPLETED").await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let served = Utc::now() - Duration::days(89);
    diesel::update(task::table.find(id))
        .set((
            task::warning.eq(Some("平台称共 4 笔，多次读取只得到 3 笔")),
            task::served_from.eq(Some(served)),
        ))
        .execute(&mut conn)
        .await
        .expect("warned");
    let ids = (
        TenantId::new(1),
        leadgen_domain::SyncTaskId::new(id),
        PlatformId::new(shop),
    );
    sync_worker::repo::audit::log(
        &mut conn,
        ids,
        leadgen_domain::audit::AuditAction::SyncRun,
        Ok(()),
        "trace",
    )
    .await
    .expect("logged");
    let detail: Option<serde_json::Value> = log::table
        .select(log::detail)
        .first(&mut conn)
        .await
        .expect("entry");
    let detail = detail.expect("a detail");
    assert_eq!(detail["warning"], "平台称共 4 笔，多次读取只得到 3 笔");
    assert!(detail["servedFrom"].is_string(), "{detail}");
    assert_eq!(detail["status"], "COMPLETED");
}
