//! Authorization codes, access tokens and refresh tokens of an OAuth server whose token call
//! carries no `redirect_uri` (JD's `oauth2/access_token`, PDD's `oauth/token`). PDD reuses it.
//!
//! Codes are single-use and live [`CODE_TTL_SECS`]; a refresh replaces both tokens (the old
//! access token stops working at once); the `token_ttl_calls` fault expires an access token
//! after N successful API calls. The store is the shared [`PairStore`] under JD's rules.

use chrono::{DateTime, Utc};

use crate::shop::{ALNUM, LOWER_HEX, ShopKey, random_string};
use crate::tokens::{CallBudget, CodeOrder, CodeProblem, PairRules, PairStore, Refusal};

/// How long an authorization code can be exchanged.
pub const CODE_TTL_SECS: i64 = 600;

/// Why an access token was refused (its `Debug` name is the gateway's message).
pub use crate::tokens::Refusal as TokenProblem;

/// JD's (and PDD's) codes, tokens and messages.
#[derive(Debug)]
pub struct Jd;

/// A 32-character lower-hex token, as JD and PDD hand out.
fn hex_token() -> String {
    random_string(&mut rand::thread_rng(), LOWER_HEX, 32)
}

impl PairRules for Jd {
    const CODE_TTL_SECS: i64 = CODE_TTL_SECS;
    const CODE_ORDER: CodeOrder = CodeOrder::ExpiryFirst;

    fn new_code() -> String {
        random_string(&mut rand::thread_rng(), ALNUM, 32)
    }

    fn new_pair() -> (String, String) {
        (hex_token(), hex_token())
    }

    fn code_message(problem: CodeProblem) -> &'static str {
        match problem {
            CodeProblem::Unknown | CodeProblem::Mismatch => "code无效或已被使用",
            CodeProblem::Expired => "code已过期",
            CodeProblem::OtherApp => "code不属于该应用",
        }
    }

    fn refresh_message(problem: crate::tokens::TokenProblem) -> &'static str {
        use crate::tokens::TokenProblem as P;
        match problem {
            P::OtherApp => "refresh_token不属于该应用",
            P::Expired => "refresh_token已过期",
            P::Unknown | P::CallsExhausted => "refresh_token无效",
        }
    }
}

pub type TokenStore = PairStore<Jd>;

impl PairStore<Jd> {
    /// Whether `token` may call the API for `app_key` now; answers the shop it calls for.
    pub fn check(
        &mut self,
        app_key: &str,
        token: &str,
        now: DateTime<Utc>,
        ttl_calls: Option<u64>,
        generation: u64,
    ) -> Result<ShopKey, TokenProblem> {
        let budget = CallBudget {
            ttl_calls,
            generation,
        };
        self.check_token(app_key, token, now, budget)
            .map_err(Refusal::from)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::tokens::Lifetimes;

    #[test]
    fn codes_are_single_use_and_refresh_replaces_both_tokens() {
        let mut store = TokenStore::default();
        let now = Utc::now();
        let life = Lifetimes {
            access: 60,
            refresh: 600,
        };
        let shop = ShopKey::new("app", "alice");
        let code = store.issue_code(&shop, now);
        assert!(store.take_code(&code, "other", now).is_err());
        assert_eq!(store.take_code(&code, "app", now), Ok(shop.clone()));
        assert!(store.take_code(&code, "app", now).is_err());
        let t = store.issue(&shop, life, now);
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
        assert_eq!(fresh.shop, shop, "a refresh keeps the shop");
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
