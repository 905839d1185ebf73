//! Housekeeping: what every service writes and no one needs for ever, deleted by age.
//!
//! - **The processed-message ledger** (`t_processed_message`, every consumer's): an entry only
//!   has to outlive the redeliveries of its message, which come within minutes of a failure, or
//!   within hours when a queue waited out an outage. After `[processing]
//!   ledger_retention_days` (7) it is deleted. A message delivered again even later is
//!   processed again, which changes nothing: a batch rebuilds its buyers' leads from their
//!   stored orders, and a sync request finds its task already ended.
//! - **The operation log** (`t_operation_log`, design §7): kept `[processing]
//!   operation_log_retention_days` (365; at least [`MIN_OPERATION_LOG_DAYS`]: China's
//!   Cybersecurity Law, art. 21, asks for six months of network logs at least), then deleted,
//!   every tenant's alike.
//! - **Sync records** (`t_ecom_sync_task`, sync-worker's, design 2.4): kept `[processing]
//!   sync_record_retention_days` (365, as the operation log that names them), then deleted,
//!   except backfills (one per connection) and running tasks. A raw order keeps the id of the
//!   sync that last fetched it, a plain id since migration 57.
//! - **Reveal records** (`t_contact_reveal`, lead-api's audit of every reveal: the platform order
//!   id, which identifies the buyer on the platform, the operator and the reason typed): kept
//!   `[processing] reveal_record_retention_days` (1,095: three years, as PIPL art. 56 keeps
//!   the records of a processing of personal information; at least [`MIN_OPERATION_LOG_DAYS`]),
//!   then deleted, every tenant's alike. A purged buyer's records lose their reason at the
//!   purge; the rest go here.
//! - **The numbers searched behind each mask** (`t_contact_search_mask`, lead-api's): a day's
//!   notes count only that Beijing day's searches; a tenant's next search deletes its earlier
//!   days, and housekeeping those of tenants that stopped searching (keyed blind indexes of
//!   numbers typed, kept no longer than their day).
//!
//! Each pass deletes `[processing] housekeeping_batch` rows per statement until none is left,
//! every statement its own transaction; it runs every `[processing] housekeeping_interval_secs`
//! on every replica (replicas deleting the same rows at once only wait for each other).
//! Deletions are counted in `leadgen_housekeeping_deleted_total{table}`.

use std::num::NonZeroU32;
use std::time::Duration;

use leadgen_db::DbPool;
use tokio_util::sync::CancellationToken;

use crate::repo::housekeeping;

/// The shortest operation-log retention a configuration may set (six months).
pub const MIN_OPERATION_LOG_DAYS: u32 = 180;

/// The ledger's table name, as the metric labels it.
pub const LEDGER: &str = "t_processed_message";
/// The operation log's table name, as the metric labels it.
pub const OPERATION_LOG: &str = "t_operation_log";
/// The reveal records' table name, as the metric labels it.
pub const REVEAL_RECORDS: &str = "t_contact_reveal";
/// The searched numbers' table name, as the metric labels it.
pub const SEARCH_MASKS: &str = "t_contact_search_mask";
/// The sync records' table name, as the metric labels it.
pub const SYNC_RECORDS: &str = "t_ecom_sync_task";
/// Every table housekeeping deletes from, in the order of a pass.
const TABLES: [&str; 5] = [
    LEDGER,
    OPERATION_LOG,
    REVEAL_RECORDS,
    SEARCH_MASKS,
    SYNC_RECORDS,
];

pub struct Housekeeping {
    pub pool: DbPool,
    pub interval: Duration,
    pub ledger_days: NonZeroU32,
    pub operation_log_days: NonZeroU32,
    pub sync_record_days: NonZeroU32,
    pub reveal_record_days: NonZeroU32,
    /// Rows per delete statement.
    pub batch: NonZeroU32,
}

/// What one pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    pub ledger: usize,
    pub operation_log: usize,
    pub reveal_records: usize,
    pub search_masks: usize,
    pub sync_records: usize,
}

impl Housekeeping {
    /// A pass now and then every `interval` until `shutdown`; a failed pass is logged and the
    /// next one tries again.
    pub async fn run(self, shutdown: CancellationToken) {
        for table in TABLES {
            metrics::counter!("leadgen_housekeeping_deleted_total", "table" => table).increment(0);
        }
        loop {
            match self.pass(&shutdown).await {
                Ok(deleted) if deleted != Deleted::default() => {
                    tracing::info!(
                        ledger = deleted.ledger,
                        operation_log = deleted.operation_log,
                        reveal_records = deleted.reveal_records,
                        search_masks = deleted.search_masks,
                        sync_records = deleted.sync_records,
                        "Housekeeping deleted rows past their retention"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "Housekeeping failed; will try again");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Deletes every ledger entry, operation-log entry, reveal record, searched number and sync
    /// record past its retention (or as many as it could before `shutdown`).
    pub async fn pass(&self, shutdown: &CancellationToken) -> anyhow::Result<Deleted> {
        let now = chrono::Utc::now();
        let ledger_before = now - chrono::Duration::days(i64::from(self.ledger_days.get()));
        let log_before = now - chrono::Duration::days(i64::from(self.operation_log_days.get()));
        let records_before = now - chrono::Duration::days(i64::from(self.sync_record_days.get()));
        let reveals_before = now - chrono::Duration::days(i64::from(self.reveal_record_days.get()));
        let today = now
            .with_timezone(&leadgen_domain::time::beijing())
            .date_naive();
        let batch = i64::from(self.batch.get());
        let mut deleted = Deleted::default();
        let mut conn = leadgen_db::conn(&self.pool).await?;
        for table in TABLES {
            loop {
                let n = match table {
                    LEDGER => {
                        leadgen_outbox::forget_processed_before(&mut conn, ledger_before, batch)
                            .await?
                    }
                    OPERATION_LOG => {
                        housekeeping::delete_operation_log_before(&mut conn, log_before, batch)
                            .await?
                    }
                    REVEAL_RECORDS => {
                        housekeeping::delete_reveal_records_before(&mut conn, reveals_before, batch)
                            .await?
                    }
                    SEARCH_MASKS => {
                        housekeeping::delete_search_masks_before(&mut conn, today, batch).await?
                    }
                    _ => {
                        housekeeping::delete_sync_records_before(&mut conn, records_before, batch)
                            .await?
                    }
                };
                metrics::counter!("leadgen_housekeeping_deleted_total", "table" => table)
                    .increment(n as u64);
                *deleted.of(table) += n;
                if n == 0 || (n as i64) < batch || shutdown.is_cancelled() {
                    break;
                }
            }
        }
        Ok(deleted)
    }
}

impl Deleted {
    /// The count of `table` (one of the metric's labels).
    fn of(&mut self, table: &str) -> &mut usize {
        match table {
            LEDGER => &mut self.ledger,
            OPERATION_LOG => &mut self.operation_log,
            REVEAL_RECORDS => &mut self.reveal_records,
            SEARCH_MASKS => &mut self.search_masks,
            _ => &mut self.sync_records,
        }
    }
}
