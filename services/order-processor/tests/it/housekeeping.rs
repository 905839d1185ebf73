//! Housekeeping deletes the processed-message ledger, the operation log and reveal records past
//! their retention, every consumer's and every tenant's, in bounded statements, and nothing
//! younger.

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{
    t_contact_reveal, t_contact_search_mask, t_ecom_order_raw, t_ecom_sync_task, t_operation_log,
    t_processed_message,
};
use leadgen_test_support::TestDb;
use order_processor::housekeeping::{Deleted, Housekeeping};
use tokio_util::sync::CancellationToken;

fn days(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

#[tokio::test]
async fn rows_past_their_retention_are_deleted_and_no_other() {
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.unwrap();
    let now = Utc::now();
    // Ledger entries of two consumers, 1 to 10 days old; log entries of two tenants, 10 to 400
    // days old; each an hour short of its age, away from the boundary.
    let hour = chrono::Duration::hours(1);
    for age in 1..=10_i64 {
        for consumer in ["order-processor", "sync-worker"] {
            diesel::insert_into(t_processed_message::table)
                .values((
                    t_processed_message::consumer.eq(consumer),
                    t_processed_message::message_id.eq(format!("m-{age}")),
                    t_processed_message::processed_at.eq(now - chrono::Duration::days(age) + hour),
                ))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    for age in (10..=400_i64).step_by(10) {
        for tenant in [1_i64, 2] {
            diesel::insert_into(t_operation_log::table)
                .values((
                    t_operation_log::tenant_id.eq(tenant),
                    t_operation_log::service.eq("auth-api"),
                    t_operation_log::action.eq("SYNC_REQUEST"),
                    t_operation_log::target_type.eq("SYNC_TASK"),
                    t_operation_log::target_ids.eq(vec![age.to_string()]),
                    t_operation_log::result.eq("SUCCESS"),
                    t_operation_log::occurred_at.eq(now - chrono::Duration::days(age) + hour),
                ))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    // Reveal records of two tenants, 400, 366 and 300 days old.
    for (tenant, age) in [(1_i64, 400_i64), (2, 366), (1, 300)] {
        diesel::insert_into(t_contact_reveal::table)
            .values((
                t_contact_reveal::tenant_id.eq(tenant),
                t_contact_reveal::lead_id.eq(age),
                t_contact_reveal::platform_id.eq(1_i64),
                t_contact_reveal::order_id.eq(format!("o-{age}")),
                t_contact_reveal::purpose.eq("CUSTOMER_CARE"),
                t_contact_reveal::operator_id.eq(7_i64),
                t_contact_reveal::operator_name.eq("王*"),
                t_contact_reveal::result.eq("SUCCESS"),
                t_contact_reveal::occurred_at.eq(now - chrono::Duration::days(age) + hour),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // Numbers searched behind a mask, today and on the three days before (Beijing days).
    let today = now
        .with_timezone(&leadgen_domain::time::beijing())
        .date_naive();
    for age in 0..=3_u64 {
        diesel::insert_into(t_contact_search_mask::table)
            .values((
                t_contact_search_mask::tenant_id.eq(1_i64),
                t_contact_search_mask::day.eq(today - chrono::Days::new(age)),
                t_contact_search_mask::mask.eq("139****1111"),
                t_contact_search_mask::number_index.eq(format!("index-{age}")),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let housekeeping = Housekeeping {
        pool: db.pool.clone(),
        interval: Duration::from_secs(3600),
        ledger_days: days(7),
        operation_log_days: days(180),
        sync_record_days: days(90),
        reveal_record_days: days(365),
        // Smaller than what is due, so a pass takes several statements.
        batch: days(3),
    };
    let deleted = housekeeping.pass(&CancellationToken::new()).await.unwrap();
    // Ledger: ages 8, 9, 10 of both consumers; log: ages 190..=400 of both tenants.
    let old_log = (190..=400).step_by(10).count() * 2;
    assert_eq!(
        deleted,
        Deleted {
            ledger: 6,
            operation_log: old_log,
            reveal_records: 2,
            search_masks: 3,
            sync_records: 0,
        }
    );
    let kept: Vec<String> = t_contact_search_mask::table
        .select(t_contact_search_mask::number_index)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, ["index-0"], "only today's");
    let reveals: Vec<String> = t_contact_reveal::table
        .select(t_contact_reveal::order_id)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(reveals, ["o-300"], "the reveal within its retention");
    let ledger_ages: Vec<chrono::DateTime<Utc>> = t_processed_message::table
        .select(t_processed_message::processed_at)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(ledger_ages.len(), 14);
    assert!(
        ledger_ages
            .iter()
            .all(|at| now - *at < chrono::Duration::days(7))
    );
    let log_ages: Vec<chrono::DateTime<Utc>> = t_operation_log::table
        .select(t_operation_log::occurred_at)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(log_ages.len(), (10..=180).step_by(10).count() * 2);
    assert!(
        log_ages
            .iter()
            .all(|at| now - *at < chrono::Duration::days(180))
    );
    // Nothing more is due.
    let again = housekeeping.pass(&CancellationToken::new()).await.unwrap();
    assert_eq!(again, Deleted::default());
}

/// Sync records past `sync_record_days` are deleted, every tenant's, except backfills and
/// running tasks; younger ones are kept. A raw order still naming a deleted record keeps its
/// id (a plain id since migration 57: the delete never rewrites the orders).
#[tokio::test]
async fn sync_records_past_their_retention_are_deleted_but_backfills_and_running_ones_kept() {
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.unwrap();
    let now = Utc::now();
    let mut tasks = Vec::new();
    // (tenant, trigger, status, age in days)
    for (tenant, trigger, status, age) in [
        (1_i64, "SCHEDULED", "COMPLETED", 100_i64),
        (2, "MANUAL", "FAILED", 95),
        (1, "SCHEDULED", "CANCELLED", 91),
        (1, "BACKFILL", "COMPLETED", 200),
        (2, "SCHEDULED", "RUNNING", 120),
        (1, "SCHEDULED", "COMPLETED", 89),
        (2, "MANUAL", "COMPLETED", 1),
    ] {
        let shop = db.active_shop(tenant, "TAOBAO").await;
        let id = db.sync_task(tenant, shop, "TAOBAO", status).await;
        diesel::update(t_ecom_sync_task::table.find(id))
            .set((
                t_ecom_sync_task::trigger_type.eq(trigger),
                t_ecom_sync_task::sync_time.eq(now - chrono::Duration::days(age)),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
        tasks.push((id, shop));
    }
    // An order last fetched by the oldest scheduled sync, never changed since.
    let (fetched_by, shop) = tasks[0];
    diesel::insert_into(t_ecom_order_raw::table)
        .values((
            t_ecom_order_raw::tenant_id.eq(1_i64),
            t_ecom_order_raw::platform_id.eq(shop),
            t_ecom_order_raw::platform_type.eq("TAOBAO"),
            t_ecom_order_raw::order_id.eq("o-1"),
            t_ecom_order_raw::raw_data.eq("{}"),
            t_ecom_order_raw::content_hash.eq("h"),
            t_ecom_order_raw::sync_task_id.eq(fetched_by),
            t_ecom_order_raw::process_status.eq("PROCESSED"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let housekeeping = Housekeeping {
        pool: db.pool.clone(),
        interval: Duration::from_secs(3600),
        ledger_days: days(7),
        operation_log_days: days(180),
        sync_record_days: days(90),
        reveal_record_days: days(365),
        batch: days(2),
    };
    let deleted = housekeeping.pass(&CancellationToken::new()).await.unwrap();
    assert_eq!(deleted.sync_records, 3, "{deleted:?}");
    let mut kept: Vec<i64> = t_ecom_sync_task::table
        .select(t_ecom_sync_task::id)
        .load(&mut conn)
        .await
        .unwrap();
    kept.sort_unstable();
    let expected: Vec<i64> = tasks[3..].iter().map(|(id, _)| *id).collect();
    assert_eq!(
        kept, expected,
        "the backfill, the running task and the young ones"
    );
    let named: i64 = t_ecom_order_raw::table
        .select(t_ecom_order_raw::sync_task_id)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(named, fetched_by);
    assert_eq!(
        housekeeping.pass(&CancellationToken::new()).await.unwrap(),
        Deleted::default()
    );
}
