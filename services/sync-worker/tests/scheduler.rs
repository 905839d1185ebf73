//! The scheduler: a shop is synced again once its last sync is older than the interval; a shop
//! whose syncs keep failing waits longer each time (`failed_sync_backoff`); a backfill that
//! failed and never completed runs again once its own wait has passed (the shop's changes are
//! synced meanwhile), a cancelled one does not. Against the real PostgreSQL.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_ecom_sync_task as task;
use leadgen_test_support::TestDb;
use sync_worker::scheduler::Scheduler;

/// A finished task of `platform`: `trigger`, `status`, requested `ago` minutes ago, covering
/// `days`.
async fn finished(db: &TestDb, platform: i64, trigger: &str, status: &str, ago: i64, days: i64) {
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let at = Utc::now() - chrono::Duration::minutes(ago);
    diesel::insert_into(task::table)
        .values((
            task::tenant_id.eq(1_i64),
            task::platform_id.eq(platform),
            task::platform_type.eq("JD"),
            task::trigger_type.eq(trigger),
            task::status.eq(status),
            task::window_start.eq(at - chrono::Duration::days(days)),
            task::window_end.eq(at),
            task::sync_time.eq(at),
        ))
        .execute(&mut conn)
        .await
        .expect("insert task");
}

/// The scheduler as configured by default: every 30 minutes, windows ending 2 minutes ago.
fn every_half_hour(db: &TestDb) -> Scheduler {
    Scheduler {
        pool: db.pool.clone(),
        interval_minutes: 30,
        tick: Duration::from_secs(60),
        settle: chrono::Duration::minutes(2),
    }
}

