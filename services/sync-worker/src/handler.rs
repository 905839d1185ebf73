//! The `SyncRequested` consumer. A sync spans many transactions (one per page), so the ledger is
//! checked first and written in the final transaction with the task's outcome; a redelivered
//! request for a finished task changes nothing, and one for an interrupted task resumes it after
//! its last window fully stored ([`crate::repo::tasks::begin_windows`]; raw orders are upserted,
//! so a page read again is neither stored nor announced twice). A sync
//! that outlasts `ack_after` acknowledges its request early (before the broker's consumer
//! timeout would redeliver it mid-walk); its claim and lease answer for it from then on.
//! A process runs at most `[sync] max_running` syncs at once, and a tenant at most
//! `[sync] max_running_per_tenant` across every process ([`Room`]); a request that finds no
//! room goes back to the queue.

use diesel_async::AsyncConnection as _;
use leadgen_db::ScopedFutureExt as _;
use leadgen_domain::audit::AuditAction;
use leadgen_domain::{PlatformType, SyncStatus};
use leadgen_events::{CloudEvent, SyncRequestedV1};
use leadgen_messaging::{EarlyAck, Handler, Incoming, Outcome};

use crate::SERVICE;
use crate::repo::{audit, credentials, tasks};
use crate::sync::outcome::finished;
use crate::sync::{Cause, Syncer, TaskOutcome};

pub struct SyncRequestedHandler {
    pub syncer: Syncer,
    /// How long a run keeps its request unacknowledged (`[sync] ack_after_secs`).
    pub ack_after: std::time::Duration,
    /// The syncs this process may run at once.
    pub room: Room,
}

/// Room for the syncs one process runs at once (`[sync] max_running`). A run holds its place
/// from its claim to its end, after an early acknowledgement too: that acknowledgement gives
/// the delivery's place in the prefetch back, so without this a wave of long backfills would
/// start a prefetch's worth more every `ack_after`, each holding pages in memory and taking the
/// pool's connections. A request that waits `defer_after` for a place (or finds the process
/// stopping) goes back to the queue as a new request and is acknowledged: a replica with room
/// takes it, and the queue's depth is what KEDA scales the workers on.
///
/// A tenant runs at most `per_tenant` syncs at once across every replica
/// ([`Room::with_per_tenant`], `[sync] max_running_per_tenant`): a merchant who backfills twenty
/// shops at once would otherwise hold nearly every place for hours, and the other tenants'
/// scheduled syncs wait behind them. A request over its tenant's share goes back to the queue
/// at once, published again `defer_after` later (holding neither a place nor its delivery's
/// place in the prefetch meanwhile).
pub struct Room {
    places: std::sync::Arc<tokio::sync::Semaphore>,
    defer_after: std::time::Duration,
    per_tenant: usize,
}

/// Why a request went back to the queue (`leadgen_sync_requests_deferred_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deferral {
    /// The process runs `max_running` syncs, or stops.
    NoRoom,
    /// The tenant runs its share across replicas.
    TenantShare,
}

impl Deferral {
    fn as_str(self) -> &'static str {
        match self {
            Deferral::NoRoom => "no_room",
            Deferral::TenantShare => "tenant_share",
        }
    }
}

/// How long a request over its tenant's share waits before it looks a second time.
const TENANT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

impl Room {
    /// Room for `max_running` syncs (at least one), with no share per tenant; a request waits
    /// `defer_after` for a place.
    pub fn new(max_running: usize, defer_after: std::time::Duration) -> Self {
        Room {
            places: std::sync::Arc::new(tokio::sync::Semaphore::new(max_running.max(1))),
            defer_after,
            per_tenant: usize::MAX,
        }
    }

    /// The same, a tenant running at most `per_tenant` syncs (at least one) at once.
    pub fn with_per_tenant(self, per_tenant: usize) -> Self {
        Room {
            per_tenant: per_tenant.max(1),
            ..self
        }
    }

