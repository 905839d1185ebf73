//! No sync task stays RUNNING forever. A running task's lease is renewed with every page
//! ([`crate::repo::tasks::add_page`]); when it expires (the worker was killed mid-sync), or a task
//! never started within the lease (its `SyncRequested` was lost), recovery **resumes** it with a
//! new `SyncRequested` (the run resumes after the task's last window fully stored: stored orders
//! upsert, so nothing is duplicated) or, after `max_attempts` runs, **fails** it with the reason. Every
//! replica may run recovery: `FOR UPDATE SKIP LOCKED` gives each expired task to one of them.
//! A dead-lettered request fails its task at once ([`crate::handler`]); a run whose process
//! stops hands its task on itself, the attempt not counted ([`crate::handler`]).

use std::time::Duration;

use chrono::Utc;
use diesel_async::AsyncConnection as _;
use leadgen_db::{DbPool, ScopedFutureExt as _};
use leadgen_domain::audit::AuditAction;
use leadgen_domain::{SyncStatus, UserId};
use leadgen_events::{CloudEvent, SyncRequestedV1};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::SERVICE;
use crate::repo::audit;
use crate::repo::tasks::{self, TaskRow};

/// Resumes `task` (its lease expired), or fails it after its last attempt; true when resumed.
async fn recover_task(
    conn: &mut diesel_async::AsyncPgConnection,
    task: &TaskRow,
    now: chrono::DateTime<Utc>,
    (lease, max_attempts): (chrono::Duration, i32),
) -> anyhow::Result<bool> {
    let trace_id = leadgen_telemetry::current_trace_id();
    let ids = (task.tenant_id, task.id, task.platform_id);
    if task.attempts >= max_attempts {
        let reason = format!(
            "{}，已尝试 {} 次仍未完成，请稍后重新同步",
            tasks::INTERRUPTED,
            task.attempts
        );
        tasks::finish(conn, task.id, SyncStatus::Failed, Some(&reason)).await?;
        audit::log(conn, ids, AuditAction::SyncRun, Err(reason), &trace_id).await?;
        crate::sync::outcome::finished(task, SyncStatus::Failed, crate::sync::Cause::Interrupted);
        tracing::warn!(
            sync_task.id = task.id.get(),
            tenant.id = task.tenant_id.get(),
            platform.id = task.platform_id.get(),
            attempts = task.attempts,
            cause = "interrupted",
            "Sync failed: its lease expired after its last attempt"
        );
        return Ok(false);
    }
    let request = request_for(task);
    tasks::hand_over(conn, task, now, lease).await?;
    leadgen_outbox::enqueue(conn, SERVICE, &request).await?;
    audit::log(conn, ids, AuditAction::SyncResume, Ok(()), &trace_id).await?;
    tracing::info!(
        sync_task.id = task.id.get(),
        tenant.id = task.tenant_id.get(),
        platform.id = task.platform_id.get(),
        attempts = task.attempts,
        "Resumed a sync whose lease expired"
    );
    Ok(true)
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    pub resumed: usize,
    pub failed: usize,
}

pub struct Recovery {
    pub pool: DbPool,
    pub lease: chrono::Duration,
    pub max_attempts: i32,
    pub interval: Duration,
}

impl Recovery {
    /// One pass over expired leases (at most 100 tasks).
    pub async fn recover_once(&self) -> anyhow::Result<Recovered> {
        let (lease, max_attempts) = (self.lease, self.max_attempts);
        let mut conn = leadgen_db::conn(&self.pool).await?;
        conn.transaction::<Recovered, anyhow::Error, _>(|conn| {
            async move {
                let now = Utc::now();
                let mut done = Recovered::default();
                for task in tasks::expired(conn, now, lease, 100).await? {
                    // A trace of its own per task, as the sync it resumes runs under it (the
                    // loop's span lives as long as the process).
                    let span = tracing::info_span!(
                        parent: None,
                        "sync.recover",
                        tenant_id = task.tenant_id.get(),
                        platform_id = task.platform_id.get(),
                        sync_id = task.id.get()
                    );
                    let resumed = recover_task(conn, &task, now, (lease, max_attempts))
                        .instrument(span)
                        .await?;
                    if resumed {
                        done.resumed += 1;
                    } else {
                        done.failed += 1;
                    }
                }
                Ok(done)
            }
            .scope_boxed()
        })
        .await
    }

    /// Passes every `interval` until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            match self.recover_once().await {
                Ok(done) if done != Recovered::default() => {
                    tracing::warn!(
                        tasks.resumed = done.resumed,
                        tasks.failed = done.failed,
                        "Recovered sync tasks whose lease expired"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "Sync recovery failed; will try again")
                }
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}

/// The new `SyncRequested` that resumes `task` (enqueued in the recovery transaction; the outbox
/// relays it).
pub(crate) fn request_for(task: &TaskRow) -> CloudEvent<SyncRequestedV1> {
    CloudEvent::new(
        SERVICE,
        task.tenant_id,
        SyncRequestedV1 {
            sync_task_id: task.id,
            platform_id: task.platform_id,
            platform_type: task.platform_type,
            trigger: task.trigger_type,
            window_start: task.window_start,
            window_end: task.window_end,
            requested_by: task.requested_by.map(UserId::new),
        },
    )
}
