//! The pending sweep: raw orders still `PENDING` a while after they were stored (their message
//! was dead-lettered or lost, a rebuild asked for them, or the buyer-lead migration reset them)
//! are processed here, a batch of one tenant per transaction, through the same
//! [`batch`](crate::batch) as messages.
//!
//! A batch that fails is taken apart: each of its rows is processed alone, so one row that can
//! never be processed does not hold back every row behind it. A row that fails alone is not
//! claimed again by this process for a while ([`FIRST_RETRY`], doubled after each failure in a
//! row up to [`MAX_RETRY`]), so rows that keep failing never fill its batches; what becomes of
//! it depends on whose the failure is ([`Failure`]):
//!
//! - the order's own (it does not read: a stored value that does not open, JSON that does not
//!   parse, a field out of range): after [`FAILURES_BEFORE_SET_ASIDE`] sweeps in a row it is kept
//!   `MALFORMED` with its error, and counted;
//! - anything else (a data key this process lacks, which is its configuration; the database: a
//!   statement or lock timeout, a lost connection, a conflict; an error not known to be the
//!   order's): it stays `PENDING` and is tried again for as long as it fails, each time counted
//!   (`leadgen_sweep_retries_total{reason}`) and logged. Another replica, or this one once its
//!   configuration is mended, processes it; `LeadgenOrdersNotProcessed` speaks meanwhile.
//!
//! `leadctl leads rebuild --set-aside` hands rows set aside back to the sweep.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use leadgen_db::{DbPool, ScopedFutureExt as _};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::batch::Summary;
use crate::handler::run_batch;
use crate::lead_record::MissingKey;
use crate::orders::PrepareError;
use crate::processor::Processor;
use crate::repo::raw_orders::{self, RawRow};
use crate::unreadable::{JsonFault, Unreadable};

/// How many sweeps in a row a raw order must fail alone, for a reason of its own, before it is
/// set aside.
pub const FAILURES_BEFORE_SET_ASIDE: u32 = 3;

/// How long a row that failed alone waits before this process claims it again, doubled after
/// each further failure in a row up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(60);
pub const MAX_RETRY: Duration = Duration::from_secs(3_600);

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
    /// The tenant this process swept last: the next sweep takes the next tenant's rows.
    pub last_tenant: std::sync::atomic::AtomicI64,
}

/// How many sweeps in a row each row failed alone, and when this process may claim it again
/// (its memory: a restart only delays setting a row aside, and tries waiting rows at once;
/// another replica claims them meanwhile).
#[derive(Debug)]
pub struct FailedRows {
    rows: Mutex<HashMap<i64, Failed>>,
    first_retry: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Failed {
    times: u32,
    retry_at: Instant,
}

impl Default for FailedRows {
    fn default() -> Self {
        FailedRows::with_first_retry(FIRST_RETRY)
    }
}

impl FailedRows {
    /// Rows that failed alone wait `first_retry` before they are claimed again, doubled after
    /// each further failure in a row up to [`MAX_RETRY`] (zero: claimed again at once).
    pub fn with_first_retry(first_retry: Duration) -> Self {
        FailedRows {
            rows: Mutex::default(),
            first_retry,
        }
    }

    fn count(&self, id: i64) -> u32 {
        self.rows
            .lock()
            .map_or(0, |rows| rows.get(&id).map_or(0, |f| f.times))
    }

    /// The rows still waiting to be tried again: the claim passes over them. Forgets rows whose
    /// wait ended long ago and that were not claimed since (processed meanwhile, by a message or
    /// another replica, or deleted).
    fn waiting(&self) -> Vec<i64> {
        let now = Instant::now();
        let Ok(mut rows) = self.rows.lock() else {
            return Vec::new();
        };
        rows.retain(|_, f| now.saturating_duration_since(f.retry_at) < MAX_RETRY);
        rows.iter()
            .filter(|(_, f)| now < f.retry_at)
            .map(|(id, _)| *id)
            .collect()
    }