    /// Whether `task`'s tenant has room for it: looked at once, and again after
    /// [`TENANT_POLL`] (a share freed meanwhile is taken without a round trip), unless the
    /// process stops. No place is held meanwhile, and no longer than that is the delivery: a
    /// request over its share goes back to the queue through the outbox, `defer_after` later
    /// ([`Deferral::TenantShare`]), rather than waiting here with its place in the prefetch,
    /// where a tenant's many requests would keep every other tenant's behind them.
    async fn tenant_has_room(
        &self,
        pool: &leadgen_db::DbPool,
        task: &tasks::TaskRow,
        stop: &tokio_util::sync::CancellationToken,
    ) -> anyhow::Result<bool> {
        if self.per_tenant == usize::MAX {
            return Ok(true);
        }
        for look in 0..2 {
            if look > 0 {
                tokio::select! {
                    () = stop.cancelled() => return Ok(false),
                    () = tokio::time::sleep(TENANT_POLL) => {}
                }
            }
            let running = {
                let mut conn = leadgen_db::conn(pool).await?;
                tasks::running_of_tenant(&mut conn, task.tenant_id, task.id).await?
            };
            if usize::try_from(running).unwrap_or(usize::MAX) < self.per_tenant {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A place, or `None` after `defer_after` or once the process stops.
    async fn wait(
        &self,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let place = std::sync::Arc::clone(&self.places).acquire_owned();
        tokio::select! {
            // A free place is taken even while the process stops: the run then stops at its
            // first page and is handed on, as any running one is.
            biased;
            place = place => place.ok(),
            () = tokio::time::sleep(self.defer_after) => None,
            () = stop.cancelled() => None,
        }
    }
}

#[async_trait::async_trait]
impl Handler for SyncRequestedHandler {
    async fn wait_until_ready(&self) {
        leadgen_db::wait_until_reachable(&self.syncer.pool, leadgen_db::OUTAGE_WAIT).await;
    }

    async fn handle(&self, message: Incoming) -> Outcome {
        let event = match CloudEvent::<SyncRequestedV1>::from_slice(&message.body) {
            Ok(event) => event,
            Err(e) => return Outcome::Reject(format!("not a SyncRequested v1 event: {e}")),
        };
        let replayed = message
            .headers
            .contains_key(leadgen_messaging::dead_letter::REPLAYED);
        match self.process(&event, &message.early_ack, replayed).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Retry(format!("{e:#}")),
        }
    }

    /// A request that goes to the dead-letter queue fails its task with the reason, so the shop
    /// is not left with a task RUNNING forever (which would block every later sync).
    async fn dead_lettered(&self, message: &Incoming, reason: &str) {
        let Ok(event) = CloudEvent::<SyncRequestedV1>::from_slice(&message.body) else {
            return;
        };
        if let Err(e) = self.fail_dead_lettered(&event, reason).await {
            tracing::error!(
                sync_task.id = event.data.sync_task_id.get(),
                error = %format!("{e:#}"),
                "Could not fail a dead-lettered sync task"
            );
        }
    }
}

impl SyncRequestedHandler {
    /// Ends a dead-lettered request's task FAILED (when it is still RUNNING) with the reason,
    /// and records it in the operation log.
    pub async fn fail_dead_lettered(
        &self,
        event: &CloudEvent<SyncRequestedV1>,
        reason: &str,
    ) -> anyhow::Result<()> {
        let data = &event.data;
        // The reason is the last attempt's internal error (the database's or the broker's
        // words, in English): logged for operators, never shown to the merchant as the
        // sync's errorMessage.
        tracing::error!(
            sync_task.id = data.sync_task_id.get(),
            reason,
            "Sync request dead-lettered; failing its task"
        );
        let error = format!(
            "{}，本次同步未完成，请稍后重新同步；如反复出现请联系客服",
            tasks::DEAD_LETTERED
        );
        let trace_id = leadgen_telemetry::current_trace_id();
        let message_id = event.id.to_string();
        let message_id = &message_id;
        let (tenant, task_id) = (event.tenant(), data.sync_task_id);
        let mut conn = leadgen_db::conn(&self.syncer.pool).await?;
        conn.transaction::<(), anyhow::Error, _>(|conn| {
            async move {
                let Some(task) = tasks::find(conn, tenant, task_id).await? else {
                    return Ok(());
                };
                if tasks::fail_for_dead_letter(conn, task.id, message_id, &error).await? == 0 {
                    return Ok(());
                }
                // The shop as the task names it, not as the message does.
                let ids = (task.tenant_id, task.id, task.platform_id);
                audit::log(conn, ids, AuditAction::SyncRun, Err(error), &trace_id).await?;
                finished(&task, SyncStatus::Failed, Cause::DeadLettered);
                Ok(())
            }
            .scope_boxed()
        })
        .await?;
        tracing::warn!(sync_task.id = task_id.get(), reason = %reason, "Dead-lettered sync request; task failed");
        Ok(())
    }

    /// `replayed`: the request is an operator's replay of a dead letter (`leadctl dlq replay`).
    async fn process(
        &self,
        event: &CloudEvent<SyncRequestedV1>,
        early_ack: &EarlyAck,
        replayed: bool,
    ) -> anyhow::Result<Outcome> {
        let message_id = event.id.to_string();
        let data = &event.data;
        let mut conn = leadgen_db::conn(&self.syncer.pool).await?;
        if leadgen_outbox::is_processed(&mut conn, SERVICE, &message_id).await? {
            tracing::info!(
                sync_task.id = data.sync_task_id.get(),
                "Duplicate SyncRequested; already handled"
            );
            return Ok(Outcome::Ack);
        }
        let Some(task) = tasks::find(&mut conn, event.tenant(), data.sync_task_id).await? else {
            return Ok(Outcome::Reject(format!(
                "sync task {} of tenant {} does not exist",
                data.sync_task_id, event.tenantid
            )));
        };
        // The task row is what runs: a request naming another shop or platform than its task
        // (a producer's mistake, a hand-edited replay) would sign the shop's credentials into
        // another platform's calls and label its orders with that platform.
        if (task.platform_id, task.platform_type) != (data.platform_id, data.platform_type) {
            return Ok(Outcome::Reject(format!(
                "sync task {} is of shop {} on {}, the request names shop {} on {}",
                task.id, task.platform_id, task.platform_type, data.platform_id, data.platform_type
            )));
        }
        // A request replayed from the DLQ finds its task failed because the request never got
        // through (dead-lettered, or its runs kept being interrupted): it runs again (unless
        // another sync of the shop runs now); any other finished task is done. Only a replay:
        // another request of the same task still queued (a resend) or delivered again must not
        // bring back a task that already failed for the merchant to see.
        let replayed = replayed
            && task.status == SyncStatus::Failed
            && tasks::reopen_interrupted(&mut conn, task.id).await?;
        if replayed {
            let trace_id = leadgen_telemetry::current_trace_id();
            let ids = (task.tenant_id, task.id, task.platform_id);
            audit::log(&mut conn, ids, AuditAction::SyncResume, Ok(()), &trace_id).await?;
            tracing::info!(
                sync_task.id = task.id.get(),
                "Replayed dead letter; the sync runs again"
            );
        } else if task.status != SyncStatus::Running {
            // Not marked handled when the task failed: the same request may be dead-lettered
            // and an operator's replay of it must still run.
            if task.status != SyncStatus::Failed {
                leadgen_outbox::mark_processed(&mut conn, SERVICE, &message_id).await?;
            }
            tracing::info!(
                sync_task.id = task.id.get(),
                sync_task.status = %task.status,
                "SyncRequested for a task already finished; nothing to run"
            );
            return Ok(Outcome::Ack);
        }
        let duplicate = || {
            tracing::info!(
                sync_task.id = task.id.get(),
                "SyncRequested for a task another request's worker runs; not run twice"
            );
            Ok(Outcome::Ack)
        };
        // A duplicate is done at once, not sent round the queue while it waits for room.
        if !tasks::claimable(&mut conn, task.id, &message_id).await? {
            return duplicate();
        }
        drop(conn);
        let stop = &self.syncer.stop;
        if !self
            .room
            .tenant_has_room(&self.syncer.pool, &task, stop)
            .await?
        {
            let why = if stop.is_cancelled() {
                Deferral::NoRoom
            } else {
                Deferral::TenantShare
            };
            self.defer(&task, &message_id, why).await?;
            return Ok(Outcome::Ack);
        }
        let Some(_place) = self.room.wait(stop).await else {
            self.defer(&task, &message_id, Deferral::NoRoom).await?;
            return Ok(Outcome::Ack);
        };
        let mut conn = leadgen_db::conn(&self.syncer.pool).await?;
        let ids = (task.tenant_id, task.id);
        let lease = self.syncer.lease;
        let claim =
            match tasks::start_within(&mut conn, ids, self.room.per_tenant, lease, &message_id)
                .await?
            {
                tasks::Start::Claimed(claim) => claim,
                tasks::Start::Duplicate => return duplicate(),
                tasks::Start::TenantFull => {
                    drop(conn);
                    self.defer(&task, &message_id, Deferral::TenantShare)
                        .await?;
                    return Ok(Outcome::Ack);
                }
            };
        // Its progress as of the claim: a run it replaced may have finished a window since
        // the task was read above, and resuming from that read would walk it twice.
        let task = tasks::find(&mut conn, task.tenant_id, task.id)
            .await?
            .filter(|now| now.claimed_by.as_deref() == Some(claim.as_str()))
            .unwrap_or(tasks::TaskRow {
                claimed_by: Some(claim),
                ..task
            });
        drop(conn);
        tracing::info!(
            sync_task.id = task.id.get(),
            platform.id = task.platform_id.get(),
            "Sync started"
        );

        // A run that outlasts `ack_after` acknowledges its request, before the broker's
        // consumer timeout redelivers it mid-walk; the claim and its lease answer for the run
        // from then on (recovery resumes a task whose lease runs out).
        let run = self.run_claimed(&task, task.platform_type, message_id);
        tokio::pin!(run);
        let result = tokio::select! {
            result = &mut run => result,
            () = tokio::time::sleep(self.ack_after) => {
                tracing::info!(sync_task.id = task.id.get(), "A long sync acknowledges its request; its lease answers for it");
                early_ack.ack().await;
                run.await
            }
        };
        // A run that fails hands the task back, so the request's redelivery (or recovery, once
        // the request was acknowledged) may start it.
        if result.is_err()
            && let Err(e) = self.release(&task, early_ack.acked()).await
        {
            tracing::warn!(sync_task.id = task.id.get(), error = %format!("{e:#}"), "Could not release a failed run's claim; recovery resumes the task");
        }
        result
    }

    /// Releases this run's claim on a task whose run failed (another run's stays), and its
    /// lease when the request was acknowledged early ([`tasks::release`]).
    async fn release(&self, task: &tasks::TaskRow, acked: bool) -> anyhow::Result<()> {
        let Some(claim) = task.claimed_by.as_deref() else {
            return Ok(());
        };
        let mut conn = leadgen_db::conn(&self.syncer.pool).await?;
        tasks::release(&mut conn, task.id, claim, acked).await?;
        Ok(())
    }

    /// Hands a task whose walk stopped with the process on ([`tasks::hand_back`]): a new
    /// request for it, which the relay publishes before the process exits, resumes it on another
    /// worker at once (after the windows stored), and this request is done. False, and nothing
    /// written, when the task no longer runs under this run's claim (cancelled, taken over).
    async fn hand_back(&self, task: &tasks::TaskRow, message_id: &str) -> anyhow::Result<bool> {
        let request = crate::recovery::request_for(task);
        let until = chrono::Utc::now() + self.syncer.lease;
        let claim = task.claimed_by.clone();
        let trace_id = leadgen_telemetry::current_trace_id();
        let ids = (task.tenant_id, task.id, task.platform_id);
        let mut conn = leadgen_db::conn(&self.syncer.pool).await?;
        conn.transaction::<bool, anyhow::Error, _>(|conn| {
            async move {
                let Some(claim) = claim else {
                    return Ok(false);
                };
                if tasks::hand_back(conn, ids.1, &claim, until).await? == 0 {
                    return Ok(false);
                }
                leadgen_outbox::enqueue(conn, SERVICE, &request).await?;
                audit::log(conn, ids, AuditAction::SyncResume, Ok(()), &trace_id).await?;
                leadgen_outbox::mark_processed(conn, SERVICE, message_id).await?;
                Ok(true)
            }
            .scope_boxed()
        })
        .await
    }

    /// Sends `task`'s request back to the queue as a new request (this one done): no room here
    /// (at once: this process waited `defer_after` for a place already), or its tenant runs its
    /// share (published `defer_after` later, [`leadgen_outbox::enqueue_after`]: a share frees
    /// when a sync ends, minutes away). The task is left to the new request: a claim this request held (a redelivery after its
    /// worker died) is released, and the lease held for the new request's way round the queue,
    /// so that neither the claim nor recovery turns it away as a duplicate.
    async fn defer(
        &self,
        task: &tasks::TaskRow,
        message_id: &str,
        why: Deferral,
    ) -> anyhow::Result<()> {
        let request = crate::recovery::request_for(task);
        let delay = self.room.defer_after;
        let until = chrono::Utc::now() + self.syncer.lease;
        let id = task.id;
        let mut conn = leadgen_db::conn(&self.syncer.pool).await?;
        let deferred = conn
            .transaction::<bool, anyhow::Error, _>(|conn| {
                async move {
                    let left = tasks::leave_to_next_request(conn, id, message_id, until).await?;
                    // None left: another request's run took it meanwhile, and this one is a
                    // duplicate.
                    if left > 0 {
                        match why {
                            Deferral::NoRoom => {
                                leadgen_outbox::enqueue(conn, SERVICE, &request).await?;
                            }
                            Deferral::TenantShare => {
                                leadgen_outbox::enqueue_after(conn, SERVICE, &request, delay)
                                    .await?;
                            }
                        }
                    }
                    leadgen_outbox::mark_processed(conn, SERVICE, message_id).await?;
                    Ok(left > 0)
                }
                .scope_boxed()
            })
            .await?;
        if !deferred {
            return Ok(());
        }
        metrics::counter!("leadgen_sync_requests_deferred_total", "reason" => why.as_str())
            .increment(1);
        match why {
            Deferral::NoRoom => tracing::info!(
                sync_task.id = task.id.get(),
                reason = why.as_str(),
                "No room for another sync here; its request goes back to the queue"
            ),
            Deferral::TenantShare => tracing::info!(
                sync_task.id = task.id.get(),
                tenant.id = task.tenant_id.get(),
                reason = why.as_str(),
                "The tenant runs its share of syncs; its request goes back to the queue"
            ),
        }
        Ok(())
    }

    /// Runs a task this worker claimed, and ends it.
    async fn run_claimed(
        &self,
        task: &tasks::TaskRow,
        platform_type: PlatformType,
        message_id: String,
    ) -> anyhow::Result<Outcome> {
        let outcome = match self.syncer.run(task, platform_type).await? {
            TaskOutcome::Stopped => {
                if self.hand_back(task, &message_id).await? {
                    metrics::counter!("leadgen_sync_tasks_handed_on_total", "platform" => task.platform_type.as_str())
                        .increment(1);
                    tracing::info!(
                        sync_task.id = task.id.get(),
                        tenant.id = task.tenant_id.get(),
                        platform.id = task.platform_id.get(),
                        "The process stops; the sync stopped between pages and goes to another worker"
                    );
                    return Ok(Outcome::Ack);
                }
                // No longer this run's to hand on: cancelled meanwhile, or taken over.
                self.syncer.why_stopped(task).await?
            }
            other => other,
        };
        let (status, cause, error) = match &outcome {
            TaskOutcome::Completed { .. } => (SyncStatus::Completed, Cause::None, None),
            TaskOutcome::Failed(cause, reason) => {
                (SyncStatus::Failed, *cause, Some(reason.clone()))
            }
            // The run that holds the task now ends it, and logs its end.
            TaskOutcome::Superseded | TaskOutcome::Stopped => {
                let mut conn = leadgen_db::conn(&self.syncer.pool).await?;
                request_done(&mut conn, task, &message_id).await?;
                return Ok(Outcome::Ack);
            }
            TaskOutcome::Cancelled => {
                // The task already reads CANCELLED (and SYNC_CANCEL says who did it); its end
                // is logged with what it fetched before it stopped.
                finished(task, SyncStatus::Cancelled, Cause::None);
                let trace_id = leadgen_telemetry::current_trace_id();
                let ids = (task.tenant_id, task.id, task.platform_id);
                let mut conn = leadgen_db::conn(&self.syncer.pool).await?;
                conn.transaction::<(), anyhow::Error, _>(|conn| {
                    async move {
                        leadgen_outbox::mark_processed(conn, SERVICE, &message_id).await?;
                        audit::log(conn, ids, AuditAction::SyncRun, Ok(()), &trace_id).await?;
                        Ok(())
                    }
                    .scope_boxed()
                })
                .await?;
                tracing::info!(
                    sync_task.id = task.id.get(),
                    "Sync cancelled; stopped between pages"
                );
                return Ok(Outcome::Ack);
            }
        };
        let trace_id = leadgen_telemetry::current_trace_id();
        let (task_id, tenant, platform_id, window_end) =
            (task.id, task.tenant_id, task.platform_id, task.window_end);
        let claim = task.claimed_by.as_deref();
        let mut conn = leadgen_db::conn(&self.syncer.pool).await?;
        let ended = conn
            .transaction::<bool, anyhow::Error, _>(|conn| {
                let error = error.clone();
                async move {
                    // Cancelled at the last moment, or taken over by another run: that one says
                    // how the task ended; this request is done.
                    if tasks::finish_run(conn, task_id, claim, status, error.as_deref()).await? == 0
                    {
                        request_done(conn, task, &message_id).await?;
                        return Ok(false);
                    }
                    if status == SyncStatus::Completed {
                        credentials::record_synced(conn, platform_id, window_end).await?;
                        tasks::note_unreadable(conn, task_id).await?;
                    }
                    leadgen_outbox::mark_processed(conn, SERVICE, &message_id).await?;
                    let ids = (tenant, task_id, platform_id);
                    audit::log(
                        conn,
                        ids,
                        AuditAction::SyncRun,
                        error.map_or(Ok(()), Err),
                        &trace_id,
                    )
                    .await?;
                    Ok(true)
                }
                .scope_boxed()
            })
            .await?;
        if !ended {
            tracing::info!(
                sync_task.id = task_id.get(),
                "The task no longer runs under this run's claim; its end is not this run's"
            );
            return Ok(Outcome::Ack);
        }
        finished(task, status, cause);
        match outcome {
            TaskOutcome::Completed { success, failure } => {
                tracing::info!(
                    sync_task.id = task_id.get(),
                    tenant.id = task.tenant_id.get(),
                    platform.id = task.platform_id.get(),
                    platform.name = %task.platform_type,
                    orders.success = success,
                    orders.failure = failure,
                    "Sync completed"
                );
            }
            TaskOutcome::Failed(cause, reason) => {
                // Whose: an operator paged by the failed-syncs alert finds the shop from here,
                // by the alert's `cause`.
                tracing::warn!(
                    sync_task.id = task_id.get(),
                    tenant.id = task.tenant_id.get(),
                    platform.id = task.platform_id.get(),
                    platform.name = %task.platform_type,
                    cause = cause.as_str(),
                    reason = %reason,
                    "Sync failed"
                )
            }
            TaskOutcome::Cancelled | TaskOutcome::Superseded | TaskOutcome::Stopped => {}
        }
        Ok(Outcome::Ack)
    }
}

/// Marks the request `message_id` processed for a run of `task` that no longer holds it
/// (cancelled, or taken over); not while another run of the same request holds the task (its
/// redelivery took it over): the request is that run's to mark done. Marked here, a failure of
/// that run would find its own redelivery done already, and the task would wait for recovery's
/// lease, an attempt spent.
async fn request_done(
    conn: &mut leadgen_db::PgConn,
    task: &tasks::TaskRow,
    message_id: &str,
) -> anyhow::Result<()> {
    let now = tasks::find(conn, task.tenant_id, task.id).await?;
    let held_for_this_request = now.is_some_and(|now| {
        now.status == SyncStatus::Running
            && now.claimed_by != task.claimed_by
            && now
                .claimed_by
                .as_deref()
                .is_some_and(|claim| tasks::claimed_for(claim, message_id))
    });
    if !held_for_this_request {
        leadgen_outbox::mark_processed(conn, SERVICE, message_id).await?;
    }
    Ok(())
}