#[tokio::test]
async fn failing_shops_wait_longer_and_a_failed_backfill_runs_again() {
    let db = TestDb::new().await;
    let shop = |_: &str| db.active_shop(1, "JD");
    let fresh = shop("never synced").await;
    let failed_recently = shop("failed 10 min ago").await;
    finished(&db, failed_recently, "SCHEDULED", "FAILED", 10, 1).await;
    let failed_long_ago = shop("failed 40 min ago").await;
    finished(&db, failed_long_ago, "SCHEDULED", "FAILED", 40, 1).await;
    // Three failures in a row: 30 × 2² = 120 minutes.
    let failing = shop("failed thrice, last 90 min ago").await;
    for ago in [300, 200, 90] {
        finished(&db, failing, "SCHEDULED", "FAILED", ago, 1).await;
    }
    let failing_long = shop("failed thrice, last 130 min ago").await;
    for ago in [400, 300, 130] {
        finished(&db, failing_long, "SCHEDULED", "FAILED", ago, 1).await;
    }
    // So does the merchant's new consent (or resuming the shop): the failures were the old
    // grant's.
    let reauthorized = shop("failed thrice, then authorized again").await;
    for ago in [300, 200, 90] {
        finished(&db, reauthorized, "SCHEDULED", "FAILED", ago, 1).await;
    }
    {
        use leadgen_db::schema::t_ecom_platform_auth as auth;
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        diesel::update(auth::table.find(reauthorized))
            .set(auth::activated_at.eq(Some(Utc::now() - chrono::Duration::minutes(5))))
            .execute(&mut conn)
            .await
            .expect("activated");
    }
    // A completed sync ends the run of failures.
    let recovered = shop("failed, then completed").await;
    finished(&db, recovered, "SCHEDULED", "FAILED", 50, 1).await;
    finished(&db, recovered, "SCHEDULED", "FAILED", 45, 1).await;
    finished(&db, recovered, "MANUAL", "COMPLETED", 40, 1).await;
    let backfill_failed = shop("backfill failed").await;
    finished(&db, backfill_failed, "BACKFILL", "FAILED", 40, 90).await;
    let backfill_cancelled = shop("backfill cancelled").await;
    finished(&db, backfill_cancelled, "BACKFILL", "CANCELLED", 40, 90).await;
    // A backfill that failed twice, the last 50 minutes ago, waits 60 minutes before it runs
    // again; meanwhile the shop's changes are synced as usual (new orders keep arriving).
    let backfill_failing = shop("backfill failed twice").await;
    finished(&db, backfill_failing, "BACKFILL", "FAILED", 200, 90).await;
    finished(&db, backfill_failing, "BACKFILL", "FAILED", 50, 90).await;

    // A backfill that ran for hours and failed 20 minutes ago waits from its end, not from
    // when it was requested.
    let backfill_long = shop("backfill failed after hours").await;
    finished(&db, backfill_long, "BACKFILL", "FAILED", 300, 90).await;
    {
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        diesel::update(task::table.filter(task::platform_id.eq(backfill_long)))
            .set(task::finished_at.eq(Some(Utc::now() - chrono::Duration::minutes(20))))
            .execute(&mut conn)
            .await
            .expect("finished");
    }
    // Syncing now (its backfill runs): not due, so it takes no place in the batch.
    let syncing = shop("backfill running").await;
    let syncing_task = db.sync_task(1, syncing, "JD", "RUNNING").await;

    let scheduler = every_half_hour(&db);
    let created = scheduler.schedule_due().await.expect("schedule");

    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let running: Vec<(i64, String, chrono::DateTime<Utc>, chrono::DateTime<Utc>)> = task::table
        .filter(task::status.eq("RUNNING"))
        .filter(task::id.ne(syncing_task))
        .order(task::platform_id.asc())
        .select((
            task::platform_id,
            task::trigger_type,
            task::window_start,
            task::window_end,
        ))
        .load(&mut conn)
        .await
        .expect("tasks");
    let scheduled: Vec<(i64, &str)> = running.iter().map(|(p, t, ..)| (*p, t.as_str())).collect();
    assert_eq!(
        scheduled,
        vec![
            (fresh, "SCHEDULED"),
            (failed_long_ago, "SCHEDULED"),
            (failing_long, "SCHEDULED"),
            (reauthorized, "SCHEDULED"),
            (recovered, "SCHEDULED"),
            (backfill_failed, "BACKFILL"),
            (backfill_cancelled, "SCHEDULED"),
            (backfill_failing, "SCHEDULED"),
            (backfill_long, "SCHEDULED"),
        ]
    );
    assert_eq!(created, scheduled.len());
    // Each trigger is in the operation log, the system's, naming its task and shop (design 7).
    {
        use leadgen_db::schema::t_operation_log as oplog;
        let logged: Vec<(Option<i64>, String, Vec<String>)> = oplog::table
            .filter(oplog::action.eq("SYNC_REQUEST"))
            .select((oplog::operator_id, oplog::result, oplog::target_ids))
            .load(&mut conn)
            .await
            .expect("operation log");
        assert_eq!(logged.len(), created, "{logged:?}");
        for (_, _, targets) in &logged {
            let shop: i64 = targets[1]
                .trim_start_matches(leadgen_db::oplog::SHOP_BESIDE)
                .parse()
                .expect("the shop's id");
            assert!(scheduled.iter().any(|(p, _)| *p == shop), "{logged:?}");
        }
        assert!(
            logged
                .iter()
                .all(|(operator, result, _)| operator.is_none() && result == "SUCCESS"),
            "the system's: {logged:?}"
        );
    }
    let (.., start, end) = running
        .iter()
        .find(|(p, ..)| *p == backfill_failed)
        .expect("the backfill again");
    // Its 90 days count back from the request, as the first one's did; the window ends at the
    // settle before it.
    assert_eq!(
        *end - *start,
        chrono::Duration::days(90) - chrono::Duration::minutes(2),
        "the failed backfill's span"
    );
    let due = sync_worker::repo::credentials::due_for_sync(
        &mut conn,
        Utc::now(),
        chrono::Duration::minutes(30),
        100,
    )
    .await
    .expect("due");
    assert!(
        due.iter().all(|d| d.id.get() != syncing),
        "a syncing shop is not due"
    );
    // A shop paused after it was found due gets no task.
    use leadgen_db::schema::t_ecom_platform_auth as auth;
    let paused = shop("paused meanwhile").await;
    diesel::update(auth::table.find(paused))
        .set(auth::status.eq("DISABLED"))
        .execute(&mut conn)
        .await
        .expect("pause");
    let inserted = sync_worker::repo::tasks::insert_scheduled(
        &mut conn,
        leadgen_domain::TenantId::new(1),
        leadgen_domain::PlatformId::new(paused),
        "JD",
        leadgen_domain::SyncTrigger::Scheduled,
        leadgen_platforms::Listing::Modified,
        Utc::now() - chrono::Duration::hours(1)..Utc::now(),
    )
    .await
    .expect("insert");
    assert_eq!(inserted, None);
}

