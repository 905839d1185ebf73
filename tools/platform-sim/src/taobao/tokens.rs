//! Authorization codes, access tokens (TOP `session`) and refresh tokens, kept in the shared
//! [`crate::tokens::Store`]. A code is bound to the `redirect_uri` it was issued for; tokens are
//! `6201…`/`6202…` followed by 44 hex digits and the shop's user id; a refresh replaces both
//! tokens. Codes and tokens belong to the shop (app key and seller) that consented.

use chrono::{DateTime, Utc};

use crate::shop::{ALNUM, LOWER_HEX, ShopKey, random_string};
use crate::tokens::TokenProblem as Problem;
use crate::tokens::{CallBudget, CodeOrder, CodeProblem, IssuedTokens, Lifetimes, Store};

/// How long an authorization code can be exchanged.
pub const CODE_TTL_SECS: i64 = 600;

/// Why a session was refused.
pub use crate::tokens::Refusal as SessionProblem;

/// The `sub_msg` TOP answers with code 27.
pub fn sub_msg(problem: SessionProblem) -> &'static str {
    match problem {
        SessionProblem::Unknown => "SessionKey非法",
        SessionProblem::Expired | SessionProblem::CallsExhausted => "SessionKey已过期",
    }
}

/// Codes carry their `redirect_uri`; refresh tokens the shop's user id.
#[derive(Debug, Default)]
pub struct TokenStore {
    store: Store<String, u64>,
}

fn token(prefix: &str, user_id: u64) -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{prefix}{}{user_id}",
        random_string(&mut rng, LOWER_HEX, 44)
    )
}

impl TokenStore {
    /// A new single-use code for `shop`, bound to `redirect_uri`.
    pub fn issue_code(&mut self, shop: &ShopKey, redirect_uri: &str, now: DateTime<Utc>) -> String {
        let code = random_string(&mut rand::thread_rng(), ALNUM, 32);
        let uri = redirect_uri.to_owned();
        self.store.insert_code(code, shop, uri, CODE_TTL_SECS, now)
    }

    /// Consumes `code` if it is live, belongs to `app_key` and was issued for `redirect_uri`;
    /// answers the shop it authorizes.
    pub fn take_code(
        &mut self,
        code: &str,
        app_key: &str,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<ShopKey, &'static str> {
        let same_uri = |uri: &String| uri == redirect_uri;
        let order = CodeOrder::ExpiryFirst;
        self.store
            .take_code(code, app_key, now, order, same_uri)
            .map_err(|p| match p {
                CodeProblem::Unknown => "authorization code is invalid or already used",
                CodeProblem::Expired => "authorization code is expired",
                CodeProblem::OtherApp => "authorization code was issued to another client",
                CodeProblem::Mismatch => "redirect_uri does not match the one used to get the code",
            })
    }

    /// Issues an access/refresh token pair for `shop`, whose user id is `user_id`.
    pub fn issue(
        &mut self,
        shop: &ShopKey,
        user_id: u64,
        life: Lifetimes,
        now: DateTime<Utc>,
    ) -> IssuedTokens {
        let pair = (token("6201", user_id), token("6202", user_id));
        self.store.issue_pair(shop, pair, life, now, user_id)
    }

    /// Trades a live refresh token for a new pair of the same shop; the old access and refresh
    /// tokens stop working.
    pub fn refresh(
        &mut self,
        app_key: &str,
        refresh_token: &str,
        life: Lifetimes,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, &'static str> {
        let (shop, user_id) =
            self.store
                .rotate(app_key, refresh_token, now)
                .map_err(|p| match p {
                    Problem::OtherApp => "refresh_token was issued to another client",
                    Problem::Expired => "refresh_token is expired",
                    Problem::Unknown | Problem::CallsExhausted => "refresh_token is invalid",
                })?;
        Ok(self.issue(&shop, user_id, life, now))
    }

    /// Whether `session` may call the API for `app_key` now; answers the shop it calls for.
    pub fn check_session(
        &mut self,
        app_key: &str,
        session: &str,
        now: DateTime<Utc>,
        ttl_calls: Option<u64>,
        generation: u64,
    ) -> Result<ShopKey, SessionProblem> {
        let budget = CallBudget {
            ttl_calls,
            generation,
        };
        self.store
            .check(app_key, session, now, budget)
            .map_err(SessionProblem::from)
    }

    /// Counts one successful API call made with `session`.
    pub fn record_call(&mut self, session: &str) {
        self.store.record_call(session);
    }
}
