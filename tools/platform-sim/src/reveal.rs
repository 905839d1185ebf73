//! What every platform's decrypt API shares in the simulator: the per-app daily decrypt quota,
//! the run's decrypt settings (`--decrypt-quota`, `--taobao-decrypt-scenes`,
//! `--decrypt-denied`), buyers' privacy numbers, and the test-only view of what an order's
//! receiver phone really is (`GET /_sim/<platform>/contact?app_key=…&seller=…&order_id=…`).
//!
//! The APIs themselves (shapes, scenes, error codes) live in each platform's module:
//! `taobao::decrypt` (`taobao.top.oaid.decrypt`), `jd::decrypt`
//! (`jingdong.jos.order.oaid.decrypt`), `pdd::decrypt` (`pdd.open.decrypt.batch`),
//! `douyin::decrypt` (`order.batchDecrypt`), `kuaishou::decrypt` (`open.order.decrypt.batch`).
//!
//! Simulator choices (no source gives the platforms' numbers):
//! - Quota: [`DEFAULT_DAILY_QUOTA`] decrypted items per app key per platform per Beijing
//!   calendar day, renewed at Beijing midnight, shared by every shop (seller) the app is
//!   authorized for. Every item asked for counts, decrypted or not; a call that would pass the
//!   quota is refused whole with the platform's quota error, before any item is opened.
//! - A decrypt call opens only what the orders of its access token's shop (the seller who
//!   consented) carry, as the order lists show only that shop's orders.
//! - Check order inside a decrypt API, after the gateway's own checks: parameters, then
//!   permission (`--decrypt-denied`) and scenes (Taobao), then the quota, then each item.
//! - Privacy numbers: [`PROTECTED_PERCENT`] % of buyers chose number protection; their phone
//!   decrypts to a privacy number (main number + 4-digit extension) that forwards for
//!   [`VIRTUAL_NUMBER_DAYS`] days from the decrypt (Taobao: `secret_no_days` when sent).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Value, json};

use leadgen_domain::PlatformType;
use leadgen_domain::time::beijing;

use crate::admin::shop_key;
use crate::http_util::{non_empty, request_params};
use crate::shop::{ShopKey, stable_hash};
use crate::state::SimState;

/// Decrypted items per app key and platform per Beijing day, when `--decrypt-quota` is not given.
pub const DEFAULT_DAILY_QUOTA: u64 = 5_000;

/// Days a privacy number handed out by a decrypt keeps forwarding.
pub const VIRTUAL_NUMBER_DAYS: i64 = 15;

/// Share of buyers (percent) whose phone decrypts to a privacy number.
pub const PROTECTED_PERCENT: u64 = 15;

/// Taobao's documented decrypt scenes (`taobao.top.oaid.decrypt`).
pub const TAOBAO_SCENES: &[&str] = &[
    "1001", "1002", "1003", "1004", "1005", "1006", "1007", "2001", "2002",
];

/// The run's decrypt settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptConfig {
    /// Items each app may decrypt per Beijing day on each platform.
    pub daily_quota: u64,
    /// The Taobao scenes the registered apps were granted.
    pub taobao_scenes: BTreeSet<String>,
    /// Every platform refuses its decrypt API as not granted to the apps.
    pub denied: bool,
}

impl Default for DecryptConfig {
    fn default() -> Self {
        DecryptConfig {
            daily_quota: DEFAULT_DAILY_QUOTA,
            taobao_scenes: TAOBAO_SCENES.iter().map(|s| (*s).to_owned()).collect(),
            denied: false,
        }
    }
}

/// `--taobao-decrypt-scenes 1006,2001`: scene codes, each one of [`TAOBAO_SCENES`].
pub fn parse_scenes(text: &str) -> Result<BTreeSet<String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if TAOBAO_SCENES.contains(&s) {
                Ok(s.to_owned())
            } else {
                Err(format!(
                    "`{s}` is not a Taobao decrypt scene ({})",
                    TAOBAO_SCENES.join(",")
                ))
            }
        })
        .collect()
}

/// Today's decrypt quota is spent; it renews in `renews_in_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSpent {
    pub used: u64,
    pub quota: u64,
    pub renews_in_seconds: u64,
}

/// Items decrypted per platform and app key on one Beijing day.
#[derive(Debug, Default)]
pub struct DecryptLedger {
    used: Mutex<HashMap<(PlatformType, String), (NaiveDate, u64)>>,
}

impl DecryptLedger {
    /// Takes `items` from today's quota of `app_key` on `platform`, or refuses when they would
    /// pass `quota`.
    pub fn take(
        &self,
        platform: PlatformType,
        app_key: &str,
        items: u64,
        quota: u64,
        now: DateTime<Utc>,
    ) -> Result<(), QuotaSpent> {
        let today = now.with_timezone(&beijing()).date_naive();
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let entry = used
            .entry((platform, app_key.to_owned()))
            .or_insert((today, 0));
        if entry.0 != today {
            *entry = (today, 0);
        }
        if entry.1.saturating_add(items) > quota {
            return Err(QuotaSpent {
                used: entry.1,
                quota,
                renews_in_seconds: seconds_to_beijing_midnight(now),
            });
        }
        entry.1 += items;
        Ok(())
    }
}