    /// What a committed sweep learnt: rows that failed alone once more, rows that are done.
    fn settle(&self, failed: &[i64], done: &[i64]) {
        let now = Instant::now();
        if let Ok(mut rows) = self.rows.lock() {
            for id in failed {
                let f = rows.entry(*id).or_insert(Failed {
                    times: 0,
                    retry_at: now,
                });
                f.times = f.times.saturating_add(1);
                f.retry_at = now + retry_after(self.first_retry, f.times);
            }
            for id in done {
                rows.remove(id);
            }
        }
    }
}

/// How long a row that failed alone `times` times in a row waits.
fn retry_after(first: Duration, times: u32) -> Duration {
    first
        .saturating_mul(2_u32.saturating_pow(times.saturating_sub(1).min(16)))
        .min(MAX_RETRY)
}

/// Whose a failure of a row processed alone is: only the order's own sets it aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The order itself does not read (a stored value that does not open, JSON that does not
    /// parse, a field out of range): processing it again will not change that.
    Unreadable,
    /// A stored contact sealed under a data key this process does not hold: its configuration
    /// (every replica holds every key still in use), not the order.
    MissingKey,
    /// The database: a statement or lock timeout, a lost connection, a conflict, a fault.
    Database,
    /// An error not known to be the order's.
    Other,
}

impl Failure {
    /// Reads what failed from the error's chain (its first cause of a known kind).
    pub fn of(e: &anyhow::Error) -> Failure {
        for cause in e.chain() {
            if cause.is::<MissingKey>() {
                return Failure::MissingKey;
            }
            if cause.is::<diesel::result::Error>() {
                return Failure::Database;
            }
            if cause.is::<Unreadable>()
                || cause.is::<JsonFault>()
                || cause.is::<serde_json::Error>()
                || cause.is::<PrepareError>()
            {
                return Failure::Unreadable;
            }
        }
        Failure::Other
    }

    /// Whether the row is set aside once it failed for it often enough.
    pub fn belongs_to_the_row(self) -> bool {
        self == Failure::Unreadable
    }

    /// The `reason` label of `leadgen_sweep_retries_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Failure::Unreadable => "unreadable",
            Failure::MissingKey => "missing_key",
            Failure::Database => "database",
            Failure::Other => "other",
        }
    }
}

/// What one sweep did, learnt inside its transaction and applied once it committed.
#[derive(Default)]
struct Swept {
    rows: usize,
    failed: Vec<i64>,
    done: Vec<i64>,
    /// What its batches did, counted once it committed.
    batches: Vec<Summary>,
    /// Rows set aside as `MALFORMED` after failing alone too often.
    set_aside: usize,
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

