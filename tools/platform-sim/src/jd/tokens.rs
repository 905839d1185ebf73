//! Authorization codes, access tokens and refresh tokens of an OAuth server whose token call
//! carries no `redirect_uri` (JD's `oauth2/access_token`, PDD's `oauth/token`). PDD reuses it.
//!
//! Codes are single-use and live [`CODE_TTL_SECS`]; a refresh replaces both tokens (the old
//! access token stops working at once); the `token_ttl_calls` fault expires an access token
//! after N successful API calls.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::shop::{ALNUM, LOWER_HEX, random_string};

/// How long an authorization code can be exchanged.
pub const CODE_TTL_SECS: i64 = 600;

#[derive(Debug, Clone)]
struct AuthCode {
    app_key: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct AccessToken {
    app_key: String,
    expires_at: DateTime<Utc>,
    /// Successful API calls made with this token under fault generation `generation`.
    calls: u64,
    generation: u64,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    app_key: String,
    expires_at: DateTime<Utc>,
    access_token: String,
}

/// A freshly issued token pair.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub issued_at: DateTime<Utc>,
    pub expires_in: i64,
    pub refresh_expires_in: i64,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Never issued, issued to another app, or replaced by a refresh.
    Unknown,
    Expired,
    /// The `token_ttl_calls` fault used it up.
    CallsExhausted,
}

/// Token lifetimes in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: i64,
    pub refresh: i64,
}

#[derive(Debug, Default)]
pub struct TokenStore {
    codes: HashMap<String, AuthCode>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
}

/// A 32-character lower-hex token, as JD and PDD hand out.
fn hex_token() -> String {
    random_string(&mut rand::thread_rng(), LOWER_HEX, 32)
}

impl TokenStore {
    /// A new single-use code for `app_key`.
    pub fn issue_code(&mut self, app_key: &str, now: DateTime<Utc>) -> String {
        self.codes.retain(|_, c| c.expires_at > now);
        let code = random_string(&mut rand::thread_rng(), ALNUM, 32);
        let record = AuthCode {
            app_key: app_key.to_owned(),
            expires_at: now + Duration::seconds(CODE_TTL_SECS),
        };
        self.codes.insert(code.clone(), record);
        code
    }

    /// Consumes `code` if it is live and belongs to `app_key`.
    pub fn take_code(
        &mut self,
        code: &str,
        app_key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), &'static str> {
        let record = self.codes.get(code).ok_or("code无效或已被使用")?;
        if record.expires_at <= now {
            self.codes.remove(code);
            return Err("code已过期");
        }
        if record.app_key != app_key {
            return Err("code不属于该应用");
        }
        self.codes.remove(code);
        Ok(())
    }

    /// Issues an access/refresh token pair through `app_key`.
    pub fn issue(&mut self, app_key: &str, life: Lifetimes, now: DateTime<Utc>) -> IssuedTokens {
        let access_token = hex_token();
        let refresh_token = hex_token();
        self.access.insert(
            access_token.clone(),
            AccessToken {
                app_key: app_key.to_owned(),
                expires_at: now + Duration::seconds(life.access),
                calls: 0,
                generation: 0,
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            RefreshToken {
                app_key: app_key.to_owned(),
                expires_at: now + Duration::seconds(life.refresh),
                access_token: access_token.clone(),
            },
        );
        IssuedTokens {
            access_token,
            refresh_token,
            issued_at: now,
            expires_in: life.access,
            refresh_expires_in: life.refresh,
        }
    }

    /// Trades a live refresh token for a new pair; the old access and refresh tokens stop working.
    pub fn refresh(
        &mut self,
        app_key: &str,
        refresh_token: &str,
        life: Lifetimes,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, &'static str> {
        let record = self.refresh.get(refresh_token).ok_or("refresh_token无效")?;
        if record.app_key != app_key {
            return Err("refresh_token不属于该应用");
        }
        if record.expires_at <= now {
            return Err("refresh_token已过期");
        }
        let old_access = record.access_token.clone();
        self.refresh.remove(refresh_token);
        self.access.remove(&old_access);
        Ok(self.issue(app_key, life, now))
    }

    /// Whether `token` may call the API for `app_key` now.
    pub fn check(
        &mut self,
        app_key: &str,
        token: &str,
        now: DateTime<Utc>,
        ttl_calls: Option<u64>,
        generation: u64,
    ) -> Result<(), TokenProblem> {
        let record = self.access.get_mut(token).ok_or(TokenProblem::Unknown)?;
        if record.app_key != app_key {
            return Err(TokenProblem::Unknown);
        }
        if record.expires_at <= now {
            return Err(TokenProblem::Expired);
        }
        if record.generation != generation {
            record.generation = generation;
            record.calls = 0;
        }
        if ttl_calls.is_some_and(|ttl| record.calls >= ttl) {
            return Err(TokenProblem::CallsExhausted);
        }
        Ok(())
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
    fn codes_are_single_use_and_refresh_replaces_both_tokens() {
        let mut store = TokenStore::default();
        let now = Utc::now();
        let life = Lifetimes {
            access: 60,
            refresh: 600,
        };
        let code = store.issue_code("app", now);
        assert!(store.take_code(&code, "other", now).is_err());
        assert!(store.take_code(&code, "app", now).is_ok());
        assert!(store.take_code(&code, "app", now).is_err());
        let t = store.issue("app", life, now);
        assert_eq!(t.access_token.len(), 32);
        assert!(store.check("app", &t.access_token, now, None, 0).is_ok());
        assert_eq!(
            store.check("app", &t.access_token, now + Duration::seconds(61), None, 0),
            Err(TokenProblem::Expired)
        );
        store.record_call(&t.access_token);
        assert_eq!(
            store.check("app", &t.access_token, now, Some(1), 0),
            Err(TokenProblem::CallsExhausted)
        );
        assert!(store.check("app", &t.access_token, now, Some(1), 1).is_ok());
        let fresh = store.refresh("app", &t.refresh_token, life, now).unwrap();
        assert_eq!(
            store.check("app", &t.access_token, now, None, 0),
            Err(TokenProblem::Unknown)
        );
        assert!(
            store
                .check("app", &fresh.access_token, now, None, 0)
                .is_ok()
        );
        assert!(store.refresh("app", &t.refresh_token, life, now).is_err());
    }
}
