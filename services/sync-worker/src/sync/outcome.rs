//! How a sync task ended, and the count of endings an operator watches
//! (`leadgen_sync_tasks_finished_total`): a failure says whose it is, so that the shops whose
//! merchants must authorize again do not page the operator.

use leadgen_domain::{PlatformType, SyncStatus, SyncTrigger};

use crate::repo::tasks::TaskRow;

/// How a task ended, when the infrastructure held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    Completed {
        success: usize,
        failure: usize,
    },
    /// Why, for the metric, and a reason shown to the merchant in the sync record.
    Failed(Cause, String),
    /// The task was cancelled (it already reads CANCELLED); the walk stopped between pages.
    Cancelled,
    /// The task is no longer this run's: another run holds it (this one stalled past its lease
    /// and recovery handed the task over, or the broker redelivered its request), or recovery
    /// or a dead letter ended it. This run stopped without writing and ends nothing.
    Superseded,
    /// The process is stopping ([`super::Syncer::stop`]): the walk stopped between pages, and
    /// the task goes back to be resumed elsewhere, the attempt not counted
    /// ([`crate::handler`]).
    Stopped,
}

/// Whose a failed task is: the `cause` label of `leadgen_sync_tasks_finished_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Not failed (`COMPLETED`, `CANCELLED`).
    None,
    /// The shop cannot be called: its authorization ended, was refused, is missing, or the
    /// merchant paused it. The merchant acts (authorize again, resume); no operator does.
    Authorization,
    /// The platform failed or refused beyond our retries, or its paging does not end.
    Platform,
    /// Recovery gave up on a task whose runs kept stopping ([`crate::recovery`]).
    Interrupted,
    /// Its request was dead-lettered.
    DeadLettered,
    /// Ours: credentials that do not open, a platform this build does not know.
    Internal,
}

impl Cause {
    pub const FAILED: [Cause; 5] = [
        Cause::Authorization,
        Cause::Platform,
        Cause::Interrupted,
        Cause::DeadLettered,
        Cause::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::None => "none",
            Cause::Authorization => "authorization",
            Cause::Platform => "platform",
            Cause::Interrupted => "interrupted",
            Cause::DeadLettered => "dead_lettered",
            Cause::Internal => "internal",
        }
    }
}

/// Creates every series of `leadgen_sync_tasks_finished_total` at 0 when the process starts.
/// A series that first appears at 1 after a restart, where the last process had left it at 1,
/// would show no increase, and the failed-syncs alert would miss it; from 0 the reset is seen.
pub fn register_finished() {
    for platform in PlatformType::ALL {
        for trigger in SyncTrigger::ALL {
            let endings = [
                (SyncStatus::Completed, Cause::None),
                (SyncStatus::Cancelled, Cause::None),
            ]
            .into_iter()
            .chain(Cause::FAILED.map(|cause| (SyncStatus::Failed, cause)));
            for (status, cause) in endings {
                count(*platform, *trigger, status, cause, 0);
            }
        }
    }
}

/// Counts a task that ended (`leadgen_sync_tasks_finished_total`).
pub fn finished(task: &TaskRow, status: SyncStatus, cause: Cause) {
    count(task.platform_type, task.trigger_type, status, cause, 1);
}

fn count(platform: PlatformType, trigger: SyncTrigger, status: SyncStatus, cause: Cause, n: u64) {
    metrics::counter!(
        "leadgen_sync_tasks_finished_total",
        "platform" => platform.as_str(),
        "trigger" => trigger.as_str(),
        "status" => status.as_str(),
        "cause" => cause.as_str(),
    )
    .increment(n);
}