/// The scheduler's SQL waits exactly as the domain's rule says, failure by failure up to past
/// the cap: a shop whose last of `n` failures in a row is a little younger than
/// `failed_sync_backoff(30 min, n)` is not due, one a little older is.
#[tokio::test]
async fn the_wait_after_failures_is_the_domains_rule() {
    use leadgen_domain::sync::failed_sync_backoff;
    let db = TestDb::new().await;
    let interval = chrono::Duration::minutes(30);
    let mut waiting = Vec::new();
    let mut waited = Vec::new();
    for failures in 1..=8_u32 {
        let wait = failed_sync_backoff(interval, failures).num_minutes();
        for (ago, into) in [(wait - 3, &mut waiting), (wait + 3, &mut waited)] {
            let shop = db.active_shop(1, "JD").await;
            // `failures` in a row, the last `ago` minutes ago, each 1 minute before the next.
            for earlier in 0..i64::from(failures) {
                finished(&db, shop, "SCHEDULED", "FAILED", ago + earlier, 1).await;
            }
            into.push((failures, shop));
        }
    }
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let due: Vec<i64> =
        sync_worker::repo::credentials::due_for_sync(&mut conn, Utc::now(), interval, 100)
            .await
            .expect("due")
            .iter()
            .map(|d| d.id.get())
            .collect();
    for (failures, shop) in waiting {
        assert!(
            !due.contains(&shop),
            "{failures} failures: due before its wait"
        );
    }
    for (failures, shop) in waited {
        assert!(
            due.contains(&shop),
            "{failures} failures: not due after its wait"
        );
    }
}

/// Before its first by-modification window, a shop's changes are read from its first sync, not
/// from its last: a manual sync lists by creation time and reads no change made to an older
/// order after the backfill fetched it.
#[tokio::test]
async fn the_first_scheduled_sync_reads_changes_since_the_first_fetch() {
    use leadgen_db::schema::t_ecom_platform_auth as auth;
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "JD").await;
    finished(&db, shop, "BACKFILL", "COMPLETED", 180, 90).await;
    finished(&db, shop, "MANUAL", "COMPLETED", 40, 30).await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    diesel::update(auth::table.find(shop))
        .set(auth::last_sync_time.eq(Some(Utc::now() - chrono::Duration::minutes(40))))
        .execute(&mut conn)
        .await
        .expect("last sync");

    let scheduler = every_half_hour(&db);
    assert_eq!(scheduler.schedule_due().await.expect("schedule"), 1);
    let start: chrono::DateTime<Utc> = task::table
        .filter(task::status.eq("RUNNING"))
        .select(task::window_start)
        .first(&mut conn)
        .await
        .expect("the scheduled sync");
    let minutes_ago = (Utc::now() - start).num_minutes();
    // The backfill was requested 180 minutes ago; the overlap adds 10.
    assert!(
        (189..=191).contains(&minutes_ago),
        "starts {minutes_ago} minutes ago"
    );
}

#[tokio::test]
async fn a_backfill_cancelled_before_its_first_window_leaves_the_shop_never_synced() {
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "JD").await;
    // The merchant cancelled the backfill at once: nothing was fetched.
    finished(&db, shop, "BACKFILL", "CANCELLED", 60, 90).await;
    let scheduler = every_half_hour(&db);
    assert_eq!(scheduler.schedule_due().await.expect("schedule"), 1);
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let (start, end): (chrono::DateTime<Utc>, chrono::DateTime<Utc>) = task::table
        .filter(task::status.eq("RUNNING"))
        .select((task::window_start, task::window_end))
        .first(&mut conn)
        .await
        .expect("the scheduled sync");
    // Not the hour since the cancelled request: the first sync's 30 days.
    assert_eq!(
        (end - start).num_days(),
        leadgen_domain::sync::FIRST_SYNC_DAYS,
        "{start} – {end}"
    );
}

/// Completes the running sync and makes `shop` due again (its last sync 40 minutes ago).
async fn complete_and_make_due(conn: &mut diesel_async::AsyncPgConnection, shop: i64) {
    use leadgen_db::schema::t_ecom_platform_auth as auth;
    diesel::update(task::table.filter(task::status.eq("RUNNING")))
        .set(task::status.eq("COMPLETED"))
        .execute(conn)
        .await
        .expect("completed");
    diesel::update(auth::table.find(shop))
        .set(auth::last_sync_time.eq(Utc::now() - chrono::Duration::minutes(40)))
        .execute(conn)
        .await
        .expect("due again");
}

