//! One sync task's run: the requested range split into the platform's windows, each walked page
//! by page with retries; an expired session triggers one token refresh and one retry.

pub mod store;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use diesel_async::AsyncConnection as _;
use leadgen_crypto::Sealer;
use leadgen_db::{DbPool, ScopedFutureExt as _, sealed};
use leadgen_domain::PlatformType;
use leadgen_platforms::resilience::{RetryPolicy, with_retries};
use leadgen_platforms::{
    AppCredentials, OrderPage, PageCursor, PlatformClient, PlatformError, Registry, TimeWindow,
};

use crate::repo::credentials::{self, CredentialRow};
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
}

/// Runs sync tasks.
#[derive(Clone)]
pub struct Syncer {
    pub pool: DbPool,
    pub sealer: Arc<Sealer>,
    pub platforms: Registry,
    pub policy: RetryPolicy,
}

/// The credentials of one run, with the current access token.
struct Session {
    app: AppCredentials,
    access_token: String,
    refresh_token: Option<String>,
    refreshed: bool,
}

impl Syncer {
    /// Runs `task` to its end. `Err` means the infrastructure (database) failed and the request
    /// should be retried; platform problems end as [`TaskOutcome::Failed`].
    pub async fn run(&self, task: &TaskRow, platform: PlatformType) -> anyhow::Result<TaskOutcome> {
        let Some(client) = self.platforms.get(platform) else {
            return Ok(TaskOutcome::Failed(format!(
                "暂不支持该电商平台：{platform}"
            )));
        };
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let Some(row) = credentials::find(&mut conn, task.tenant_id, task.platform_id).await?
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
        let mut session = self.open_session(&row)?;
        let windows = client.windows(
            TimeWindow::new(task.window_start, task.window_end),
            Utc::now(),
        );
        let mut seen = HashSet::new();
        let (mut success, mut failure) = (0, 0);
        for window in windows {
            let mut cursor: Option<PageCursor> = None;
            loop {
                let page = match self
                    .fetch(
                        client.as_ref(),
                        &mut session,
                        &row,
                        &window,
                        cursor.as_ref(),
                    )
                    .await?
                {
                    Ok(page) => page,
                    Err(reason) => return Ok(TaskOutcome::Failed(reason)),
                };
                let counts = store::store_page(self, task, platform, &page, &mut seen).await?;
                success += counts.success;
                failure += counts.failure;
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(TaskOutcome::Completed { success, failure })
    }

    fn open_session(&self, row: &CredentialRow) -> anyhow::Result<Session> {
        let doc = self
            .sealer
            .open(&sealed::platform_auth("auth_info", row.id), &row.auth_info)
            .context("opening auth_info")?;
        let doc: serde_json::Value = serde_json::from_str(&doc)?;
        let access_token = match &row.access_token {
            Some(t) => self
                .sealer
                .open(&sealed::platform_auth("access_token", row.id), t)
                .context("opening access_token")?,
            None => String::new(),
        };
        let refresh_token = match &row.refresh_token {
            Some(t) => Some(
                self.sealer
                    .open(&sealed::platform_auth("refresh_token", row.id), t)
                    .context("opening refresh_token")?,
            ),
            None => None,
        };
        Ok(Session {
            app: AppCredentials {
                app_key: row.app_key.clone(),
                app_secret: doc
                    .get("appSecret")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned(),
            },
            access_token,
            refresh_token,
            refreshed: false,
        })
    }

    /// One page, retrying transient failures; an expired session gets one refresh and one retry
    /// (a second expiry in a row fails the task). The inner
    /// `Err` is a user-facing reason to fail the task with.
    async fn fetch(
        &self,
        client: &dyn PlatformClient,
        session: &mut Session,
        row: &CredentialRow,
        window: &TimeWindow,
        cursor: Option<&PageCursor>,
    ) -> anyhow::Result<Result<OrderPage, String>> {
        loop {
            let token = session.access_token.clone();
            let app = session.app.clone();
            let result = with_retries(self.policy, || {
                client.list_orders(&app, &token, window, cursor)
            })
            .await;
            match result {
                Ok(page) => {
                    // The next expiry (tokens can expire mid-sync) gets its own refresh.
                    session.refreshed = false;
                    return Ok(Ok(page));
                }
                Err(PlatformError::SessionExpired) if !session.refreshed => {
                    session.refreshed = true;
                    if let Err(reason) = self.refresh(client, session, row).await? {
                        return Ok(Err(reason));
                    }
                }
                Err(PlatformError::SessionExpired) => {
                    self.expire(row.id).await?;
                    return Ok(Err("平台会话已失效且刷新后仍无效，请重新授权".into()));
                }
                Err(e) => return Ok(Err(describe(&e))),
            }
        }
    }

    async fn refresh(
        &self,
        client: &dyn PlatformClient,
        session: &mut Session,
        row: &CredentialRow,
    ) -> anyhow::Result<Result<(), String>> {
        let Some(refresh_token) = session.refresh_token.clone() else {
            self.expire(row.id).await?;
            return Ok(Err("平台会话已过期且无法刷新，请重新授权".into()));
        };
        let tokens = match with_retries(self.policy, || {
            client.refresh(&session.app, &refresh_token)
        })
        .await
        {
            Ok(tokens) => tokens,
            Err(e) => {
                if !e.is_transient() {
                    self.expire(row.id).await?;
                }
                return Ok(Err(format!("刷新平台令牌失败：{}", describe(&e))));
            }
        };
        let access = self.sealer.seal(
            &sealed::platform_auth("access_token", row.id),
            &tokens.access_token,
        )?;
        let new_refresh = tokens
            .refresh_token
            .clone()
            .or_else(|| Some(refresh_token.clone()));
        let refresh = match &new_refresh {
            Some(t) => Some(
                self.sealer
                    .seal(&sealed::platform_auth("refresh_token", row.id), t)?,
            ),
            None => None,
        };
        let mut conn = leadgen_db::conn(&self.pool).await?;
        credentials::store_refreshed(
            &mut conn,
            row.id,
            &access,
            refresh.as_deref(),
            tokens.expires_at,
            tokens.refresh_expires_at,
        )
        .await?;
        tracing::info!(platform.id = row.id, "Refreshed the platform session");
        session.access_token = tokens.access_token;
        session.refresh_token = new_refresh;
        Ok(Ok(()))
    }

    async fn expire(&self, platform_id: i64) -> anyhow::Result<()> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        conn.transaction::<_, anyhow::Error, _>(|conn| {
            async move {
                credentials::mark_expired(conn, platform_id).await?;
                Ok(())
            }
            .scope_boxed()
        })
        .await
    }
}

/// A sync record's error message for a platform failure (Chinese, no secrets).
pub fn describe(e: &PlatformError) -> String {
    match e {
        PlatformError::Throttled { .. } => "电商平台限流，重试多次后仍失败".into(),
        PlatformError::SessionExpired => "平台会话已失效，请重新授权".into(),
        PlatformError::AuthRefused(_) => "电商平台拒绝授权，请重新授权".into(),
        PlatformError::InvalidRequest(detail) => format!("电商平台拒绝请求：{detail}"),
        PlatformError::Unavailable(_) => "电商平台暂不可用，重试多次后仍失败".into(),
        PlatformError::Malformed(_) => "电商平台返回的数据无法解析，重试多次后仍失败".into(),
        _ => "电商平台调用失败".into(),
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
