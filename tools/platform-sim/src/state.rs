//! The process-wide state every handler shares: configuration, registered apps, faults, stats
//! and each platform's own state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use leadgen_domain::PlatformType;

use crate::douyin::DouyinState;
use crate::faults::{FaultEngine, Faults};
use crate::jd::JdState;
use crate::kuaishou::KuaishouState;
use crate::pdd::PddState;
use crate::reveal::{DecryptConfig, DecryptLedger};
use crate::shop::ShopKey;
use crate::stats::Stats;
use crate::taobao::TaobaoState;

/// One registered app (`--app PLATFORM=KEY:SECRET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCredentials {
    pub platform: PlatformType,
    pub key: String,
    pub secret: String,
}

impl std::str::FromStr for AppCredentials {
    type Err = String;

    /// `TAOBAO=app_key:app_secret` (the secret may itself contain `:`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (platform, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected PLATFORM=KEY:SECRET"))?;
        let platform: PlatformType = platform
            .trim()
            .to_uppercase()
            .parse()
            .map_err(|e| format!("{e}"))?;
        let (key, secret) = rest
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: expected PLATFORM=KEY:SECRET"))?;
        if key.is_empty() || secret.is_empty() {
            return Err(format!("`{s}`: key and secret must not be empty"));
        }
        Ok(AppCredentials {
            platform,
            key: key.to_owned(),
            secret: secret.to_owned(),
        })
    }
}

/// The apps the simulated platforms know.
#[derive(Debug, Clone, Default)]
pub struct AppRegistry {
    apps: Vec<AppCredentials>,
}

impl AppRegistry {
    pub fn new(apps: Vec<AppCredentials>) -> Self {
        AppRegistry { apps }
    }

    /// The app registered on `platform` under `key`.
    pub fn find(&self, platform: PlatformType, key: &str) -> Option<&AppCredentials> {
        self.apps
            .iter()
            .find(|a| a.platform == platform && a.key == key)
    }

    pub fn all(&self) -> &[AppCredentials] {
        &self.apps
    }
}

/// Run-wide settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub orders_per_shop: usize,
    /// Generated orders are created in the 80 days before this instant.
    pub anchor: DateTime<Utc>,
    /// Access-token lifetime, seconds.
    pub token_expires_in: i64,
    /// Refresh-token lifetime, seconds.
    pub refresh_expires_in: i64,
    /// The decrypt APIs' quota, Taobao scenes and permission ([`crate::reveal`]).
    pub decrypt: DecryptConfig,
}

impl SimConfig {
    pub fn new(seed: u64, orders_per_shop: usize, anchor: DateTime<Utc>) -> Self {
        SimConfig {
            seed,
            orders_per_shop,
            anchor,
            token_expires_in: 86_400,
            refresh_expires_in: 30 * 86_400,
            decrypt: DecryptConfig::default(),
        }
    }
}

/// One platform's mutable state: its codes and tokens (`T`), and each shop's generated orders
/// (`O`, one set per [`ShopKey`]: app key and seller), kept for the life of the process and
/// changed only by [`PlatformState::update`].
#[derive(Debug)]
pub struct PlatformState<T, O> {
    tokens: Mutex<T>,
    orders: Mutex<HashMap<ShopKey, Arc<O>>>,
}

impl<T: Default, O> Default for PlatformState<T, O> {
    fn default() -> Self {
        PlatformState {
            tokens: Mutex::default(),
            orders: Mutex::default(),
        }
    }
}

impl<T, O> PlatformState<T, O> {
    pub fn tokens(&self) -> MutexGuard<'_, T> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The orders of the shop `key`: on first use `generate(seed, &shop(), orders_per_shop,
    /// anchor)`, then the same ones (as [`PlatformState::update`] left them).
    pub fn orders<S>(
        &self,
        config: &SimConfig,
        key: &ShopKey,
        shop: impl FnOnce() -> S,
        generate: fn(u64, &S, usize, DateTime<Utc>) -> O,
    ) -> Arc<O> {
        let mut cache = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        cached(&mut cache, config, key, shop, generate).clone()
    }

