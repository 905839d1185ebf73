//! One sync task's run: the requested range split into the platform's windows, each walked page
//! by page through a [`Session`] (retries with backoff; an expired session gets one refresh and
//! one retry, the refreshed tokens sealed and stored by `leadgen_shop_session`).

pub mod store;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use leadgen_crypto::Sealer;
use leadgen_db::DbPool;
use leadgen_domain::PlatformType;
use leadgen_platforms::resilience::RetryPolicy;
use leadgen_platforms::session::SessionError;
use leadgen_platforms::{Listing, PageCursor, PlatformError, Registry, TimeWindow};
use leadgen_shop_session::{self as shop_session, CredentialSink};

use crate::repo::credentials;
use crate::repo::tasks::TaskRow;

/// How a task ended, when the infrastructure held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    Completed {
        success: usize,
        failure: usize,
    },
    /// A reason shown to the merchant in the sync record.
    Failed(String),
    /// The task was cancelled (it already reads CANCELLED); the walk stopped between pages.
    Cancelled,
}

/// Runs sync tasks.
#[derive(Clone)]
pub struct Syncer {
    pub pool: DbPool,
    pub sealer: Arc<Sealer>,
    pub platforms: Registry,
    pub policy: RetryPolicy,
    /// How long a running task's lease lasts; every page renews it.
    pub lease: chrono::Duration,
}

impl Syncer {
    /// Runs `task` to its end. `Err` means our infrastructure failed and the request should be
    /// retried; platform problems end as [`TaskOutcome::Failed`].
    pub async fn run(&self, task: &TaskRow, platform: PlatformType) -> anyhow::Result<TaskOutcome> {
        let Some(client) = self.platforms.get(platform) else {
            return Ok(TaskOutcome::Failed(format!(
                "暂不支持该电商平台：{platform}"
            )));
        };
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let Some(row) = shop_session::find(&mut conn, task.tenant_id, task.platform_id).await?
        else {
            return Ok(TaskOutcome::Failed("平台授权不存在".into()));
        };
        drop(conn);
        if row.status != "ACTIVE" {
            return Ok(TaskOutcome::Failed(format!(
                "平台授权状态为 {}，请重新授权",
                row.status
            )));
        }
        let mut session = shop_session::open_session(&self.sealer, &row, self.policy)?;
        let sink = CredentialSink {
            pool: self.pool.clone(),
            sealer: Arc::clone(&self.sealer),
            platform_id: row.id,
        };
        let listing = task.listing();
        let windows = client.windows(
            TimeWindow::new(task.window_start, task.window_end),
            Utc::now(),
            listing,
        );
        let mut seen = HashSet::new();
        let (mut success, mut failure) = (0, 0);
        for window in windows {
            let mut cursor: Option<PageCursor> = None;
            loop {
                let page = match session
                    .list_orders(client.as_ref(), &window, listing, cursor.as_ref(), &sink)
                    .await
                {
                    Ok(page) => page,
                    Err(SessionError::Persist(e)) => anyhow::bail!("storing refreshed tokens: {e}"),
                    Err(SessionError::Expired(reason)) => {
                        tracing::warn!(platform.id = row.id, reason = %reason, "Platform session is dead; marking EXPIRED");
                        let mut conn = leadgen_db::conn(&self.pool).await?;
                        shop_session::mark_expired(&mut conn, row.id, &reason).await?;
                        return Ok(TaskOutcome::Failed("平台会话已失效，请重新授权".into()));
                    }
                    Err(SessionError::Platform(e)) => return Ok(TaskOutcome::Failed(describe(&e))),
                    Err(other) => return Ok(TaskOutcome::Failed(other.to_string())),
                };
                let counts = store::store_page(self, task, platform, &page, &mut seen).await?;
                success += counts.success;
                failure += counts.failure;
                if counts.stopped {
                    return Ok(TaskOutcome::Cancelled);
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            if listing == Listing::Modified {
                // Every page of this window is stored: the next scheduled sync starts here.
                let mut conn = leadgen_db::conn(&self.pool).await?;
                credentials::advance_watermark(&mut conn, row.id, window.end).await?;
            }
        }
        Ok(TaskOutcome::Completed { success, failure })
    }
}

/// A sync record's error message for a platform failure: Chinese, no secrets, and the
/// platform's own code and message where it sent them.
pub fn describe(e: &PlatformError) -> String {
    match e {
        PlatformError::Throttled { .. } => "电商平台限流，重试多次后仍失败".into(),
        PlatformError::SessionExpired => "平台会话已失效，请重新授权".into(),
        PlatformError::AuthRefused(detail) => format!("电商平台拒绝授权，请重新授权（{detail}）"),
        PlatformError::InvalidRequest(detail) => format!("电商平台拒绝请求：{detail}"),
        PlatformError::Unavailable(detail) => {
            format!("电商平台暂不可用，重试多次后仍失败（{detail}）")
        }
        PlatformError::Malformed(detail) => {
            format!("电商平台返回的数据无法解析，重试多次后仍失败（{detail}）")
        }
        PlatformError::Unknown { code, message } => {
            format!("电商平台返回未知错误，重试并刷新授权后仍失败（错误码 {code}：{message}）")
        }
        other => format!("电商平台调用失败：{other}"),
    }
}

/// The retry policy from settings.
pub fn policy(max_retries: usize, max_backoff: Duration) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        min_delay: Duration::from_millis(200),
        max_delay: max_backoff,
    }
}
