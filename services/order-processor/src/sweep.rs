//! The pending sweep: raw orders still `PENDING` a while after they were stored (their message
//! was dead-lettered or lost, a rebuild asked for them, or the buyer-lead migration reset them)
//! are processed here, a batch of one tenant per transaction, through the same
//! [`batch`](crate::batch) as messages.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection as _;
use leadgen_db::{DbPool, ScopedFutureExt as _};
use tokio_util::sync::CancellationToken;

use crate::handler::run_batch;
use crate::processor::Processor;
use crate::repo::raw_orders;

pub struct Sweep {
    pub pool: DbPool,
    pub processor: Arc<Processor>,
    /// Rows pending for longer than this are swept.
    pub pending_after: Duration,
    pub interval: Duration,
    pub batch_size: i64,
}

impl Sweep {
    /// Sweeps until `shutdown`; errors are logged and retried on the next tick.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
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

    /// Processes one batch of pending rows; answers how many it took.
    pub async fn sweep_once(&self) -> anyhow::Result<usize> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let processor = Arc::clone(&self.processor);
        let before =
            chrono::Utc::now() - chrono::Duration::from_std(self.pending_after).unwrap_or_default();
        let limit = self.batch_size;
        conn.transaction::<usize, anyhow::Error, _>(|conn| {
            async move {
                let rows = raw_orders::claim_pending(conn, before, limit).await?;
                let Some(tenant) = rows.first().map(|r| r.tenant_id) else {
                    return Ok(0);
                };
                run_batch(conn, &processor, tenant, &rows).await?;
                Ok(rows.len())
            }
            .scope_boxed()
        })
        .await
    }
}