    /// Processes one batch of pending rows; answers how many it took. A trace of its own (the
    /// loop's span lives as long as the process: under it, every batch's events and log rows
    /// would share one trace id), started once it has rows: an idle tick is no trace.
    pub async fn sweep_once(&self) -> anyhow::Result<usize> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let processor = Arc::clone(&self.processor);
        let before =
            chrono::Utc::now() - chrono::Duration::from_std(self.pending_after).unwrap_or_default();
        let limit = self.batch_size;
        let failures = &self.failures;
        let waiting = failures.waiting();
        let last_tenant = &self.last_tenant;
        let after = last_tenant.load(std::sync::atomic::Ordering::Relaxed);
        let swept = conn
            .transaction::<Swept, anyhow::Error, _>(|conn| {
                async move {
                    let rows =
                        raw_orders::claim_pending(conn, before, limit, &waiting, after).await?;
                    let Some(first) = rows.first() else {
                        return Ok(Swept::default());
                    };
                    last_tenant.store(first.tenant_id.get(), std::sync::atomic::Ordering::Relaxed);
                    let span =
                        tracing::info_span!(parent: None, "orders.sweep", orders = rows.len());
                    async {
                        match in_savepoint(conn, &processor, &rows).await {
                            // Done too: a row that failed alone before and now went through with
                            // its batch starts counting again, so only failures in a row count.
                            Ok(summary) => Ok(Swept {
                                rows: rows.len(),
                                done: rows.iter().map(|r| r.id).collect(),
                                batches: summary.into_iter().collect(),
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
                    .instrument(span)
                    .await
                }
                .scope_boxed()
            })
            .await?;
        self.failures.settle(&swept.failed, &swept.done);
        swept.batches.iter().for_each(crate::handler::record);
        metrics::counter!("leadgen_orders_processed_total", "outcome" => "malformed")
            .increment(swept.set_aside as u64);
        Ok(swept.rows)
    }
}

/// `rows` as one batch in a savepoint of the caller's transaction: undone alone if it fails.
/// What it did (`None` for no rows).
async fn in_savepoint(
    conn: &mut AsyncPgConnection,
    processor: &Processor,
    rows: &[RawRow],
) -> anyhow::Result<Option<Summary>> {
    let Some(tenant) = rows.first().map(|r| r.tenant_id) else {
        return Ok(None);
    };
    conn.transaction::<Option<Summary>, anyhow::Error, _>(|conn| {
        async move { run_batch(conn, processor, tenant, rows).await.map(Some) }.scope_boxed()
    })
    .await
}

/// Each row of a failed batch alone: the ones that go through are processed; one that failed
/// alone often enough, for a reason of its own, is set aside with its error; every other one
/// stays `PENDING`, to be tried again once its wait is over.
async fn one_by_one(
    conn: &mut AsyncPgConnection,
    processor: &Processor,
    rows: &[RawRow],
    failures: &FailedRows,
) -> anyhow::Result<Swept> {
    let mut swept = Swept::default();
    for row in rows {
        let e = match in_savepoint(conn, processor, std::slice::from_ref(row)).await {
            Ok(summary) => {
                swept.rows += 1;
                swept.done.push(row.id);
                swept.batches.extend(summary);
                continue;
            }
            Err(e) => e,
        };
        let failed = failures.count(row.id) + 1;
        let failure = Failure::of(&e);
        if !failure.belongs_to_the_row() || failed < FAILURES_BEFORE_SET_ASIDE {
            metrics::counter!("leadgen_sweep_retries_total", "reason" => failure.reason())
                .increment(1);
            tracing::warn!(
                raw_order.id = row.id,
                failed,
                reason = failure.reason(),
                error = %format!("{e:#}"),
                "Raw order failed alone; kept PENDING and retried on a later sweep"
            );
            swept.failed.push(row.id);
            continue;
        }
        let reason = format!("处理失败（连续 {failed} 次）：{e:#}");
        raw_orders::set_aside(conn, row.id, &reason).await?;
        swept.set_aside += 1;
        tracing::error!(raw_order.id = row.id, failed, error = %format!("{e:#}"), "Raw order failed alone every time; kept MALFORMED with its error");
        swept.rows += 1;
        swept.done.push(row.id);
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failure_of_the_order_itself_belongs_to_the_row() {
        let kinds = [
            (
                anyhow::Error::from(MissingKey(9)).context("rebuilding buyer 7"),
                Failure::MissingKey,
            ),
            (
                anyhow::Error::from(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::Unknown,
                    Box::new("canceling statement due to statement timeout".to_owned()),
                )),
                Failure::Database,
            ),
            (
                anyhow::Error::from(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection,
                    Box::new("connection closed".to_owned()),
                ))
                .context("writing the batch's leads"),
                Failure::Database,
            ),
            (
                anyhow::Error::from(Unreadable::Field("intention")),
                Failure::Unreadable,
            ),
            (
                anyhow::Error::from(PrepareError::Normalized(Unreadable::Json(JsonFault::from(
                    serde_json::from_str::<u8>("x").unwrap_err(),
                )))),
                Failure::Unreadable,
            ),
            (
                anyhow::Error::from(serde_json::from_str::<u8>("[").unwrap_err()),
                Failure::Unreadable,
            ),
            (
                anyhow::anyhow!("leads kept merging while this batch resolved its buyers"),
                Failure::Other,
            ),
        ];
        for (e, kind) in kinds {
            assert_eq!(Failure::of(&e), kind, "{e:#}");
            assert_eq!(kind.belongs_to_the_row(), kind == Failure::Unreadable);
        }
    }

    #[test]
    fn a_row_that_failed_waits_longer_after_each_failure_in_a_row() {
        assert_eq!(retry_after(FIRST_RETRY, 1), FIRST_RETRY);
        assert_eq!(retry_after(FIRST_RETRY, 2), FIRST_RETRY * 2);
        assert_eq!(retry_after(FIRST_RETRY, 3), FIRST_RETRY * 4);
        assert_eq!(retry_after(FIRST_RETRY, 40), MAX_RETRY);
        assert_eq!(retry_after(Duration::ZERO, 5), Duration::ZERO);

        let failures = FailedRows::default();
        failures.settle(&[1, 2], &[]);
        failures.settle(&[1], &[2]);
        assert_eq!((failures.count(1), failures.count(2)), (2, 0));
        assert_eq!(failures.waiting(), [1]);
        // Done with its batch: its failures start again from none.
        failures.settle(&[], &[1]);
        assert_eq!(failures.count(1), 0);
        assert!(failures.waiting().is_empty());

        let at_once = FailedRows::with_first_retry(Duration::ZERO);
        at_once.settle(&[3], &[]);
        assert_eq!(at_once.count(3), 1);
        assert!(at_once.waiting().is_empty());
    }
}
