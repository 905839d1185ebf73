//! The bookkeeping every platform's OAuth server shares: single-use authorization codes, access
//! tokens and refresh tokens, each bound to the shop it was issued for (the app it was issued
//! to and the seller who consented, a [`ShopKey`]) and expiring, and the per-token call count
//! behind the `token_ttl_calls` fault. A code carries its shop to the tokens it is exchanged
//! for, a refresh carries it to the new pair, and a token check answers with it: the API calls a
//! token makes see that shop's orders only.
//!
//! What a platform decides stays in its own `tokens` module: what codes and tokens look like and
//! how long they live, which check it reports first ([`CodeOrder`]), its messages, what else a
//! code or a refresh token carries (`C`, `R`), and what a refresh does with the old pair.

mod pairs;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::faults::FaultEngine;
use crate::shop::ShopKey;
use crate::state::SimConfig;

pub use pairs::{PairRules, PairStore};

/// Token lifetimes in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: i64,
    pub refresh: i64,
}

impl Lifetimes {
    /// The lifetimes the simulator was started with.
    pub fn of(config: &SimConfig) -> Self {
        Lifetimes {
            access: config.token_expires_in,
            refresh: config.refresh_expires_in,
        }
    }
}

/// A freshly issued token pair.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The shop the pair calls for.
    pub shop: ShopKey,
    pub access_token: String,
    pub refresh_token: String,
    pub issued_at: DateTime<Utc>,
    pub expires_in: i64,
    pub refresh_expires_in: i64,
}

/// The fault settings that decide whether a token is used up.
#[derive(Debug, Clone, Copy)]
pub struct CallBudget {
    pub ttl_calls: Option<u64>,
    pub generation: u64,
}

impl CallBudget {
    /// The budget the current faults set.
    pub fn of(faults: &FaultEngine) -> Self {
        CallBudget {
            ttl_calls: faults.token_ttl_calls(),
            generation: faults.generation(),
        }
    }
}

/// An authorization code and what the platform binds to it besides the shop.
#[derive(Debug, Clone)]
pub struct Code<C> {
    pub shop: ShopKey,
    pub expires_at: DateTime<Utc>,
    pub extra: C,
}

#[derive(Debug, Clone)]
pub struct Access {
    pub shop: ShopKey,
    pub expires_at: DateTime<Utc>,
    /// Successful API calls made with this token under fault generation `generation`.
    calls: u64,
    generation: u64,
}

impl Access {
    /// Whether `budget` has used the token up (a new fault generation starts its count again).
    pub fn used_up(&mut self, budget: CallBudget) -> bool {
        if self.generation != budget.generation {
            self.generation = budget.generation;
            self.calls = 0;
        }
        budget.ttl_calls.is_some_and(|ttl| self.calls >= ttl)
    }
}

/// A refresh token, the access token issued with it, and what else the platform keeps.
#[derive(Debug, Clone)]
pub struct Refresh<R> {
    pub shop: ShopKey,
    pub expires_at: DateTime<Utc>,
    pub access_token: String,
    pub extra: R,
}

/// Which failure a code check reports when a code is both expired and another app's. An
/// expired code is used up either way; a code shown by another app stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOrder {
    ExpiryFirst,
    OwnerFirst,
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    /// Never issued, or already used or expired and dropped.
    Unknown,
    OtherApp,
    Expired,
    /// The platform's own check on what the code carries failed.
    Mismatch,
}

/// Why a refresh token or an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Never issued, or replaced by a refresh.
    Unknown,
    OtherApp,
    Expired,
    /// The `token_ttl_calls` fault used it up.
    CallsExhausted,
}

/// Why an access token was refused, for platforms that do not tell another app's token from an
/// unknown one (TOP's `session`, JOS's and PDD's `access_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Never issued, issued to another app, or replaced by a refresh.
    Unknown,
    Expired,
    /// The `token_ttl_calls` fault used it up.
    CallsExhausted,
}

impl From<TokenProblem> for Refusal {
    fn from(problem: TokenProblem) -> Self {
        match problem {
            TokenProblem::Unknown | TokenProblem::OtherApp => Refusal::Unknown,
            TokenProblem::Expired => Refusal::Expired,
            TokenProblem::CallsExhausted => Refusal::CallsExhausted,
        }
    }
}

/// Codes (carrying `C`), access tokens, and refresh tokens (carrying `R`).
#[derive(Debug)]
pub struct Store<C = (), R = ()> {
    codes: HashMap<String, Code<C>>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh<R>>,
}

