//! Authorization codes and token pairs with Douyin's refresh rules
//! (token_create_response.go): refreshing more than an hour before the access token expires
//! returns the same pair; within the last hour it returns a new pair and the old pair stays
//! valid for one more hour; after expiry it returns a new pair and the old one dies. A token
//! used up by the `token_ttl_calls` fault counts as expired. Codes and tokens belong to the shop
//! (app key and seller) that consented. The records live in the shared
//! [`crate::tokens::Store`].

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use crate::shop::ShopKey;
use crate::tokens::{CallBudget, CodeOrder, CodeProblem, Store};

/// A code can be exchanged for 10 minutes (error table: `code-expired`).
pub const CODE_TTL_SECS: i64 = 600;
/// Refresh tokens live 14 days.
pub const REFRESH_TTL_DAYS: i64 = 14;
/// How long the old pair lives on after a refresh in the access token's last hour.
pub const GRACE_SECS: i64 = 3600;

/// A token pair as `token.create` / `token.refresh` answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    /// The shop the pair calls for.
    pub shop: ShopKey,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token has left.
    pub expires_in: i64,
    pub shop_id: u64,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Unknown,
    OtherApp,
    Expired,
}

/// Refresh tokens carry the shop id.
#[derive(Debug, Default)]
pub struct TokenStore {
    store: Store<(), u64>,
}

/// A UUID-shaped random string, as Douyin's codes and tokens look.
pub fn uuid_like() -> String {
    let mut rng = rand::thread_rng();
    let mut hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
            .collect()
    };
    format!("{}-{}-4{}-{}-{}", hex(8), hex(4), hex(3), hex(4), hex(12))
}

impl TokenStore {
    /// A new code for `shop`.
    pub fn issue_code(&mut self, shop: &ShopKey, now: DateTime<Utc>) -> String {
        self.store
            .insert_code(uuid_like(), shop, (), CODE_TTL_SECS, now)
    }

