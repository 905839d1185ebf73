//! The pending sweep: raw orders still `PENDING` a while after they were stored (their message
//! was dead-lettered or lost, a rebuild asked for them, or the buyer-lead migration reset them)
//! are processed here, a batch of one tenant per transaction, through the same
//! [`batch`](crate::batch) as messages.
//!
//! A batch that fails is taken apart: each of its rows is processed alone, so one row that can
//! never be processed (a stored value that no longer opens, say) does not hold back every row
//! behind it. A row that fails alone [`FAILURES_BEFORE_SET_ASIDE`] sweeps in a row is kept
//! `MALFORMED` with its error, and counted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use leadgen_db::{DbPool, ScopedFutureExt as _};
use tokio_util::sync::CancellationToken;

use crate::handler::run_batch;
use crate::processor::Processor;
use crate::repo::raw_orders::{self, RawRow};

/// How many sweeps in a row a raw order must fail alone before it is set aside.
pub const FAILURES_BEFORE_SET_ASIDE: u32 = 3;

/// How often the sweep samples the backlog of raw orders waiting for processing.
const SAMPLE_EVERY: Duration = Duration::from_secs(15);

pub struct Sweep {
    pub pool: DbPool,
    pub processor: Arc<Processor>,
    /// Rows pending for longer than this are swept.
    pub pending_after: Duration,
    pub interval: Duration,
    pub batch_size: i64,
    /// Rows that failed alone, and how many sweeps in a row they did.
    pub failures: FailedRows,
}

/// How many sweeps in a row each row failed alone (this process's memory; a restart only
/// delays setting a row aside).
#[derive(Debug, Default)]
pub struct FailedRows(Mutex<HashMap<i64, u32>>);

impl FailedRows {
    fn count(&self, id: i64) -> u32 {
        self.0
            .lock()
            .map_or(0, |counts| counts.get(&id).copied().unwrap_or(0))
    }

    /// What a committed sweep learnt: rows that failed alone once more, rows that are done.
    fn settle(&self, failed: &[i64], done: &[i64]) {
        if let Ok(mut counts) = self.0.lock() {
            for id in failed {
                *counts.entry(*id).or_default() += 1;
            }
            for id in done {
                counts.remove(id);
            }
        }
    }
}

/// What one sweep did, learnt inside its transaction and applied once it committed.
#[derive(Default)]
struct Swept {
    rows: usize,
    failed: Vec<i64>,
    done: Vec<i64>,
}

impl Sweep {
    /// Sweeps until `shutdown`; errors are logged and retried on the next tick.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut sampled: Option<tokio::time::Instant> = None;
        loop {
            if sampled.is_none_or(|at| at.elapsed() >= SAMPLE_EVERY) {
                if let Err(e) = self.sample_backlog().await {
                    tracing::warn!(error = %format!("{e:#}"), "Sampling the raw-order backlog failed");
                }
                sampled = Some(tokio::time::Instant::now());
            }
            let swept = match self.sweep_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "Pending sweep failed; retrying");
                    0
                }
            };
            if swept > 0 {
                tracing::info!(orders = swept, "Swept pending raw orders");
                if shutdown.is_cancelled() {
                    return;
                }
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Sets `leadgen_raw_orders_pending` and the age of the oldest of them: orders stored and
    /// not yet processed, whether their message is on its way or was lost.
    pub async fn sample_backlog(&self) -> anyhow::Result<()> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let (pending, oldest) = raw_orders::pending_backlog(&mut conn).await?;
        let age = oldest.map_or(0.0, |t| {
            (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        metrics::gauge!("leadgen_raw_orders_pending").set(pending as f64);
        metrics::gauge!("leadgen_raw_orders_pending_oldest_age_seconds").set(age);
        Ok(())
    }

    /// Processes one batch of pending rows; answers how many it took.
    pub async fn sweep_once(&self) -> anyhow::Result<usize> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let processor = Arc::clone(&self.processor);
        let before =
            chrono::Utc::now() - chrono::Duration::from_std(self.pending_after).unwrap_or_default();
        let limit = self.batch_size;
        let failures = &self.failures;
        let swept = conn
            .transaction::<Swept, anyhow::Error, _>(|conn| {
                async move {
                    let rows = raw_orders::claim_pending(conn, before, limit).await?;
                    if rows.is_empty() {
                        return Ok(Swept::default());
                    }
                    match in_savepoint(conn, &processor, &rows).await {
                        // Done too: a row that failed alone before and now went through with
                        // its batch starts counting again, so only failures in a row count.
                        Ok(()) => Ok(Swept {
                            rows: rows.len(),
                            done: rows.iter().map(|r| r.id).collect(),
                            ..Swept::default()
                        }),
                        Err(e) => {
                            tracing::warn!(
                                orders = rows.len(),
                                error = %format!("{e:#}"),
                                "Pending batch failed; processing its rows one by one"
                            );
                            one_by_one(conn, &processor, &rows, failures).await
                        }
                    }
                }
                .scope_boxed()
            })
            .await?;
        self.failures.settle(&swept.failed, &swept.done);
        Ok(swept.rows)
    }
}

/// `rows` as one batch in a savepoint of the caller's transaction: undone alone if it fails.
async fn in_savepoint(
    conn: &mut AsyncPgConnection,
    processor: &Processor,
    rows: &[RawRow],
) -> anyhow::Result<()> {
    let Some(tenant) = rows.first().map(|r| r.tenant_id) else {
        return Ok(());
    };
    conn.transaction::<(), anyhow::Error, _>(|conn| {
        async move { run_batch(conn, processor, tenant, rows).await.map(|_| ()) }.scope_boxed()
    })
    .await
}

/// Each row of a failed batch alone: the ones that go through are processed; one that failed
/// alone often enough before is set aside with its error.
async fn one_by_one(
    conn: &mut AsyncPgConnection,
    processor: &Processor,
    rows: &[RawRow],
    failures: &FailedRows,
) -> anyhow::Result<Swept> {
    let mut swept = Swept::default();
    for row in rows {
        let Err(e) = in_savepoint(conn, processor, std::slice::from_ref(row)).await else {
            swept.rows += 1;
            swept.done.push(row.id);
            continue;
        };
        let failed = failures.count(row.id) + 1;
        if failed < FAILURES_BEFORE_SET_ASIDE {
            tracing::warn!(raw_order.id = row.id, failed, error = %format!("{e:#}"), "Raw order failed alone; retried on a later sweep");
            swept.failed.push(row.id);
            continue;
        }
        let reason = format!("处理失败（连续 {failed} 次）：{e:#}");
        raw_orders::set_aside(conn, row.id, &reason).await?;
        metrics::counter!("leadgen_orders_processed_total", "outcome" => "malformed").increment(1);
        tracing::error!(raw_order.id = row.id, failed, error = %format!("{e:#}"), "Raw order failed alone every time; kept MALFORMED with its error");
        swept.rows += 1;
        swept.done.push(row.id);
    }
    Ok(swept)
}
