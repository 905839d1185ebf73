//! Authorization codes, access tokens (TOP `session`) and refresh tokens.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::shop::{ALNUM, LOWER_HEX, random_string};

/// How long an authorization code can be exchanged.
pub const CODE_TTL_SECS: i64 = 600;

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub app_key: String,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
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
    user_id: u64,
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
    pub re_expires_in: i64,
}

/// Why a session was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionProblem {
    /// Never issued, issued to another app, or replaced by a refresh.
    Unknown,
    Expired,
    /// The `token_ttl_calls` fault used it up.
    CallsExhausted,
}

impl SessionProblem {
    /// The `sub_msg` TOP answers with code 27.
    pub fn sub_msg(self) -> &'static str {
        match self {
            SessionProblem::Unknown => "SessionKey非法",
            SessionProblem::Expired | SessionProblem::CallsExhausted => "SessionKey已过期",
        }
    }
}

#[derive(Debug, Default)]
pub struct TokenStore {
    codes: HashMap<String, AuthCode>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
}

/// Token lifetimes in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: i64,
    pub refresh: i64,
}

fn token(prefix: &str, user_id: u64) -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{prefix}{}{user_id}",
        random_string(&mut rng, LOWER_HEX, 44)
    )
}

impl TokenStore {
    /// A new single-use code for `app_key`, bound to `redirect_uri`.
    pub fn issue_code(&mut self, app_key: &str, redirect_uri: &str, now: DateTime<Utc>) -> String {
        self.codes.retain(|_, c| c.expires_at > now);
        let code = random_string(&mut rand::thread_rng(), ALNUM, 32);
        let record = AuthCode {
            app_key: app_key.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            expires_at: now + Duration::seconds(CODE_TTL_SECS),
        };
        self.codes.insert(code.clone(), record);
        code
    }

    /// Consumes `code` if it is live, belongs to `app_key` and was issued for `redirect_uri`.
    pub fn take_code(
        &mut self,
        code: &str,
        app_key: &str,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<(), &'static str> {
        let record = self
            .codes
            .get(code)
            .ok_or("authorization code is invalid or already used")?;
        if record.expires_at <= now {
            self.codes.remove(code);
            return Err("authorization code is expired");
        }
        if record.app_key != app_key {
            return Err("authorization code was issued to another client");
        }
        if record.redirect_uri != redirect_uri {
            return Err("redirect_uri does not match the one used to get the code");
        }
        self.codes.remove(code);
        Ok(())
    }

    /// Issues an access/refresh token pair for the shop `user_id` through `app_key`.
    pub fn issue(
        &mut self,
        app_key: &str,
        user_id: u64,
        life: Lifetimes,
        now: DateTime<Utc>,
    ) -> IssuedTokens {
        let access_token = token("6201", user_id);
        let refresh_token = token("6202", user_id);
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
                user_id,
                expires_at: now + Duration::seconds(life.refresh),
                access_token: access_token.clone(),
            },
        );
        IssuedTokens {
            access_token,
            refresh_token,
            issued_at: now,
            expires_in: life.access,
            re_expires_in: life.refresh,
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
        let record = self
            .refresh
            .get(refresh_token)
            .ok_or("refresh_token is invalid")?;
        if record.app_key != app_key {
            return Err("refresh_token was issued to another client");
        }
        if record.expires_at <= now {
            return Err("refresh_token is expired");
        }
        let (user_id, old_access) = (record.user_id, record.access_token.clone());
        self.refresh.remove(refresh_token);
        self.access.remove(&old_access);
        Ok(self.issue(app_key, user_id, life, now))
    }

    /// Whether `session` may call the API for `app_key` now.
    pub fn check_session(
        &mut self,
        app_key: &str,
        session: &str,
        now: DateTime<Utc>,
        ttl_calls: Option<u64>,
        generation: u64,
    ) -> Result<(), SessionProblem> {
        let record = self
            .access
            .get_mut(session)
            .ok_or(SessionProblem::Unknown)?;
        if record.app_key != app_key {
            return Err(SessionProblem::Unknown);
        }
        if record.expires_at <= now {
            return Err(SessionProblem::Expired);
        }
        if record.generation != generation {
            record.generation = generation;
            record.calls = 0;
        }
        if ttl_calls.is_some_and(|ttl| record.calls >= ttl) {
            return Err(SessionProblem::CallsExhausted);
        }
        Ok(())
    }

    /// Counts one successful API call made with `session`.
    pub fn record_call(&mut self, session: &str) {
        if let Some(record) = self.access.get_mut(session) {
            record.calls += 1;
        }
    }
}