    /// Consumes a live code of `app_key` and answers the shop it authorizes; the error is the
    /// `token-generate-failed` reason.
    pub fn take_code(
        &mut self,
        code: &str,
        app_key: &str,
        now: DateTime<Utc>,
    ) -> Result<ShopKey, &'static str> {
        let order = CodeOrder::OwnerFirst;
        self.store
            .take_code(code, app_key, now, order, |()| true)
            .map_err(|p| match p {
                CodeProblem::Expired => "code-expired",
                CodeProblem::Unknown | CodeProblem::OtherApp | CodeProblem::Mismatch => {
                    "code-invalid"
                }
            })
    }

    /// A new pair for `shop`, whose `shop_id` is `shop_id`.
    pub fn issue(
        &mut self,
        shop: &ShopKey,
        shop_id: u64,
        access_secs: i64,
        now: DateTime<Utc>,
    ) -> IssuedTokens {
        let (access_token, refresh_token) = (uuid_like(), uuid_like());
        self.store.insert_pair(
            shop,
            &access_token,
            now + Duration::seconds(access_secs),
            &refresh_token,
            now + Duration::days(REFRESH_TTL_DAYS),
            shop_id,
        );
        IssuedTokens {
            shop: shop.clone(),
            access_token,
            refresh_token,
            expires_in: access_secs,
            shop_id,
        }
    }

    /// `token.refresh` under Douyin's rules; the error is the `token-generate-failed` reason.
    pub fn refresh(
        &mut self,
        app_key: &str,
        refresh_token: &str,
        access_secs: i64,
        now: DateTime<Utc>,
        budget: CallBudget,
    ) -> Result<IssuedTokens, &'static str> {
        use crate::tokens::TokenProblem as P;
        let record = self
            .store
            .live_refresh(app_key, refresh_token, now)
            .map_err(|p| match p {
                P::Expired => "token-expired",
                P::Unknown | P::OtherApp | P::CallsExhausted => "token-invalid",
            })?;
        let (shop, shop_id) = (record.shop.clone(), record.extra);
        let old_access = record.access_token.clone();
        let left = self.store.access_mut(&old_access).and_then(|a| {
            let live = a.expires_at > now && !a.used_up(budget);
            live.then(|| a.expires_at - now)
        });
        match left {
            Some(left) if left > Duration::seconds(GRACE_SECS) => Ok(IssuedTokens {
                shop,
                access_token: old_access,
                refresh_token: refresh_token.to_owned(),
                expires_in: left.num_seconds(),
                shop_id,
            }),
            Some(_) => {
                let grace = now + Duration::seconds(GRACE_SECS);
                // The old pair stays valid one more hour from now (README §4.1), past the
                // access token's own expiry, which is under an hour away.
                if let Some(a) = self.store.access_mut(&old_access) {
                    a.expires_at = a.expires_at.max(grace);
                }
                if let Some(r) = self.store.refresh_mut(refresh_token) {
                    r.expires_at = r.expires_at.min(grace);
                }
                Ok(self.issue(&shop, shop_id, access_secs, now))
            }
            None => {
                self.store.retire(refresh_token, &old_access);
                Ok(self.issue(&shop, shop_id, access_secs, now))
            }
        }
    }

    /// Whether `token` may call the API for `app_key` now; answers the shop it calls for.
    pub fn check(
        &mut self,
        app_key: &str,
        token: &str,
        now: DateTime<Utc>,
        budget: CallBudget,
    ) -> Result<ShopKey, TokenProblem> {
        use crate::tokens::TokenProblem as P;
        self.store
            .check(app_key, token, now, budget)
            .map_err(|p| match p {
                P::Unknown => TokenProblem::Unknown,
                P::OtherApp => TokenProblem::OtherApp,
                P::Expired | P::CallsExhausted => TokenProblem::Expired,
            })
    }

    /// Counts one successful API call made with `token`.
    pub fn record_call(&mut self, token: &str) {
        self.store.record_call(token);
    }

    /// The refresh token paired with a live access token (for tests).
    #[cfg(test)]
    pub fn refresh_of(&self, token: &str) -> Option<String> {
        self.store.refresh_of(token)
    }

    /// Moves an access token's expiry (for tests of the refresh rules).
    #[cfg(test)]
    pub fn set_expiry(&mut self, token: &str, at: DateTime<Utc>) {
        if let Some(a) = self.store.access_mut(token) {
            a.expires_at = at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: CallBudget = CallBudget {
        ttl_calls: None,
        generation: 0,
    };

    #[test]
    fn refresh_follows_the_three_rules() {
        let now = Utc::now();
        let mut store = TokenStore::default();
        let shop = ShopKey::new("app", "alice");
        let first = store.issue(&shop, 7, 7 * 86_400, now);
        // More than an hour left: the same pair.
        let same = store
            .refresh("app", &first.refresh_token, 86_400, now, NONE)
            .unwrap();
        assert_eq!(same.access_token, first.access_token);
        assert_eq!(same.refresh_token, first.refresh_token);
        // Within the last hour: a new pair; the old one works for one more hour.
        store.set_expiry(&first.access_token, now + Duration::minutes(30));
        let second = store
            .refresh("app", &first.refresh_token, 86_400, now, NONE)
            .unwrap();
        assert_ne!(second.access_token, first.access_token);
        assert_eq!(second.shop, shop, "a refresh keeps the shop");
        assert!(store.check("app", &first.access_token, now, NONE).is_ok());
        let nearly_an_hour = now + Duration::minutes(59);
        assert!(
            store
                .check("app", &first.access_token, nearly_an_hour, NONE)
                .is_ok(),
            "past its own expiry (30 min), within the hour"
        );
        assert_eq!(
            store.check(
                "app",
                &first.access_token,
                now + Duration::minutes(61),
                NONE
            ),
            Err(TokenProblem::Expired)
        );
        // After expiry: a new pair, and the old one is gone.
        let later = now + Duration::hours(25);
        assert_eq!(
            store.check("app", &second.access_token, later, NONE),
            Err(TokenProblem::Expired)
        );
        let third = store
            .refresh("app", &second.refresh_token, 86_400, later, NONE)
            .unwrap();
        assert_ne!(third.access_token, second.access_token);
        assert_eq!(
            store.check("app", &second.access_token, later, NONE),
            Err(TokenProblem::Unknown)
        );
        assert_eq!(
            store.refresh("app", &second.refresh_token, 86_400, later, NONE),
            Err("token-invalid")
        );
        assert_eq!(
            store.check("other", &third.access_token, later, NONE),
            Err(TokenProblem::OtherApp)
        );
    }

    #[test]
    fn used_up_tokens_count_as_expired_and_codes_are_single_use() {
        let now = Utc::now();
        let mut store = TokenStore::default();
        let budget = CallBudget {
            ttl_calls: Some(1),
            generation: 3,
        };
        let shop = ShopKey::default_seller("app");
        let t = store.issue(&shop, 7, 86_400, now);
        assert!(store.check("app", &t.access_token, now, budget).is_ok());
        store.record_call(&t.access_token);
        assert_eq!(
            store.check("app", &t.access_token, now, budget),
            Err(TokenProblem::Expired)
        );
        let fresh = store
            .refresh("app", &t.refresh_token, 86_400, now, budget)
            .unwrap();
        assert_ne!(fresh.access_token, t.access_token);
        let code = store.issue_code(&shop, now);
        assert_eq!(store.take_code(&code, "other", now), Err("code-invalid"));
        assert_eq!(store.take_code(&code, "app", now), Ok(shop.clone()));
        assert_eq!(store.take_code(&code, "app", now), Err("code-invalid"));
        let old = store.issue_code(&shop, now);
        let late = now + Duration::seconds(CODE_TTL_SECS + 1);
        assert_eq!(store.take_code(&old, "app", late), Err("code-expired"));
    }
}
