//! A page whose write fails for a passing reason is written again, not the end of its run.

use super::*;
use diesel_async::SimpleAsyncConnection as _;

/// A page holding one version of PDD order `P-1`, modified `minutes_ago`.
fn page(minutes_ago: i64) -> OrderPage {
    let mut fetched = order("P-1");
    if let Ok(parsed) = &mut fetched.parsed {
        parsed.modified_at = Some(Utc::now() - Duration::minutes(minutes_ago));
    }
    fetched.raw = serde_json::json!({ "order_sn": "P-1", "version": minutes_ago });
    OrderPage {
        orders: vec![fetched],
        next: None,
        total: Some(1),
    }
}

/// The page's connection ends while it waits for an order's row (a database restarting ends
/// every connection so): the page is written again on a new one, and the run goes on.
#[tokio::test]
async fn a_page_whose_connection_ends_mid_write_is_written_again() {
    let db = TestDb::new().await;
    let (syncer, task_row, shop) = pdd_task(&db).await;
    store_pdd_page(&syncer, &task_row, page(30)).await;
    // Another transaction holds the order's row, as an order-processor batch does.
    let mut holder = leadgen_db::conn(&db.pool).await.expect("conn");
    holder
        .batch_execute("BEGIN; SELECT id FROM t_ecom_order_raw WHERE order_id = 'P-1' FOR UPDATE")
        .await
        .expect("held");
    let end_the_waiting_connection = async {
        db.end_a_connection_waiting_for_a_lock().await;
        holder.batch_execute("COMMIT").await.expect("released");
    };
    let mut run = sync::store::RunPages::default();
    let newer = page(10);
    let write = sync::store::store_page(&syncer, &task_row, PlatformType::Pdd, &newer, &mut run);
    let (written, ()) = tokio::join!(write, end_the_waiting_connection);
    let counts = written.expect("written again on a new connection");
    assert_eq!(counts.counts.updated, 1, "{counts:?}");
    let mut conn = leadgen_db::conn(&db.pool).await.expect("conn");
    let modified: Option<DateTime<Utc>> = raw::table
        .filter(raw::platform_id.eq(shop))
        .filter(raw::order_id.eq("P-1"))
        .select(raw::order_modified_at)
        .first(&mut conn)
        .await
        .expect("stored");
    let modified = modified.expect("a modification time");
    assert!(
        modified > Utc::now() - Duration::minutes(15),
        "the newer version is stored: {modified}"
    );
}