impl<C, R> Default for Store<C, R> {
    fn default() -> Self {
        Store {
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
        }
    }
}

impl<C, R: Clone> Store<C, R> {
    /// Drops the expired codes, then keeps `code` for `shop` for `ttl_secs`; returns it.
    pub fn insert_code(
        &mut self,
        code: String,
        shop: &ShopKey,
        extra: C,
        ttl_secs: i64,
        now: DateTime<Utc>,
    ) -> String {
        self.codes.retain(|_, c| c.expires_at > now);
        let record = Code {
            shop: shop.clone(),
            expires_at: now + Duration::seconds(ttl_secs),
            extra,
        };
        self.codes.insert(code.clone(), record);
        code
    }

    /// Consumes `code` if it is live, belongs to `app_key` and what it carries satisfies
    /// `accept`; `order` decides which failure an expired code of another app reports. Answers
    /// the shop the code authorizes.
    pub fn take_code(
        &mut self,
        code: &str,
        app_key: &str,
        now: DateTime<Utc>,
        order: CodeOrder,
        accept: impl FnOnce(&C) -> bool,
    ) -> Result<ShopKey, CodeProblem> {
        let record = self.codes.get(code).ok_or(CodeProblem::Unknown)?;
        let expired = record.expires_at <= now;
        let other_app = record.shop.app_key != app_key;
        if other_app && (order == CodeOrder::OwnerFirst || !expired) {
            return Err(CodeProblem::OtherApp);
        }
        if expired {
            self.codes.remove(code);
            return Err(CodeProblem::Expired);
        }
        if !accept(&record.extra) {
            return Err(CodeProblem::Mismatch);
        }
        let shop = record.shop.clone();
        self.codes.remove(code);
        Ok(shop)
    }

    /// Keeps a new pair issued for `shop`.
    pub fn insert_pair(
        &mut self,
        shop: &ShopKey,
        access_token: &str,
        access_expires_at: DateTime<Utc>,
        refresh_token: &str,
        refresh_expires_at: DateTime<Utc>,
        extra: R,
    ) {
        let access = Access {
            shop: shop.clone(),
            expires_at: access_expires_at,
            calls: 0,
            generation: 0,
        };
        self.access.insert(access_token.to_owned(), access);
        let refresh = Refresh {
            shop: shop.clone(),
            expires_at: refresh_expires_at,
            access_token: access_token.to_owned(),
            extra,
        };
        self.refresh.insert(refresh_token.to_owned(), refresh);
    }

    /// Keeps a new pair issued for `shop` that lives `life` from `now`.
    pub fn issue_pair(
        &mut self,
        shop: &ShopKey,
        (access_token, refresh_token): (String, String),
        life: Lifetimes,
        now: DateTime<Utc>,
        extra: R,
    ) -> IssuedTokens {
        let access_expires_at = now + Duration::seconds(life.access);
        let refresh_expires_at = now + Duration::seconds(life.refresh);
        self.insert_pair(
            shop,
            &access_token,
            access_expires_at,
            &refresh_token,
            refresh_expires_at,
            extra,
        );
        IssuedTokens {
            shop: shop.clone(),
            access_token,
            refresh_token,
            issued_at: now,
            expires_in: life.access,
            refresh_expires_in: life.refresh,
        }
    }

    /// The record of a live refresh token of `app_key`.
    pub fn live_refresh(
        &self,
        app_key: &str,
        refresh_token: &str,
        now: DateTime<Utc>,
    ) -> Result<&Refresh<R>, TokenProblem> {
        let record = self
            .refresh
            .get(refresh_token)
            .ok_or(TokenProblem::Unknown)?;
        if record.shop.app_key != app_key {
            return Err(TokenProblem::OtherApp);
        }
        if record.expires_at <= now {
            return Err(TokenProblem::Expired);
        }
        Ok(record)
    }

    /// Retires a live refresh token of `app_key` and the access token issued with it; returns
    /// its shop and what it carried, for the new pair.
    pub fn rotate(
        &mut self,
        app_key: &str,
        refresh_token: &str,
        now: DateTime<Utc>,
    ) -> Result<(ShopKey, R), TokenProblem> {
        let record = self.live_refresh(app_key, refresh_token, now)?;
        let (shop, extra) = (record.shop.clone(), record.extra.clone());
        let old_access = record.access_token.clone();
        self.retire(refresh_token, &old_access);
        Ok((shop, extra))
    }

