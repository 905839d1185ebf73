//! Kuaishou codes (2 minutes, single use) and token pairs [unverified: a refresh always issues
//! a new pair and retires the old one].

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::douyin::tokens::CallBudget;
use crate::shop::{LOWER_HEX, URL_SAFE, random_string};

/// README §5: a code is valid 2 minutes.
pub const CODE_TTL_SECS: i64 = 120;

#[derive(Debug, Clone)]
struct Access {
    app_key: String,
    expires_at: DateTime<Utc>,
    calls: u64,
    generation: u64,
}

#[derive(Debug, Clone)]
struct Refresh {
    app_key: String,
    expires_at: DateTime<Utc>,
    access_token: String,
}

/// A freshly issued pair.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// Why an access token was refused: unknown (or another app's), or expired / used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Invalid,
    Expired,
}

/// Token lifetimes in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: i64,
    pub refresh: i64,
}

#[derive(Debug, Default)]
pub struct TokenStore {
    codes: HashMap<String, (String, DateTime<Utc>)>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
}

/// `ChFvYXV0aC5hY2Nlc3NUb2tlbh…`: what Kuaishou tokens look like (Base64 of a protobuf naming
/// the token kind).
fn token(kind_prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    format!("{kind_prefix}{}", random_string(&mut rng, URL_SAFE, 120))
}

impl TokenStore {
    pub fn issue_code(&mut self, app_key: &str, now: DateTime<Utc>) -> String {
        self.codes.retain(|_, (_, exp)| *exp > now);
        let code = random_string(&mut rand::thread_rng(), LOWER_HEX, 72);
        let expires = now + Duration::seconds(CODE_TTL_SECS);
        self.codes
            .insert(code.clone(), (app_key.to_owned(), expires));
        code
    }

    pub fn take_code(
        &mut self,
        code: &str,
        app_key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), &'static str> {
        let (owner, expires) = self.codes.get(code).ok_or("code无效或已使用")?;
        if owner != app_key {
            return Err("code不属于该应用");
        }
        let expired = *expires <= now;
        self.codes.remove(code);
        if expired {
            return Err("code已过期");
        }
        Ok(())
    }

    pub fn issue(&mut self, app_key: &str, life: Lifetimes, now: DateTime<Utc>) -> IssuedTokens {
        let access_token = token("ChFvYXV0aC5hY2Nlc3NUb2tlbh");
        let refresh_token = token("ChJvYXV0aC5yZWZyZXNoVG9rZW4S");
        let access = Access {
            app_key: app_key.to_owned(),
            expires_at: now + Duration::seconds(life.access),
            calls: 0,
            generation: 0,
        };
        self.access.insert(access_token.clone(), access);
        let refresh = Refresh {
            app_key: app_key.to_owned(),
            expires_at: now + Duration::seconds(life.refresh),
            access_token: access_token.clone(),
        };
        self.refresh.insert(refresh_token.clone(), refresh);
        IssuedTokens {
            access_token,
            refresh_token,
        }
    }

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

    pub fn check(
        &mut self,
        app_key: &str,
        token: &str,
        now: DateTime<Utc>,
        budget: CallBudget,
    ) -> Result<(), TokenProblem> {
        let record = self.access.get_mut(token).ok_or(TokenProblem::Invalid)?;
        if record.app_key != app_key {
            return Err(TokenProblem::Invalid);
        }
        if record.generation != budget.generation {
            record.generation = budget.generation;
            record.calls = 0;
        }
        let used_up = budget.ttl_calls.is_some_and(|ttl| record.calls >= ttl);
        if record.expires_at <= now || used_up {
            return Err(TokenProblem::Expired);
        }
        Ok(())
    }

    pub fn record_call(&mut self, token: &str) {
        if let Some(record) = self.access.get_mut(token) {
            record.calls += 1;
        }
    }
}
