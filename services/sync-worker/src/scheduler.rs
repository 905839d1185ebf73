//! Scheduled syncs: every tick, each ACTIVE authorization whose last sync is older than the
//! interval gets a SCHEDULED task and a `SyncRequested`, in one transaction. A shop whose syncs
//! keep failing waits longer each time (`leadgen_domain::sync::failed_sync_backoff`), and one
//! whose BACKFILL failed without ever completing gets the BACKFILL again. The partial unique
//! index on running tasks keeps two replicas (or a manual sync) from running the same platform.
//!
//! A scheduled sync lists orders **by modification time** (`docs/platform-sync.md`) from the
//! shop's watermark (the end of the last by-modification window fully stored) less
//! [`sync::RESUME_OVERLAP_MINUTES`] (clock skew between us and the platform, and writes the
//! platform commits late; before any such window, from the shop's first sync, whatever synced
//! since by creation time; a shop never synced takes [`sync::FIRST_SYNC_DAYS`]), up to now less `settle_seconds` (so no order enters a window while it is walked).
//! Once a day a shop's scheduled sync reads the whole last day of changes again
//! ([`sync::scheduled_start`]), for changes the platform recorded later than the overlap.
//! Orders read twice cost nothing: an unchanged content hash is skipped.

use std::time::Duration;

use chrono::Utc;
use diesel_async::AsyncConnection as _;
use leadgen_db::{DbPool, ScopedFutureExt as _};
use leadgen_domain::audit::AuditAction;
use leadgen_domain::sync::{self, Listing};
use leadgen_domain::{AuthStatus, PlatformType, SyncTaskId, SyncTrigger};
use leadgen_events::{CloudEvent, SyncRequestedV1};
use rand::Rng as _;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::SERVICE;
use crate::repo::{audit, credentials, tasks};

pub struct Scheduler {
    pub pool: DbPool,
    pub interval_minutes: i64,
    pub tick: Duration,
    /// A window ends this long before now.
    pub settle: chrono::Duration,
}

impl Scheduler {
    /// Schedules due platforms once; returns how many tasks were created.
    pub async fn schedule_due(&self) -> anyhow::Result<usize> {
        let started = Utc::now();
        let now = started - self.settle;
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let interval = chrono::Duration::minutes(self.interval_minutes);
        let due = credentials::due_for_sync(&mut conn, started - interval, interval, 100).await?;
        let mut created = 0;
        for platform in due {
            let Ok(platform_type) = platform.platform_type.parse::<PlatformType>() else {
                // A platform a newer build added (a rolling deploy): that build schedules it.
                tracing::info!(
                    platform.id = platform.id.get(),
                    platform.name = %platform.platform_type,
                    "Not scheduling a shop of a platform this build does not know"
                );
                continue;
            };
            // A backfill that failed and never completed left the history missing: it runs
            // again once its own wait has passed (a cancelled one does not: the merchant
            // stopped it); until then the shop's changes are synced as usual. Its days count
            // back from the request, as the first one's did (the settle is for a window's end).
            let (trigger, listing, start) = match platform.failed_backfill_days {
                Some(days) => (
                    SyncTrigger::Backfill,
                    Listing::Created,
                    started - chrono::Duration::days(days),
                ),
                // Changes are read from where the last by-modification window ended; before the
                // first one, from the shop's first sync, not from its last: a manual or backfill
                // sync lists by creation time and reads no change made to an older order after
                // the first fetch.
                None => (
                    SyncTrigger::Scheduled,
                    Listing::Modified,
                    sync::scheduled_start(
                        platform.modified_watermark,
                        platform.first_sync_time,
                        platform.reconciled_at.zip(platform.reconciled_through).map(
                            |(requested_at, window_end)| sync::LastReconcile {
                                requested_at,
                                window_end,
                            },
                        ),
                        now,
                    ),
                ),
            };
            // A trace of its own: the sync it starts runs under it, through the worker, the
            // platform calls and order-processor (the loop's span lives as long as the process,
            // and every scheduled sync would share its trace id).
            let span = tracing::info_span!(
                parent: None,
                "sync.schedule",
                tenant_id = platform.tenant_id.get(),
                platform_id = platform.id.get()
            );
            let task = conn
                .transaction::<Option<SyncTaskId>, anyhow::Error, _>(|conn| {
                    async move {
                        let Some(task_id) = tasks::insert_scheduled(
                            conn,
                            platform.tenant_id,
                            platform.id,
                            platform_type.as_str(),
                            trigger,
                            listing,
                            start..now,
                        )
                        .await?
                        else {
                            return Ok(None);
                        };
                        let event = CloudEvent::new(
                            SERVICE,
                            platform.tenant_id,
                            SyncRequestedV1 {
                                sync_task_id: task_id,
                                platform_id: platform.id,
                                platform_type,
                                trigger,
                                window_start: start,
                                window_end: now,
                                requested_by: None,
                            },
                        );
                        leadgen_outbox::enqueue(conn, SERVICE, &event).await?;
                        // The trigger in the operation log (design 7), the system's; its end
                        // is the task's SYNC_RUN.
                        let ids = (platform.tenant_id, task_id, platform.id);
                        let trace_id = leadgen_telemetry::current_trace_id();
                        audit::log(conn, ids, AuditAction::SyncRequest, Ok(()), &trace_id).await?;
                        Ok(Some(task_id))
                    }
                    .scope_boxed()
                })
                .instrument(span.clone())
                .await?;
            if let Some(task_id) = task {
                span.in_scope(|| {
                    tracing::info!(
                        sync_task.id = task_id.get(),
                        platform.id = platform.id.get(),
                        "Scheduled a sync"
                    );
                });
                created += 1;
            }
        }
        Ok(created)
    }

    /// Sets `leadgen_shops` for every platform and status (0 where none), and
    /// `leadgen_sync_watermark_lag_seconds` for every platform (0 without an ACTIVE shop).
    pub async fn count_shops(&self) -> anyhow::Result<()> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let counts = credentials::count_by_status(&mut conn).await?;
        // Without it the lag keeps its last value; the shop counts are set all the same.
        let lags = credentials::watermark_lag(&mut conn)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "Reading the shops' watermark lag failed; will try again"))
            .ok();
        for platform in PlatformType::ALL {
            if let Some(lags) = &lags {
                let lag = lags
                    .iter()
                    .find(|(p, _)| p == platform.as_str())
                    .map_or(0.0, |(_, seconds)| *seconds);
                metrics::gauge!("leadgen_sync_watermark_lag_seconds", "platform" => platform.as_str())
                    .set(lag);
            }
            for status in AuthStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(p, s, _)| p == platform.as_str() && s == status.as_str())
                    .map_or(0, |(_, _, n)| *n);
                metrics::gauge!("leadgen_shops", "platform" => platform.as_str(), "status" => status.as_str())
                    .set(n as f64);
            }
        }
        Ok(())
    }

    /// Ticks until `cancel` fires, after a random start-up delay so replicas spread out.
    pub async fn run(self, cancel: CancellationToken) {
        let jitter = Duration::from_millis(
            rand::thread_rng().gen_range(0..=self.tick.as_millis().min(60_000) as u64),
        );
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(jitter) => {}
        }
        loop {
            if let Err(e) = self.schedule_due().await {
                tracing::warn!(error = %format!("{e:#}"), "Scheduling syncs failed; will try again");
            }
            if let Err(e) = self.count_shops().await {
                tracing::warn!(error = %format!("{e:#}"), "Counting shops failed; will try again");
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(self.tick) => {}
            }
        }
    }
}