    /// Forgets a refresh token and an access token.
    pub fn retire(&mut self, refresh_token: &str, access_token: &str) {
        self.refresh.remove(refresh_token);
        self.access.remove(access_token);
    }

    pub fn access_mut(&mut self, token: &str) -> Option<&mut Access> {
        self.access.get_mut(token)
    }

    pub fn refresh_mut(&mut self, token: &str) -> Option<&mut Refresh<R>> {
        self.refresh.get_mut(token)
    }

    /// The refresh token issued with `access_token` (for tests).
    #[cfg(test)]
    pub fn refresh_of(&self, access_token: &str) -> Option<String> {
        self.refresh
            .iter()
            .find(|(_, r)| r.access_token == access_token)
            .map(|(k, _)| k.clone())
    }

    /// Whether `token` may call the API for `app_key` now; answers the shop it calls for.
    pub fn check(
        &mut self,
        app_key: &str,
        token: &str,
        now: DateTime<Utc>,
        budget: CallBudget,
    ) -> Result<ShopKey, TokenProblem> {
        let record = self.access.get_mut(token).ok_or(TokenProblem::Unknown)?;
        if record.shop.app_key != app_key {
            return Err(TokenProblem::OtherApp);
        }
        if record.expires_at <= now {
            return Err(TokenProblem::Expired);
        }
        if record.used_up(budget) {
            return Err(TokenProblem::CallsExhausted);
        }
        Ok(record.shop.clone())
    }

    /// Counts one successful API call made with `token`.
    pub fn record_call(&mut self, token: &str) {
        if let Some(record) = self.access.get_mut(token) {
            record.calls += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_order_decides_what_an_expired_code_of_another_app_reports() {
        let now = Utc::now();
        let late = now + Duration::seconds(61);
        let shop = ShopKey::new("app", "alice");
        for (order, problem, kept) in [
            (CodeOrder::ExpiryFirst, CodeProblem::Expired, false),
            (CodeOrder::OwnerFirst, CodeProblem::OtherApp, true),
        ] {
            let mut store: Store<&str> = Store::default();
            let code = store.insert_code("c".into(), &shop, "uri", 60, now);
            let take = |s: &mut Store<&str>, app: &str, at| {
                s.take_code(&code, app, at, order, |uri| *uri == "uri")
            };
            assert_eq!(take(&mut store, "other", late), Err(problem));
            let expected = if kept {
                CodeProblem::Expired
            } else {
                CodeProblem::Unknown
            };
            assert_eq!(take(&mut store, "app", late), Err(expected));
        }
        let mut store: Store<&str> = Store::default();
        let code = store.insert_code("c".into(), &shop, "uri", 60, now);
        let mismatch = store.take_code(&code, "app", now, CodeOrder::ExpiryFirst, |u| *u == "x");
        assert_eq!(mismatch, Err(CodeProblem::Mismatch));
        assert_eq!(
            store.take_code(&code, "app", now, CodeOrder::ExpiryFirst, |_| true),
            Ok(shop.clone())
        );
        assert_eq!(
            store.take_code(&code, "app", now, CodeOrder::ExpiryFirst, |_| true),
            Err(CodeProblem::Unknown)
        );
    }

    #[test]
    fn tokens_carry_the_shop_of_their_code_through_refreshes() {
        let now = Utc::now();
        let budget = CallBudget {
            ttl_calls: None,
            generation: 0,
        };
        let life = Lifetimes {
            access: 60,
            refresh: 600,
        };
        let mut store: Store = Store::default();
        let alice = ShopKey::new("app", "alice");
        let bob = ShopKey::new("app", "bob");
        let a = store.issue_pair(&alice, ("a1".into(), "r1".into()), life, now, ());
        let b = store.issue_pair(&bob, ("b1".into(), "r2".into()), life, now, ());
        assert_eq!(
            store.check("app", &a.access_token, now, budget),
            Ok(alice.clone())
        );
        assert_eq!(store.check("app", &b.access_token, now, budget), Ok(bob));
        assert_eq!(
            store.check("other", &a.access_token, now, budget),
            Err(TokenProblem::OtherApp)
        );
        assert_eq!(store.rotate("app", "r1", now), Ok((alice, ())));
        assert_eq!(
            store.check("app", &a.access_token, now, budget),
            Err(TokenProblem::Unknown)
        );
    }
}
