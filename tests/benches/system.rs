//! `make bench`'s system benchmark and its one table (issue 13 point 5). Every line is a ratio
//! or a bound measured in this run on this machine, because absolute times on a shared machine
//! are noise:
//!
//! - the end-to-end backlog: simulator pages → raw → processed → buyer-leads through RabbitMQ,
//!   the release binaries, against a bare `COPY` of the same raw rows in the same database;
//! - platform quota use: a backfill against the simulator's per-app quota (calls per second
//!   over the quota, and the simulator's throttles);
//! - RSS per service, idle and at the backlog's peak (`VmRSS`, `VmHWM`);
//! - the lines of the order-processor backlog and the 1 M-lead list benchmarks, read from their
//!   `target/bench/*.json` when `make bench` ran them first.
//!
//! Writes `target/bench/system.json`. Needs `LEADGEN_E2E_PROFILE=release` and the release
//! binaries (`make bench` does both).

#![expect(clippy::expect_used, reason = "a benchmark stops at the first failure")]

#[path = "../e2e/flow.rs"]
#[expect(
    dead_code,
    reason = "the benchmark drives only part of the end-to-end flow"
)]
mod flow;

use std::time::{Duration, Instant};

use leadgen_e2e::system::System;
use serde_json::{Value, json};

use flow::Api;

/// The backlog: one JD shop's orders, all within the backfill.
const BACKLOG_ORDERS: &str = "20000";
/// The quota run: the simulator's per-app quota, and ours.
const QUOTA: &str = "10";

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

const SERVICES: [&str; 4] = ["auth-api", "sync-worker", "order-processor", "lead-api"];

fn memory(system: &mut System, field: &str) -> Vec<(String, f64)> {
    SERVICES
        .iter()
        .map(|name| {
            let pid = system.proc(name).pid();
            ((*name).to_owned(), status_kib(pid, field) as f64 / 1024.0)
        })
        .collect()
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds used so far by each service, the simulator, and every PostgreSQL and RabbitMQ
/// (`beam.smp`) process on the machine, to say what a run spent its CPU on.
fn cpu(system: &mut System) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = SERVICES
        .iter()
        .chain(&["platform-sim"])
        .map(|name| ((*name).to_owned(), cpu_secs(system.proc(name).pid())))
        .collect();
    for (label, comm) in [("postgres", "postgres"), ("rabbitmq", "beam.smp")] {
        let mut total = 0.0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if name.trim() == comm {
                total += cpu_secs(pid);
            }
        }
        out.push((label.to_owned(), total));
    }
    out
}

