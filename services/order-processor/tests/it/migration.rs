//! Migration 8 on a database that has per-order leads: after the sweep rebuilds them, there is one
//! lead per buyer and every sales decision is kept.

use diesel::prelude::*;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::MigrationHarness;
use leadgen_db::schema::{t_ecom_order_raw, t_lead_status_change, t_order_lead};
use leadgen_domain::NeutralStatus;
use leadgen_test_support::{admin_database_url, replace_database};

use crate::support::{order, processor};

/// Runs the first `n` migrations on `url`, or all when `n` is `None`.
async fn migrate(url: &str, n: Option<usize>) {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> =
            diesel::Connection::establish(&url).unwrap();
        match n {
            Some(n) => {
                for _ in 0..n {
                    conn.run_next_migration(leadgen_db::MIGRATIONS).unwrap();
                }
            }
            None => {
                conn.run_pending_migrations(leadgen_db::MIGRATIONS).unwrap();
            }
        }
    })
    .await
    .unwrap();
}

struct Scratch {
    name: String,
    url: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut conn = AsyncPgConnection::establish(&admin_database_url())
                    .await
                    .unwrap();
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            });
        })
        .join();
    }
}

#[tokio::test]
async fn per_order_leads_become_buyer_leads_with_their_sales_decisions() {
    let name = format!("leadgen_m_{}", uuid::Uuid::new_v4().simple());
    let mut admin = AsyncPgConnection::establish(&admin_database_url())
        .await
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let scratch = Scratch {
        url: replace_database(&admin_database_url(), &name),
        name,
    };
    migrate(&scratch.url, Some(7)).await;

    // The old schema: one lead per order. Buyer "b1" has three orders; a salesperson marked one
    // of them PROCESSED. Buyer "b2" has one order marked INVALID. Buyer "b3" was never handled.
    let p = processor();
    let mut conn = AsyncPgConnection::establish(&scratch.url).await.unwrap();
    for sql in [
        "INSERT INTO t_ecom_platform_auth (id, tenant_id, platform_type, app_key, auth_info, status, callback_url, created_by) VALUES (1, 1, 'JD', 'k', 'sealed', 'ACTIVE', 'http://cb', 7)",
        "INSERT INTO t_ecom_sync_task (id, tenant_id, platform_id, platform_type, trigger_type, status, window_start, window_end) VALUES (1, 1, 1, 'JD', 'MANUAL', 'COMPLETED', now() - interval '9 days', now())",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    let orders = [
        ("o1", "b1", "PENDING"),
        ("o2", "b1", "PROCESSED"),
        ("o3", "b1", "PENDING"),
        ("o4", "b2", "INVALID"),
        ("o5", "b3", "PENDING"),
    ];
    for (i, (id, buyer, status)) in orders.iter().enumerate() {
        let o = order(
            id,
            10 + i as i64 * 5,
            NeutralStatus::Completed,
            10_000,
            Some(buyer),
            Some("*******5678"),
        );
        let json = serde_json::to_string(&o).unwrap();
        let sealed = p
            .sealer
            .seal(
                &leadgen_db::sealed::raw_order(
                    "normalized",
                    leadgen_domain::PlatformId::new(1),
                    id,
                ),
                &json,
            )
            .unwrap();
        let raw = i as i64 + 1;
        for sql in [
            format!(
                "INSERT INTO t_ecom_order_raw (id, tenant_id, platform_id, platform_type, order_id, raw_data, normalized, content_hash, sync_task_id, sync_time, process_status) \
                 VALUES ({raw}, 1, 1, 'JD', '{id}', 'raw', '{sealed}', 'h', 1, now() - interval '1 hour', 'PROCESSED')"
            ),
            format!(
                "INSERT INTO t_ecom_order_processed (id, tenant_id, platform_id, platform_type, raw_order_id, order_id, user_id, buyer_key_hash, status, platform_status, amount_fen, order_time, product_info) \
                 VALUES ({raw}, 1, 1, 'JD', {raw}, '{id}', {raw}, 'unkeyed', 'COMPLETED', 'FINISHED', 10000, now(), 'x')"
            ),
            format!(
                "INSERT INTO t_order_lead (id, tenant_id, platform_id, platform_type, order_id, raw_order_id, processed_order_id, contact_info, contact_masked, contact_kind, product_info, amount_fen, order_time, intention_tags, score, process_status) \
                 VALUES ({raw}, 1, 1, 'JD', '{id}', {raw}, {raw}, 'sealed', '*******5678', 'MASKED', 'x', 10000, now(), '{{购买过}}', 50, '{status}')"
            ),
        ] {
            diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        }
    }
    diesel::sql_query("SELECT setval('t_order_lead_id_seq', 5)")
        .execute(&mut conn)
        .await
        .unwrap();

    migrate(&scratch.url, None).await;
    let pending: i64 = t_ecom_order_raw::table
        .filter(t_ecom_order_raw::process_status.eq("PENDING"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending, 5, "every processed raw order waits to be rebuilt");

    let pool = leadgen_db::build_pool(
        &leadgen_test_support::database_settings(&scratch.url),
        "test",
    )
    .unwrap();
    let sweep = order_processor::sweep::Sweep {
        pool,
        processor: p,
        pending_after: std::time::Duration::ZERO,
        interval: std::time::Duration::from_millis(10),
        batch_size: 2,
        failures: Default::default(),
        last_tenant: Default::default(),
    };
    while sweep.sweep_once().await.unwrap() > 0 {}

    let leads: Vec<(i32, String, Option<i64>)> = t_order_lead::table
        .filter(t_order_lead::merged_into.is_null())
        .order(t_order_lead::order_count.desc())
        .select((
            t_order_lead::order_count,
            t_order_lead::process_status,
            t_order_lead::merged_into,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    let shape: Vec<(i32, &str)> = leads.iter().map(|(n, s, _)| (*n, s.as_str())).collect();
    assert_eq!(shape.len(), 3, "{shape:?}");
    assert_eq!(shape[0], (3, "PROCESSED"));
    let rest: std::collections::BTreeSet<(i32, &str)> = shape[1..].iter().copied().collect();
    assert_eq!(rest, [(1, "INVALID"), (1, "PENDING")].into_iter().collect());
    // The decisions they took are in their histories, said to come from the per-order leads.
    let history: Vec<(String, String, Option<String>)> = t_lead_status_change::table
        .order(t_lead_status_change::to_status.asc())
        .select((
            t_lead_status_change::from_status,
            t_lead_status_change::to_status,
            t_lead_status_change::note,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    let note = Some("沿用该买家原有线索的处理状态".to_owned());
    assert_eq!(
        history,
        vec![
            ("PENDING".to_owned(), "INVALID".to_owned(), note.clone()),
            ("PENDING".to_owned(), "PROCESSED".to_owned(), note),
        ]
    );
    let left: i64 = diesel::sql_query("SELECT count(*) AS n FROM t_lead_legacy_status")
        .load::<Count>(&mut conn)
        .await
        .unwrap()[0]
        .n;
    assert_eq!(left, 0, "every kept decision was applied");
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    n: i64,
}