/// Once a day a scheduled sync reads the whole last day of changes again: a change the platform
/// recorded after the sync that read past its date is caught within a day. The next one, within
/// the day, reads from the watermark again; the next reconcile from where this one ended.
#[tokio::test]
async fn a_scheduled_sync_reads_the_last_day_again_once_a_day() {
    use leadgen_db::schema::t_ecom_platform_auth as auth;
    let db = TestDb::new().await;
    let shop = db.active_shop(1, "JD").await;
    // Backfilled three days ago, synced by modification since (watermark 20 minutes ago).
    finished(&db, shop, "BACKFILL", "COMPLETED", 3 * 24 * 60, 90).await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let stale = |minutes: i64| Some(Utc::now() - chrono::Duration::minutes(minutes));
    diesel::update(auth::table.find(shop))
        .set((
            auth::last_sync_time.eq(stale(40)),
            auth::modified_watermark.eq(stale(20)),
        ))
        .execute(&mut conn)
        .await
        .expect("synced by modification");
    let scheduler = every_half_hour(&db);
    let scheduled_window = || async {
        let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
        let (start, end): (chrono::DateTime<Utc>, chrono::DateTime<Utc>) = task::table
            .filter(task::status.eq("RUNNING"))
            .select((task::window_start, task::window_end))
            .first(&mut conn)
            .await
            .expect("the scheduled sync");
        (start, end)
    };

    assert_eq!(scheduler.schedule_due().await.expect("schedule"), 1);
    let (start, end) = scheduled_window().await;
    let overlap = chrono::Duration::hours(leadgen_domain::sync::RECONCILE_OVERLAP_HOURS);
    assert_eq!(
        end - start,
        chrono::Duration::hours(leadgen_domain::sync::RECONCILE_HOURS) + overlap,
        "the whole last day and the lateness it absorbs: {start} – {end}"
    );
    let reconcile: i64 = task::table
        .filter(task::status.eq("RUNNING"))
        .select(task::id)
        .first(&mut conn)
        .await
        .expect("the reconcile");

    // That sync completed; the next, within the day, reads from the watermark.
    complete_and_make_due(&mut conn, shop).await;
    assert_eq!(scheduler.schedule_due().await.expect("schedule"), 1);
    let (start, _) = scheduled_window().await;
    let minutes_ago = (Utc::now() - start).num_minutes();
    assert!(
        (29..=31).contains(&minutes_ago),
        "from the watermark less the overlap: {minutes_ago} minutes ago"
    );

    // A day and an hour after the reconcile: the next reads from where its window ended, less
    // the lateness it absorbs, not from a day ago (which would leave the hour between them
    // unread).
    let requested = Utc::now() - chrono::Duration::hours(25);
    let ended = requested - chrono::Duration::minutes(2);
    diesel::update(task::table.find(reconcile))
        .set((
            task::sync_time.eq(requested),
            task::window_end.eq(ended),
            task::window_start.eq(ended - chrono::Duration::hours(24)),
        ))
        .execute(&mut conn)
        .await
        .expect("reconciled a day and an hour ago");
    complete_and_make_due(&mut conn, shop).await;
    assert_eq!(scheduler.schedule_due().await.expect("schedule"), 1);
    let (start, _) = scheduled_window().await;
    let expected = ended - overlap;
    // PostgreSQL keeps microseconds.
    assert!(
        (start - expected).abs() < chrono::Duration::milliseconds(1),
        "{start} against {expected}"
    );
}

/// `leadgen_shops` (what `LeadgenShopsExpired` watches) counts shops a merchant connected, never
/// a consent nobody completed: such a row is INVALID without a shop, and no re-authorization
/// would mend it.
#[tokio::test]
async fn shop_counts_leave_out_consents_that_never_connected_a_shop() {
    use leadgen_db::schema::t_ecom_platform_auth as auth;
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let set = |id: i64, status: &'static str, token: Option<&'static str>| {
        diesel::update(auth::table.find(id))
            .set((auth::status.eq(status), auth::access_token.eq(token)))
    };
    let connected = db.active_shop(1, "JD").await;
    set(connected, "ACTIVE", Some("sealed-token"))
        .execute(&mut conn)
        .await
        .expect("connected");
    // Connected (with or without a shop id the platform named), then refused by the platform.
    let refused = db.active_shop(1, "JD").await;
    set(refused, "INVALID", Some("sealed-token"))
        .execute(&mut conn)
        .await
        .expect("refused later");
    let abandoned = db.active_shop(2, "JD").await;
    set(abandoned, "INVALID", None)
        .execute(&mut conn)
        .await
        .expect("abandoned consent");
    let pending = db.active_shop(2, "JD").await;
    set(pending, "PENDING_AUTH", None)
        .execute(&mut conn)
        .await
        .expect("pending consent");

    let counts = sync_worker::repo::credentials::count_by_status(&mut conn)
        .await
        .expect("count");
    let of = |status: &str| {
        counts
            .iter()
            .find(|(p, s, _)| p == "JD" && s == status)
            .map_or(0, |(_, _, n)| *n)
    };
    assert_eq!(of("INVALID"), 1, "{counts:?}");
    assert_eq!(of("ACTIVE"), 1, "{counts:?}");
    assert_eq!(of("PENDING_AUTH"), 1, "{counts:?}");
}