    /// Changes the shop's orders copy-on-write: `change` edits a copy of them (generated first
    /// if need be, as [`PlatformState::orders`] does), and the copy replaces them only when
    /// `change` succeeds. A request that already holds the old `Arc` finishes with the old
    /// orders; every later [`PlatformState::orders`] call (the next page a client asks for)
    /// sees the new ones. Changes to one shop are applied one at a time.
    pub fn update<S, R, E>(
        &self,
        config: &SimConfig,
        key: &ShopKey,
        shop: impl FnOnce() -> S,
        generate: fn(u64, &S, usize, DateTime<Utc>) -> O,
        change: impl FnOnce(&mut O) -> Result<R, E>,
    ) -> Result<R, E>
    where
        O: Clone,
    {
        let mut cache = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        let current = cached(&mut cache, config, key, shop, generate);
        let mut next = O::clone(current);
        let outcome = change(&mut next)?;
        *current = Arc::new(next);
        Ok(outcome)
    }
}

/// The cache entry of `key`, generated on first use.
fn cached<'a, S, O>(
    cache: &'a mut HashMap<ShopKey, Arc<O>>,
    config: &SimConfig,
    key: &ShopKey,
    shop: impl FnOnce() -> S,
    generate: fn(u64, &S, usize, DateTime<Utc>) -> O,
) -> &'a mut Arc<O> {
    cache.entry(key.clone()).or_insert_with(|| {
        Arc::new(generate(
            config.seed,
            &shop(),
            config.orders_per_shop,
            config.anchor,
        ))
    })
}

/// Everything the handlers share (`web::Data<SimState>`).
#[derive(Debug)]
pub struct SimState {
    pub config: SimConfig,
    pub apps: AppRegistry,
    pub faults: FaultEngine,
    pub stats: Stats,
    /// Items each app decrypted today, per platform.
    pub decrypts: DecryptLedger,
    pub douyin: DouyinState,
    pub jd: JdState,
    pub kuaishou: KuaishouState,
    pub pdd: PddState,
    pub taobao: TaobaoState,
}

impl SimState {
    pub fn new(config: SimConfig, apps: AppRegistry, faults: Faults) -> Self {
        SimState {
            config,
            apps,
            faults: FaultEngine::new(faults),
            stats: Stats::default(),
            decrypts: DecryptLedger::default(),
            douyin: DouyinState::default(),
            jd: JdState::default(),
            kuaishou: KuaishouState::default(),
            pdd: PddState::default(),
            taobao: TaobaoState::default(),
        }
    }

    /// Wall-clock now (token expiry, timestamp tolerance, the 3-month window).
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_specs_parse() {
        let a: AppCredentials = "taobao=k1:s:2".parse().unwrap();
        assert_eq!(a.platform, PlatformType::Taobao);
        assert_eq!((a.key.as_str(), a.secret.as_str()), ("k1", "s:2"));
        assert!("TAOBAO=k1".parse::<AppCredentials>().is_err());
        assert!("EBAY=k:s".parse::<AppCredentials>().is_err());
    }

    #[test]
    fn updates_are_copy_on_write_and_all_or_nothing() {
        let state: PlatformState<(), Vec<u64>> = PlatformState::default();
        let config = SimConfig::new(7, 2, Utc::now());
        let generate: fn(u64, &(), usize, DateTime<Utc>) -> Vec<u64> =
            |seed, _, n, _| vec![seed; n];
        let k = ShopKey::default_seller("k");
        let before = state.orders(&config, &k, || (), generate);
        let pushed: Result<usize, ()> = state.update(
            &config,
            &k,
            || (),
            generate,
            |o| {
                o.push(9);
                Ok(o.len())
            },
        );
        assert_eq!(pushed, Ok(3));
        assert_eq!(*before, [7, 7], "a reader keeps what it read");
        assert_eq!(*state.orders(&config, &k, || (), generate), [7, 7, 9]);
        let failed: Result<(), &str> = state.update(
            &config,
            &k,
            || (),
            generate,
            |o| {
                o.clear();
                Err("refused")
            },
        );
        assert_eq!(failed, Err("refused"));
        assert_eq!(*state.orders(&config, &k, || (), generate), [7, 7, 9]);
        let other = ShopKey::new("k", "other-seller");
        let first_use: Result<usize, ()> =
            state.update(&config, &other, || (), generate, |o| Ok(o.len()));
        assert_eq!(first_use, Ok(2), "generated on first use");
        assert_eq!(
            *state.orders(&config, &k, || (), generate),
            [7, 7, 9],
            "another seller of the same app is another shop"
        );
    }
}
