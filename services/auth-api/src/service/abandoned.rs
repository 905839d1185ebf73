//! Consents never completed: a new authorization whose merchant left the platform's consent
//! page (or never reached it) would stay PENDING_AUTH for ever, its state long expired. Every
//! minute, each one older than `[oauth] state_ttl_minutes` becomes INVALID with why, in one
//! transaction with its operation-log line (`PLATFORM_AUTH_ACTIVATE`, failed, by the system)
//! and its `platform.changed.v1`. A re-authorization pending on a connected shop is not touched:
//! its state just expires.

use std::time::Duration;

use diesel_async::AsyncConnection as _;
use leadgen_db::oplog::{self, Entry, Operator};
use leadgen_db::{DbPool, ScopedFutureExt as _};
use leadgen_domain::AuthStatus;
use leadgen_domain::audit::{AuditAction, AuditTarget};
use tokio_util::sync::CancellationToken;

use crate::SERVICE;
use crate::error::AuthApiError;
use crate::repo::platforms as repo;
use crate::service::announce;

/// Rows handled per pass.
const BATCH: i64 = 100;

pub struct AbandonedConsents {
    pub pool: DbPool,
    /// `[oauth] state_ttl_minutes`: past it, the consent can no longer complete.
    pub ttl: chrono::Duration,
    pub every: Duration,
}

impl AbandonedConsents {
    /// Expires one batch; how many authorizations became INVALID.
    pub async fn expire_once(&self) -> Result<usize, AuthApiError> {
        let reason = format!(
            "授权未在 {} 分钟内完成，已失效；如需接入该店铺，请重新发起授权",
            self.ttl.num_minutes()
        );
        let ttl = self.ttl;
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let trace_id = leadgen_telemetry::current_trace_id();
        conn.transaction::<usize, AuthApiError, _>(|conn| {
            async move {
                let exchange_lease =
                    chrono::Duration::minutes(crate::service::exchange_claim::LEASE_MINUTES);
                let expired =
                    repo::expire_abandoned(conn, (ttl, exchange_lease), &reason, BATCH).await?;
                for row in &expired {
                    let entry = Entry {
                        tenant_id: row.tenant_id,
                        service: SERVICE,
                        operator: &Operator::System,
                        action: AuditAction::PlatformAuthActivate,
                        target_type: AuditTarget::PlatformAuth,
                        target_ids: vec![row.id.to_string()],
                        result: Err(reason.clone()),
                    };
                    oplog::record(conn, entry, &trace_id).await?;
                    announce::status_change(conn, AuthStatus::PendingAuth, row).await?;
                }
                Ok(expired.len())
            }
            .scope_boxed()
        })
        .await
    }

    /// Expires abandoned consents every `every` until `cancel`; batch after batch while full
    /// ones come, so that more than a batch a minute lapsing never builds up.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            loop {
                match self.expire_once().await {
                    Ok(0) => break,
                    Ok(n) => {
                        tracing::info!(expired = n, "Abandoned consents marked INVALID");
                        if (n as i64) < BATCH || cancel.is_cancelled() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Could not expire abandoned consents");
                        break;
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
        }
    }
}
