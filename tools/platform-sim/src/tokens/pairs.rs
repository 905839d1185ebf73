//! The token store of a platform whose codes and tokens carry nothing but their shop (app key
//! and seller) and whose refresh always issues a new pair for the same shop and retires the old
//! one (JD, PDD, Kuaishou). What differs is the platform's [`PairRules`].

use std::marker::PhantomData;

use chrono::{DateTime, Utc};

use super::{CallBudget, CodeOrder, CodeProblem, IssuedTokens, Lifetimes, Store, TokenProblem};
use crate::shop::ShopKey;

/// What a platform decides: what codes and tokens look like, how long a code lives, which code
/// check comes first, and its messages.
pub trait PairRules {
    const CODE_TTL_SECS: i64;
    const CODE_ORDER: CodeOrder;

    fn new_code() -> String;

    /// A new `(access_token, refresh_token)`.
    fn new_pair() -> (String, String);

    /// Why a code was refused, in the platform's words.
    fn code_message(problem: CodeProblem) -> &'static str;

    /// Why a refresh token was refused, in the platform's words.
    fn refresh_message(problem: TokenProblem) -> &'static str;
}

#[derive(Debug)]
pub struct PairStore<P> {
    store: Store,
    rules: PhantomData<P>,
}

impl<P> Default for PairStore<P> {
    fn default() -> Self {
        PairStore {
            store: Store::default(),
            rules: PhantomData,
        }
    }
}

impl<P: PairRules> PairStore<P> {
    /// A new single-use code for `shop`.
    pub fn issue_code(&mut self, shop: &ShopKey, now: DateTime<Utc>) -> String {
        self.store
            .insert_code(P::new_code(), shop, (), P::CODE_TTL_SECS, now)
    }

    /// Consumes `code` if it is live and belongs to `app_key`; answers the shop it authorizes.
    pub fn take_code(
        &mut self,
        code: &str,
        app_key: &str,
        now: DateTime<Utc>,
    ) -> Result<ShopKey, &'static str> {
        self.store
            .take_code(code, app_key, now, P::CODE_ORDER, |()| true)
            .map_err(P::code_message)
    }

    /// Issues an access/refresh token pair for `shop`.
    pub fn issue(&mut self, shop: &ShopKey, life: Lifetimes, now: DateTime<Utc>) -> IssuedTokens {
        self.store.issue_pair(shop, P::new_pair(), life, now, ())
    }

    /// Trades a live refresh token of `app_key` for a new pair of the same shop; the old access
    /// and refresh tokens stop working.
    pub fn refresh(
        &mut self,
        app_key: &str,
        refresh_token: &str,
        life: Lifetimes,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, &'static str> {
        let (shop, ()) = self
            .store
            .rotate(app_key, refresh_token, now)
            .map_err(P::refresh_message)?;
        Ok(self.issue(&shop, life, now))
    }

    /// Whether `token` may call the API for `app_key` now; answers the shop it calls for.
    pub fn check_token(
        &mut self,
        app_key: &str,
        token: &str,
        now: DateTime<Utc>,
        budget: CallBudget,
    ) -> Result<ShopKey, TokenProblem> {
        self.store.check(app_key, token, now, budget)
    }

    /// Counts one successful API call made with `token`.
    pub fn record_call(&mut self, token: &str) {
        self.store.record_call(token);
    }
}