/// Whole seconds from `now` to the next Beijing midnight (at least 1).
pub fn seconds_to_beijing_midnight(now: DateTime<Utc>) -> u64 {
    let local = now.with_timezone(&beijing());
    let next = local
        .date_naive()
        .succ_opt()
        .map(|d| d.and_time(NaiveTime::MIN))
        .and_then(|t| beijing().from_local_datetime(&t).single());
    next.map_or(86_400, |t| {
        u64::try_from((t.with_timezone(&Utc) - now).num_seconds().max(1)).unwrap_or(1)
    })
}

/// When a privacy number handed out at `now` stops forwarding.
pub fn virtual_expiry(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now + Duration::days(days)
}

/// The privacy number (main number with `prefix`, 4-digit extension) of a buyer identified by
/// `parts`, when the buyer chose number protection ([`PROTECTED_PERCENT`] of buyers).
pub fn protected_number(parts: &[&str], prefix: &str) -> Option<(String, String)> {
    let h = stable_hash(0, &[&["privacy-number"], parts].concat());
    if h % 100 >= PROTECTED_PERCENT {
        return None;
    }
    Some((
        format!("{prefix}{:08}", (h >> 8) % 100_000_000),
        format!("{:04}", (h >> 40) % 10_000),
    ))
}

/// What an order's receiver phone really is: the buyer's mobile, and the privacy number the
/// platform's decrypt hands out instead when the buyer chose number protection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactTruth {
    /// The real mobile, when the generator kept it.
    pub mobile: Option<String>,
    /// `(main number, extension)`.
    pub privacy_number: Option<(String, String)>,
}

impl ContactTruth {
    pub fn to_json(&self, order_id: &str) -> Value {
        json!({
            "order_id": order_id,
            "mobile": self.mobile,
            "privacy_number": self.privacy_number.as_ref().map(|(number, extension)| {
                json!({ "number": number, "extension": extension })
            }),
        })
    }
}

/// `GET /_sim/<platform>/contact?app_key=…&seller=…&order_id=…`: what the order's receiver
/// phone really is (`truth(shop, order_id)`; `seller` is optional, default the default seller),
/// 404 for an order the shop does not have.
pub fn contact_view(
    req: &HttpRequest,
    state: &SimState,
    platform: PlatformType,
    truth: impl FnOnce(&ShopKey, &str) -> Option<ContactTruth>,
) -> HttpResponse {
    let params = request_params(req, &[]);
    let get = |k: &str| params.get(k).map(String::as_str);
    let shop = match shop_key(state, platform, get("app_key"), get("seller")) {
        Ok(shop) => shop,
        Err(message) => return HttpResponse::BadRequest().json(json!({ "error": message })),
    };
    let Some(order_id) = non_empty(&params, "order_id") else {
        return HttpResponse::BadRequest().json(json!({ "error": "order_id is required" }));
    };
    match truth(&shop, order_id) {
        Some(t) => HttpResponse::Ok().json(t.to_json(order_id)),
        None => HttpResponse::NotFound().json(json!({ "error": "no such order" })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn the_quota_counts_items_per_app_and_renews_at_beijing_midnight() {
        let ledger = DecryptLedger::default();
        let t = at("2026-03-01T15:30:00Z"); // 23:30 Beijing
        let p = PlatformType::Pdd;
        assert_eq!(ledger.take(p, "a", 2, 3, t), Ok(()));
        let spent = ledger.take(p, "a", 2, 3, t).unwrap_err();
        assert_eq!((spent.used, spent.renews_in_seconds), (2, 1800));
        assert_eq!(ledger.take(p, "a", 1, 3, t), Ok(()));
        assert_eq!(ledger.take(p, "b", 3, 3, t), Ok(()), "per app key");
        assert_eq!(
            ledger.take(PlatformType::Jd, "a", 3, 3, t),
            Ok(()),
            "per platform"
        );
        let next_day = at("2026-03-01T16:00:01Z");
        assert_eq!(ledger.take(p, "a", 3, 3, next_day), Ok(()));
    }

    #[test]
    fn some_buyers_are_protected_and_scenes_parse() {
        let protected = (0..1000)
            .filter_map(|i| protected_number(&[&i.to_string()], "184"))
            .collect::<Vec<_>>();
        assert!((100..200).contains(&protected.len()), "{}", protected.len());
        for (main, ext) in &protected {
            assert!(main.starts_with("184") && main.len() == 11 && ext.len() == 4);
        }
        assert_eq!(
            protected_number(&["x"], "170"),
            protected_number(&["x"], "170")
        );
        assert_eq!(parse_scenes("1006, 2001").unwrap().len(), 2);
        assert!(parse_scenes("3001").is_err());
        assert_eq!(DecryptConfig::default().taobao_scenes.len(), 9);
    }
}
