//! A platform session: the shop's tokens and the one policy every caller shares. Transient
//! failures are retried with backoff ([`crate::resilience`]); an expired session gets one
//! refresh and one retry (a later expiry in the same run gets its own), and the refreshed tokens
//! are handed to a [`TokenSink`] to persist before they are used. Listing orders and revealing a
//! contact ([`Session::decrypt_contact`]) follow the same policy; a decrypt refusal (purpose,
//! permission, quota, item) is permanent and returned at once.

use crate::client::{
    AppCredentials, OrderPage, PageCursor, PlatformClient, PlatformError, TokenSet,
};
use crate::resilience::{RetryPolicy, with_retries};
use crate::reveal::{DecryptRequest, RevealedContact};
use crate::window::TimeWindow;

/// Persists refreshed tokens (sealed, in the authorization's row).
#[async_trait::async_trait]
pub trait TokenSink: Send + Sync {
    async fn store(&self, tokens: &TokenSet) -> Result<(), String>;
}

/// Why a session call failed for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The session is dead: no refresh token, the refresh was refused, or the refreshed session
    /// was refused again. The merchant must authorize again.
    #[error("the platform session expired and could not be renewed: {0}")]
    Expired(String),
    /// The platform failed permanently, or transiently beyond the retry budget.
    #[error(transparent)]
    Platform(PlatformError),
    /// Refreshed tokens could not be stored (our infrastructure).
    #[error("cannot store refreshed tokens: {0}")]
    Persist(String),
}

/// A shop's credentials and current tokens.
pub struct Session {
    pub app: AppCredentials,
    access_token: String,
    refresh_token: Option<String>,
    policy: RetryPolicy,
}

impl Session {
    pub fn new(
        app: AppCredentials,
        access_token: String,
        refresh_token: Option<String>,
        policy: RetryPolicy,
    ) -> Self {
        Session {
            app,
            access_token,
            refresh_token,
            policy,
        }
    }

    /// One page of orders under the session policy.
    pub async fn list_orders(
        &mut self,
        client: &dyn PlatformClient,
        window: &TimeWindow,
        cursor: Option<&PageCursor>,
        sink: &dyn TokenSink,
    ) -> Result<OrderPage, SessionError> {
        self.call(client, sink, |app, token| async move {
            client.list_orders(&app, &token, window, cursor).await
        })
        .await
    }

    /// One order's receiver phone through the platform's decrypt API, under the session policy
    /// (see [`PlatformClient::decrypt_contact`]).
    pub async fn decrypt_contact(
        &mut self,
        client: &dyn PlatformClient,
        request: &DecryptRequest,
        sink: &dyn TokenSink,
    ) -> Result<RevealedContact, SessionError> {
        self.call(client, sink, |app, token| async move {
            client.decrypt_contact(&app, &token, request).await
        })
        .await
    }

    /// Runs `op` with the current credentials and access token: transient failures retried, an
    /// expired session refreshed once (persisted through `sink`) and `op` run again. `op` takes
    /// owned values so its future borrows nothing of the session (and stays `Send`).
    async fn call<T, Fut>(
        &mut self,
        client: &dyn PlatformClient,
        sink: &dyn TokenSink,
        mut op: impl FnMut(AppCredentials, String) -> Fut,
    ) -> Result<T, SessionError>
    where
        Fut: Future<Output = Result<T, PlatformError>>,
    {
        let mut refreshed = false;
        loop {
            let (app, token) = (self.app.clone(), self.access_token.clone());
            match with_retries(self.policy, || op(app.clone(), token.clone())).await {
                Ok(value) => return Ok(value),
                Err(PlatformError::SessionExpired) if !refreshed => {
                    refreshed = true;
                    self.refresh(client, sink).await?;
                }
                Err(PlatformError::SessionExpired) => {
                    return Err(SessionError::Expired(
                        "the refreshed session was refused too".into(),
                    ));
                }
                Err(e) => return Err(SessionError::Platform(e)),
            }
        }
    }

    async fn refresh(
        &mut self,
        client: &dyn PlatformClient,
        sink: &dyn TokenSink,
    ) -> Result<(), SessionError> {
        let Some(refresh_token) = self.refresh_token.clone() else {
            return Err(SessionError::Expired("no refresh token".into()));
        };
        let app = self.app.clone();
        let mut tokens =
            match with_retries(self.policy, || client.refresh(&app, &refresh_token)).await {
                Ok(tokens) => tokens,
                Err(e) if e.is_transient() => return Err(SessionError::Platform(e)),
                Err(e) => return Err(SessionError::Expired(e.to_string())),
            };
        // Some platforms keep the refresh token across refreshes and do not send it again.
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token);
        }
        sink.store(&tokens).await.map_err(SessionError::Persist)?;
        tracing::info!(app.key = %self.app.app_key, "Refreshed the platform session");
        self.access_token = tokens.access_token;
        self.refresh_token = tokens.refresh_token;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::*;
    use crate::registry::{Endpoint, Transport};
    use crate::reveal::RevealPurpose;
    use crate::taobao::TaobaoClient;

    struct NoSink;

    #[async_trait::async_trait]
    impl TokenSink for NoSink {
        async fn store(&self, _: &TokenSet) -> Result<(), String> {
            Ok(())
        }
    }

    /// Like the services' async-trait handlers: awaited inside a boxed `Send` future.
    fn boxed_send<'a, T>(
        future: impl std::future::Future<Output = T> + Send + 'a,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>> {
        Box::pin(future)
    }

    /// The services call the session from `Send` futures (async-trait handlers).
    #[test]
    fn session_futures_are_send() {
        let endpoint = Endpoint {
            api_url: "http://127.0.0.1:1/router/rest".into(),
            authorize_url: "http://127.0.0.1:1/authorize".into(),
            token_url: "http://127.0.0.1:1/token".into(),
            qps: 1,
            timeout: Duration::from_secs(1),
        };
        let client = TaobaoClient::new(Transport::new(endpoint).unwrap());
        let mut session = Session::new(
            AppCredentials::new("k", "s"),
            "t".into(),
            None,
            RetryPolicy::default(),
        );
        let window = TimeWindow::new(Utc::now(), Utc::now());
        drop(boxed_send(async {
            session.list_orders(&client, &window, None, &NoSink).await
        }));
        let request = DecryptRequest {
            order_id: "1".into(),
            ciphertext: "o".into(),
            purpose: RevealPurpose::AfterSales,
            operator_id: None,
        };
        drop(boxed_send(async {
            session.decrypt_contact(&client, &request, &NoSink).await
        }));
    }
}
