//! Backlog benchmark: how fast order-processor turns a backlog of raw orders into buyer-leads,
//! against a bare `COPY` of the same raw rows (the target: at least 1/3 of COPY).
//!
//! `cargo bench -p order-processor --bench backlog` (release). `BENCH_ORDERS` (default 20000)
//! sets the backlog; buyers repeat with a heavy tail, a share has real phones (merges), pages
//! are 100 orders as sync-worker sends them. Needs the local PostgreSQL (as the tests) and
//! `psql` for the COPY baseline.

#![expect(clippy::unwrap_used, reason = "a benchmark stops at the first failure")]
#![expect(clippy::expect_used, reason = "a benchmark stops at the first failure")]

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, RunQueryDsl};
use leadgen_db::ScopedFutureExt as _;
use leadgen_db::schema::{t_ecom_order_raw, t_ecom_platform_auth, t_ecom_sync_task};
use leadgen_domain::{
    BuyerRef, ContactField, Money, NeutralStatus, OrderItem, PlatformId, RawOrder, Receiver,
    TenantId,
};
use leadgen_test_support::{TestDb, crypto_settings};
use order_processor::handler::run_batch;
use order_processor::processor::Processor;
use order_processor::repo::raw_orders;
use order_processor::rescore::Rescore;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` orders from buyers whose order counts follow a heavy tail (Pareto-like).
fn orders(n: usize) -> Vec<RawOrder> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let mut out = Vec::with_capacity(n);
    let mut buyer = 0u64;
    while out.len() < n {
        buyer += 1;
        let count = (1.0 / (1.0 - rng.unit()).powf(1.0 / 1.6)).floor().min(40.0) as usize;
        let phone = buyer
            .is_multiple_of(5)
            .then(|| format!("139{:08}", buyer % 100_000_000));
        for _ in 0..count.min(n - out.len()) {
            let created = start + Duration::minutes((rng.next() % (90 * 24 * 60)) as i64);
            let status = match rng.next() % 10 {
                0 => NeutralStatus::Unpaid,
                1 => NeutralStatus::Closed,
                2..=4 => NeutralStatus::Shipped,
                _ => NeutralStatus::Completed,
            };
            let fen = 500 + (rng.next() % 50_000) as i64;
            out.push(RawOrder {
                order_id: format!("{}{:012}", 3_000_000 + buyer, out.len()),
                status,
                platform_status: status.as_str().to_owned(),
                created_at: created,
                paid_at: status.was_paid().then_some(created + Duration::minutes(1)),
                modified_at: None,
                amount: Money(fen),
                refunded: rng.next().is_multiple_of(20),
                partial_refund: None,
                buyer: BuyerRef {
                    open_id: Some(format!("oid-{buyer}")),
                    nick: Some("t**1".into()),
                },
                receiver: Receiver {
                    phone: ContactField::phone(phone.as_deref().unwrap_or("*******5678")),
                    region: "浙江省杭州市西湖区".into(),
                    ..Receiver::default()
                },
                items: vec![OrderItem {
                    sku_id: None,
                    title: "夏季新款雪纺连衣裙".into(),
                    quantity: 1,
                    price: Money(fen),
                }],
            });
        }
    }
    out
}

fn main() {
    #[expect(clippy::disallowed_methods, reason = "the benchmark's one knob")]
    let n: usize = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

async fn run(n: usize) {
    let db = TestDb::new().await;
    // `BENCH_PLAN_CACHE_MODE=force_custom_plan` measures `[database] plan_cache_mode` against
    // PostgreSQL's default, which order-processor runs with (docs/benchmarks.md).
    #[expect(clippy::disallowed_methods, reason = "the benchmark's knob")]
    let custom = std::env::var("BENCH_PLAN_CACHE_MODE").is_ok_and(|v| v == "force_custom_plan");
    let settings = leadgen_settings::DatabaseSettings {
        plan_cache_mode: if custom {
            leadgen_settings::PlanCacheMode::ForceCustomPlan
        } else {
            leadgen_settings::PlanCacheMode::Auto
        },
        ..leadgen_test_support::database_settings(&db.url)
    };
    let pool = leadgen_db::build_pool(&settings, "order-processor-bench").unwrap();
    let mut conn = leadgen_db::conn(&pool).await.unwrap();
    let platform: i64 = diesel::insert_into(t_ecom_platform_auth::table)
        .values((
            t_ecom_platform_auth::tenant_id.eq(1),
            t_ecom_platform_auth::platform_type.eq("JD"),
            t_ecom_platform_auth::app_key.eq("k"),
            t_ecom_platform_auth::auth_info.eq("sealed"),
            t_ecom_platform_auth::status.eq("ACTIVE"),
            t_ecom_platform_auth::callback_url.eq("http://cb"),
            t_ecom_platform_auth::created_by.eq(7),
        ))
        .returning(t_ecom_platform_auth::id)
        .get_result(&mut conn)
        .await
        .unwrap();
    let task: i64 = diesel::insert_into(t_ecom_sync_task::table)
        .values((
            t_ecom_sync_task::tenant_id.eq(1),
            t_ecom_sync_task::platform_id.eq(platform),
            t_ecom_sync_task::platform_type.eq("JD"),
            t_ecom_sync_task::trigger_type.eq("MANUAL"),
            t_ecom_sync_task::status.eq("COMPLETED"),
            t_ecom_sync_task::window_start.eq(Utc::now() - Duration::days(90)),
            t_ecom_sync_task::window_end.eq(Utc::now()),
        ))
        .returning(t_ecom_sync_task::id)
        .get_result(&mut conn)
        .await
        .unwrap();
    let crypto = crypto_settings();
    let processor = Arc::new(Processor {
        sealer: leadgen_runtime::sealer(&crypto).unwrap(),
        indexer: leadgen_runtime::blind_indexer(&crypto).unwrap(),
        as_of: Some(Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap()),
        scorer: None,
    });

    // The raw rows as sync-worker stores them (sealed raw JSON and neutral form).
    let orders = orders(n);
    let mut rows = Vec::with_capacity(n);
    for o in &orders {
        let json = serde_json::to_string(o).unwrap();
        let raw = processor
            .sealer
            .seal(
                &leadgen_db::sealed::raw_order("raw_data", PlatformId::new(platform), &o.order_id),
                &json,
            )
            .unwrap();
        let normalized = processor
            .sealer
            .seal(
                &leadgen_db::sealed::raw_order(
                    "normalized",
                    PlatformId::new(platform),
                    &o.order_id,
                ),
                &json,
            )
            .unwrap();
        rows.push((o.order_id.clone(), raw, normalized, o.created_at));
    }

    // Baseline: a bare COPY of the same rows into a copy of the table.
    let csv = std::env::temp_dir().join(format!("leadgen-bench-{}.csv", std::process::id()));
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
        for (id, raw, normalized, created) in &rows {
            writeln!(
                f,
                "1,{platform},JD,{id},{raw},{normalized},h,{},{task}",
                created.to_rfc3339()
            )
            .unwrap();
        }
    }
    diesel::sql_query("CREATE TABLE bench_copy (LIKE t_ecom_order_raw INCLUDING ALL)")
        .execute(&mut conn)
        .await
        .unwrap();
    let started = Instant::now();
    let status = std::process::Command::new("psql")
        .arg(&db.url)
        .arg("-qc")
        .arg(format!(
            "\\copy bench_copy (tenant_id, platform_id, platform_type, order_id, raw_data, normalized, content_hash, order_created_at, sync_task_id) FROM '{}' WITH (FORMAT csv)",
            csv.display()
        ))
        .status()
        .expect("psql");
    assert!(status.success(), "COPY failed");
    let copy_secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&csv);

    // Storing the backlog (not measured: sync-worker's part), then processing it page by page.
    let mut ids = Vec::with_capacity(n);
    for chunk in rows.chunks(1_000) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(id, raw, normalized, created)| {
                (
                    t_ecom_order_raw::tenant_id.eq(1),
                    t_ecom_order_raw::platform_id.eq(platform),
                    t_ecom_order_raw::platform_type.eq("JD"),
                    t_ecom_order_raw::order_id.eq(id),
                    t_ecom_order_raw::raw_data.eq(raw),
                    t_ecom_order_raw::normalized.eq(Some(normalized)),
                    t_ecom_order_raw::content_hash.eq("h"),
                    t_ecom_order_raw::order_created_at.eq(Some(*created)),
                    t_ecom_order_raw::sync_task_id.eq(task),
                )
            })
            .collect();
        let mut batch: Vec<i64> = diesel::insert_into(t_ecom_order_raw::table)
            .values(values)
            .returning(t_ecom_order_raw::id)
            .get_results(&mut conn)
            .await
            .unwrap();
        ids.append(&mut batch);
    }
    let started = Instant::now();
    for page in ids.chunks(100) {
        let processor = Arc::clone(&processor);
        let page = page.to_vec();
        conn.transaction::<_, anyhow::Error, _>(|conn| {
            async move {
                let rows = raw_orders::find_many(conn, TenantId::new(1), &page).await?;
                run_batch(conn, &processor, TenantId::new(1), &rows).await
            }
            .scope_boxed()
        })
        .await
        .unwrap();
    }
    let process_secs = started.elapsed().as_secs_f64();
    let peak_processing = peak_rss_mib();
    let rescore = Rescore {
        pool: pool.clone(),
        processor: Arc::clone(&processor),
        interval: std::time::Duration::from_millis(10),
        settle: std::time::Duration::ZERO,
        max_wait: std::time::Duration::ZERO,
        lease: std::time::Duration::from_secs(600),
        chunk: 500,
        failures: Default::default(),
        stop: Default::default(),
    };
    let started = Instant::now();
    while rescore.rescore_once().await.unwrap().is_some() {}
    let rescore_secs = started.elapsed().as_secs_f64();
    let peak_rescore = peak_rss_mib();
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::Int8)]
        n: i64,
    }
    let leads =
        diesel::sql_query("SELECT count(*) AS n FROM t_order_lead WHERE merged_into IS NULL")
            .load::<Count>(&mut conn)
            .await
            .unwrap()[0]
            .n;

    let copy_rate = n as f64 / copy_secs;
    let process_rate = n as f64 / process_secs;
    println!("| measure | value |");
    println!("|---|---|");
    println!("| orders | {n} |");
    println!("| buyer-leads | {leads} |");
    println!("| bare COPY of the raw rows | {copy_rate:.0} rows/s ({copy_secs:.2} s) |");
    println!("| processing, pages of 100 | {process_rate:.0} orders/s ({process_secs:.2} s) |");
    println!("| shop rescore after the backlog | {rescore_secs:.2} s |");
    println!(
        "| peak RSS of this process after processing / after the rescore | {peak_processing:.0} / {peak_rescore:.0} MiB |"
    );
    println!("| processing / COPY | 1/{:.1} |", copy_rate / process_rate);
    leadgen_test_support::write_bench_json(
        "backlog",
        &serde_json::json!({
            "orders": n,
            "buyerLeads": leads,
            "copyRowsPerSec": copy_rate,
            "processOrdersPerSec": process_rate,
            "processOverCopy": process_rate / copy_rate,
            "rescoreSecs": rescore_secs,
            "peakRssAfterProcessingMiB": peak_processing,
            "peakRssAfterRescoreMiB": peak_rescore,
        }),
    );
}

/// This process's peak resident memory so far (`VmHWM`), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}