/// Polls `busy` (a query answering `n`) every 250 ms until it answers 0; fails with `what`
/// after `timeout`.
async fn until_idle(system: &System, busy: &str, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    while flow::scalar(system, busy).await != 0 {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn quiet(system: &System, timeout: Duration) {
    // EXISTS, not counts: the poll itself must not load the database it measures (counting a
    // churning outbox every 100 ms cost 14 s of PostgreSQL time per run).
    until_idle(
        system,
        "SELECT (EXISTS (SELECT 1 FROM t_outbox) \
              OR EXISTS (SELECT 1 FROM t_ecom_order_raw WHERE process_status = 'PENDING') \
              OR EXISTS (SELECT 1 FROM t_ecom_sync_task WHERE status = 'RUNNING'))::int4::int8 AS n",
        timeout,
        "work still in flight",
    )
    .await;
}

/// Waits until every shop's leads are rescored since their last change, and their events
/// published.
async fn rescored(system: &System, timeout: Duration) {
    until_idle(
        system,
        "SELECT (EXISTS (SELECT 1 FROM t_lead_shop_stats \
                         WHERE dirty_seq > rescored_seq OR lease_until IS NOT NULL) \
              OR EXISTS (SELECT 1 FROM t_outbox))::int4::int8 AS n",
        timeout,
        "the rescore never finished",
    )
    .await;
}

/// A bare `COPY` of the run's raw rows into a copy of the table, in rows per second: the median
/// of three, each into a fresh copy after a checkpoint (a single copy of one to two seconds
/// swung twofold with the shared machine's moments).
async fn copy_rate(system: &System) -> f64 {
    let csv = std::env::temp_dir().join(format!("leadgen-bench-{}.csv", std::process::id()));
    let psql = |sql: String| {
        let status = std::process::Command::new("psql")
            .arg(&system.db.url)
            .arg("-qc")
            .arg(sql)
            .status()
            .expect("psql");
        assert!(status.success(), "psql failed");
    };
    const COLUMNS: &str = "tenant_id, platform_id, platform_type, order_id, raw_data, normalized, content_hash, order_created_at, sync_task_id";
    psql(format!(
        "\\copy (SELECT {COLUMNS} FROM t_ecom_order_raw) TO '{}' WITH (FORMAT csv)",
        csv.display()
    ));
    let rows = flow::scalar(system, "SELECT count(*) AS n FROM t_ecom_order_raw").await;
    let mut rates: Vec<f64> = (0..3)
        .map(|i| {
            // Each copy starts from a clean state: the previous copy's table gone and every
            // dirty page (the backlog's, the previous copy's) written.
            if i > 0 {
                psql(format!("DROP TABLE bench_copy_{}", i - 1));
            }
            psql("CHECKPOINT".to_owned());
            psql(format!(
                "CREATE TABLE bench_copy_{i} (LIKE t_ecom_order_raw INCLUDING ALL)"
            ));
            let started = Instant::now();
            psql(format!(
                "\\copy bench_copy_{i} ({COLUMNS}) FROM '{}' WITH (FORMAT csv)",
                csv.display()
            ));
            rows as f64 / started.elapsed().as_secs_f64()
        })
        .collect();
    let _ = std::fs::remove_file(&csv);
    rates.sort_by(f64::total_cmp);
    rates[1]
}

/// The backlog through the whole system, with memory idle and at its peak.
async fn backlog() -> Value {
    let mut system = System::start_with(
        &["--orders-per-shop", BACKLOG_ORDERS],
        &[
            ("LEADGEN__OAUTH__BACKFILL_DAYS", "90"),
            ("LEADGEN__PLATFORMS__JD__QPS", "200"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = memory(&mut system, "VmRSS:");
    let api = Api::new(&system, 1);
    let cpu_before = cpu(&mut system);
    let started = Instant::now();
    api.authorize(&system, "JD").await;
    quiet(&system, Duration::from_secs(1800)).await;
    let secs = started.elapsed().as_secs_f64();
    // PostgreSQL backends that ended during the run are not counted (the pools keep theirs).
    let cpu_used: serde_json::Map<String, Value> = cpu(&mut system)
        .into_iter()
        .zip(cpu_before)
        .map(|((name, after), (_, before))| (name, json!(after - before)))
        .collect();
    // The shop's rescore (final ranks and scores) starts once the shop has been quiet for the
    // settle time; it is reported apart, not counted in the backlog's rate.
    let ended = Instant::now();
    rescored(&system, Duration::from_secs(600)).await;
    let rescore_secs = ended.elapsed().as_secs_f64();
    let peak = memory(&mut system, "VmHWM:");
    let orders = flow::scalar(&system, "SELECT count(*) AS n FROM t_ecom_order_processed").await;
    let leads = flow::scalar(
        &system,
        "SELECT count(*) AS n FROM t_order_lead WHERE merged_into IS NULL",
    )
    .await;
    // What bounds it: the sync's own span (fetching and storing pages), the rest is processing.
    let sync_ms = flow::scalar(
        &system,
        "SELECT (extract(epoch FROM max(finished_at) - min(started_at)) * 1000)::int8 AS n \
         FROM t_ecom_sync_task",
    )
    .await;
    let copy = copy_rate(&system).await;
    let rate = orders as f64 / secs;
    json!({
        "orders": orders,
        "buyerLeads": leads,
        "secs": secs,
        "syncSecs": sync_ms as f64 / 1000.0,
        "rescoreDoneSecs": rescore_secs,
        "ordersPerSec": rate,
        "copyRowsPerSec": copy,
        "overCopy": rate / copy,
        "cpuSecs": cpu_used,
        "idleRssMiB": idle.into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<_, _>>(),
        "peakRssMiB": peak.into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<_, _>>(),
    })
}

/// A backfill against the simulator's quota: how much of it the sync uses, and the throttles.
async fn quota() -> Value {
    let system = System::start_with(
        &["--orders-per-shop", "6000", "--qps-limit", QUOTA],
        &[
            ("LEADGEN__OAUTH__BACKFILL_DAYS", "90"),
            ("LEADGEN__PLATFORMS__JD__QPS", QUOTA),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let api = Api::new(&system, 1);
    let stats = |s: &Value, key: &str| s[key].as_u64().unwrap_or(0);
    let read = || async {
        reqwest::get(system.sim_url("/_sim/stats"))
            .await
            .expect("stats")
            .json::<Value>()
            .await
            .expect("json")
    };
    let before = stats(&read().await, "calls");
    api.authorize(&system, "JD").await;
    // The sync's span: from the first call the simulator counts to the last.
    let (mut first, mut last, mut calls) = (None::<Instant>, Instant::now(), before);
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let now = stats(&read().await, "calls");
        if now > calls {
            first.get_or_insert_with(Instant::now);
            last = Instant::now();
            calls = now;
        }
        let running = flow::scalar(
            &system,
            "SELECT count(*) AS n FROM t_ecom_sync_task WHERE status = 'RUNNING'",
        )
        .await;
        if running == 0 && first.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the backfill never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = read().await;
    let secs = last
        .duration_since(first.expect("calls"))
        .as_secs_f64()
        .max(1e-3);
    let calls = stats(&after, "calls") - before;
    let errors = stats(&after, "errors");
    let quota: f64 = QUOTA.parse().expect("quota");
    json!({
        "calls": calls,
        "secs": secs,
        "callsPerSec": calls as f64 / secs,
        "quota": quota,
        "quotaUse": calls as f64 / secs / quota,
        "throttled": errors,
    })
}

fn read_json(name: &str) -> Option<Value> {
    let path = leadgen_e2e::process::repo_root()
        .join("target/bench")
        .join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn row(measure: &str, value: String, target: &str, ok: bool) {
    println!(
        "| {measure} | {value} | {target} | {} |",
        if ok { "yes" } else { "**no**" }
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (backlog, quota) = runtime.block_on(async { (backlog().await, quota().await) });
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);

    println!();
    println!("| measure | value | target | met |");
    println!("|---|---|---|---|");
    row(
        "end-to-end backlog / bare COPY (release, through RabbitMQ)",
        format!(
            "1/{:.1} ({:.0} orders/s over {:.0} s, the sync itself {:.0} s; then the shop's rescore, done {:.0} s later; COPY {:.0} rows/s; {} orders → {} buyer-leads)",
            1.0 / f(&backlog, "overCopy"),
            f(&backlog, "ordersPerSec"),
            f(&backlog, "secs"),
            f(&backlog, "syncSecs"),
            f(&backlog, "rescoreDoneSecs"),
            f(&backlog, "copyRowsPerSec"),
            backlog["orders"],
            backlog["buyerLeads"]
        ),
        "≥ 1/3",
        f(&backlog, "overCopy") >= 1.0 / 3.0,
    );
    if let Some(cpu) = backlog["cpuSecs"].as_object() {
        let mut parts: Vec<(&String, f64)> = cpu
            .iter()
            .map(|(k, v)| (k, v.as_f64().unwrap_or(0.0)))
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        let total: f64 = parts.iter().map(|p| p.1).sum();
        let by_component = parts
            .iter()
            .map(|(k, v)| format!("{k} {v:.1}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "| CPU seconds during the backlog (what bounds it; 2 cores) | {total:.0} of {:.0} available: {by_component} | — | — |",
            2.0 * f(&backlog, "secs"),
        );
    }
    if let Some(b) = read_json("backlog") {
        row(
            "order-processor alone / bare COPY (backlog bench)",
            format!("1/{:.1}", 1.0 / f(&b, "processOverCopy")),
            "≥ 1/3",
            f(&b, "processOverCopy") >= 1.0 / 3.0,
        );
    }
    for (name, measure) in [
        ("list", "lead list at 1 M leads: worst service p99"),
        (
            "list-matrix",
            "lead list, every filter under every sort (the sweep)",
        ),
    ] {
        if let Some(l) = read_json(name) {
            row(
                measure,
                format!(
                    "{:.1} ms; {} variants miss",
                    f(&l, "worstServiceP99Ms"),
                    l["variantsMissing"]
                ),
                "≤ 20 ms, 0 misses",
                l["variantsMissing"] == 0,
            );
        }
    }
    row(
        "platform quota use on a backfill",
        format!(
            "{:.0} % ({} calls in {:.0} s, quota {}/s)",
            100.0 * f(&quota, "quotaUse"),
            quota["calls"],
            f(&quota, "secs"),
            QUOTA
        ),
        "≥ 90 %",
        f(&quota, "quotaUse") >= 0.9,
    );
    row(
        "platform throttles and bans on that backfill",
        quota["throttled"].to_string(),
        "0",
        quota["throttled"] == 0,
    );
    for name in SERVICES {
        let idle = f(&backlog["idleRssMiB"], name);
        let peak = f(&backlog["peakRssMiB"], name);
        row(
            &format!("RSS {name}, idle / peak"),
            format!("{idle:.0} / {peak:.0} MiB"),
            "≤ 64 / ≤ 256 MiB",
            idle <= 64.0 && peak <= 256.0,
        );
    }
    leadgen_test_support::write_bench_json(
        "system",
        &json!({ "backlog": backlog, "quota": quota }),
    );
}
