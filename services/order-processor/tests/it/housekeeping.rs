//! Housekeeping deletes the processed-message ledger and the operation log past their
//! retention, every consumer's and every tenant's, in bounded statements, and nothing younger.

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{t_contact_search_mask, t_operation_log, t_processed_message};
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
            search_masks: 3,
        }
    );
    let kept: Vec<String> = t_contact_search_mask::table
        .select(t_contact_search_mask::number_index)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, ["index-0"], "only today's");
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
