//! Kuaishou codes (2 minutes, single use) and token pairs [unverified: a refresh always issues
//! a new pair and retires the old one]: the shared [`PairStore`] under Kuaishou's rules.

use chrono::{DateTime, Utc};

use crate::shop::{LOWER_HEX, ShopKey, URL_SAFE, random_string};
use crate::tokens::TokenProblem as Problem;
use crate::tokens::{CallBudget, CodeOrder, CodeProblem, PairRules, PairStore};

/// README §5: a code is valid 2 minutes.
pub const CODE_TTL_SECS: i64 = 120;

/// Why an access token was refused: unknown (or another app's), or expired / used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Invalid,
    Expired,
}

/// Kuaishou's codes, tokens and messages.
#[derive(Debug)]
pub struct Kuaishou;

/// `ChFvYXV0aC5hY2Nlc3NUb2tlbh…`: what Kuaishou tokens look like (Base64 of a protobuf naming
/// the token kind).
fn token(kind_prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    format!("{kind_prefix}{}", random_string(&mut rng, URL_SAFE, 120))
}

impl PairRules for Kuaishou {
    const CODE_TTL_SECS: i64 = CODE_TTL_SECS;
    const CODE_ORDER: CodeOrder = CodeOrder::OwnerFirst;

    fn new_code() -> String {
        random_string(&mut rand::thread_rng(), LOWER_HEX, 72)
    }

    fn new_pair() -> (String, String) {
        let access_token = token("ChFvYXV0aC5hY2Nlc3NUb2tlbh");
        let refresh_token = token("ChJvYXV0aC5yZWZyZXNoVG9rZW4S");
        (access_token, refresh_token)
    }

    fn code_message(problem: CodeProblem) -> &'static str {
        match problem {
            CodeProblem::Unknown | CodeProblem::Mismatch => "code无效或已使用",
            CodeProblem::OtherApp => "code不属于该应用",
            CodeProblem::Expired => "code已过期",
        }
    }

    fn refresh_message(problem: Problem) -> &'static str {
        match problem {
            Problem::OtherApp => "refresh_token不属于该应用",
            Problem::Expired => "refresh_token已过期",
            Problem::Unknown | Problem::CallsExhausted => "refresh_token无效",
        }
    }
}

pub type TokenStore = PairStore<Kuaishou>;

impl PairStore<Kuaishou> {
    /// Whether `token` may call the API for `app_key` now; answers the shop it calls for.
    pub fn check(
        &mut self,
        app_key: &str,
        token: &str,
        now: DateTime<Utc>,
        budget: CallBudget,
    ) -> Result<ShopKey, TokenProblem> {
        self.check_token(app_key, token, now, budget)
            .map_err(|p| match p {
                Problem::Unknown | Problem::OtherApp => TokenProblem::Invalid,
                Problem::Expired | Problem::CallsExhausted => TokenProblem::Expired,
            })
    }
}