/// `leadgen_sync_watermark_lag_seconds` (what `LeadgenShopSyncBehind` watches): per platform,
/// the ACTIVE shop whose stored changes lag most, from its watermark, or from its connection
/// while it has none; a shop that is not ACTIVE, and a renewed shop's alias, do not count.
#[tokio::test]
async fn the_watermark_lag_is_the_most_behind_active_shops() {
    use leadgen_db::schema::t_ecom_platform_auth as auth;
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let ago = |minutes: i64| Utc::now() - chrono::Duration::minutes(minutes);
    let synced = db.active_shop(1, "JD").await;
    let new = db.active_shop(2, "JD").await;
    let expired = db.active_shop(1, "JD").await;
    let alias = db.active_shop(1, "JD").await;
    let douyin = db.active_shop(1, "DOUYIN").await;
    for (shop, watermark, created, status, superseded) in [
        (synced, Some(ago(10)), ago(600), "ACTIVE", None),
        (new, None, ago(180), "ACTIVE", None),
        (expired, Some(ago(900)), ago(1000), "EXPIRED", None),
        (alias, Some(ago(900)), ago(1000), "ACTIVE", Some(synced)),
        (douyin, Some(ago(5)), ago(60), "ACTIVE", None),
    ] {
        diesel::update(auth::table.find(shop))
            .set((
                auth::modified_watermark.eq(watermark),
                auth::create_time.eq(created),
                auth::status.eq(status),
                auth::superseded_by.eq(superseded),
            ))
            .execute(&mut conn)
            .await
            .expect("shop");
    }
    let mut lags = sync_worker::repo::credentials::watermark_lag(&mut conn)
        .await
        .expect("lags");
    lags.sort_by(|a, b| a.0.cmp(&b.0));
    let minutes: Vec<(&str, i64)> = lags
        .iter()
        .map(|(p, s)| (p.as_str(), (s / 60.0).round() as i64))
        .collect();
    assert_eq!(minutes, [("DOUYIN", 5), ("JD", 180)]);
}

/// Every scheduled sync runs under a trace of its own: the scheduler's loop span lives as long as
/// the process, and under it every sync of every tenant, its platform calls, events and
/// operation-log rows shared one trace id.
#[tokio::test(flavor = "current_thread")]
async fn every_scheduled_sync_has_a_trace_of_its_own() {
    use tracing::Instrument as _;
    let _traces = leadgen_test_support::with_trace_ids();
    let db = TestDb::new().await;
    let shops = [db.active_shop(1, "JD").await, db.active_shop(1, "JD").await];
    let scheduler = every_half_hour(&db);
    let the_loop = tracing::info_span!("scheduler");
    let loop_trace = the_loop.in_scope(leadgen_telemetry::current_trace_id);
    let created = scheduler
        .schedule_due()
        .instrument(the_loop)
        .await
        .expect("schedule");
    assert_eq!(created, 2);
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let traces: Vec<Option<String>> = leadgen_db::schema::t_operation_log::table
        .filter(leadgen_db::schema::t_operation_log::action.eq("SYNC_REQUEST"))
        .select(leadgen_db::schema::t_operation_log::trace_id)
        .load(&mut conn)
        .await
        .expect("operation log");
    let traces: std::collections::HashSet<String> = traces.into_iter().flatten().collect();
    assert_eq!(traces.len(), shops.len(), "one trace each: {traces:?}");
    assert!(!traces.contains(&loop_trace), "not the loop's: {traces:?}");
    assert!(!traces.contains(&"0".repeat(32)), "{traces:?}");
}
