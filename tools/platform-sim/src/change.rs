//! Orders that change over time, as real shops' orders do: the test-only endpoint
//! `POST /_sim/<platform>/orders/change` that every platform mounts, so that a sync by
//! modification time can be tested.
//!
//! Body (JSON): `{"app_key": "…", "seller": "…", "order_id": "…", "change": "REFUND" | "SHIP" |
//! "COMPLETE" | "CLOSE" | "PAY", "at": "<RFC 3339>"}`; `seller` is optional (default: the default
//! seller, [`crate::shop::DEFAULT_SELLER`]) and with `app_key` names the shop; `at` is optional
//! (default: now) and is kept to the millisecond (Kuaishou) or the second (every other platform,
//! whose times have no more).
//!
//! Answers: 200 `{"order_id", "status", "modified"}` with the order's new status and new
//! modification time as the platform writes them; 404 `{"error"}` for an order the shop does
//! not have; 400 `{"error"}` for a bad body, an app key that is not the platform's, an `at`
//! before the order's last modification, or a change the order's state does not allow (SHIP an
//! unpaid order, say).
//!
//! What each change does to an order is the platform's (its `change` module): the platform's
//! own status fields and the values its generator uses for that stage, the event's time
//! fields, and the modification time, which the by-modification listing filters on. The
//! shop's orders are replaced copy-on-write ([`crate::state::PlatformState::update`]): a
//! listing answered before the change shows the old order, every request after it the new one.

use std::fmt;

use actix_web::HttpResponse;
use chrono::{DateTime, SubsecRound, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use leadgen_domain::PlatformType;

use crate::admin::shop_key;
use crate::shop::ShopKey;
use crate::state::SimState;

/// What happened to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Change {
    /// The buyer was refunded in full (after payment).
    Refund,
    /// The seller shipped the order.
    Ship,
    /// The buyer received the order / the trade completed.
    Complete,
    /// The order was closed before payment (PDD: the group failed).
    Close,
    /// The buyer paid an order placed unpaid (Taobao, Douyin, Kuaishou: the platforms that list
    /// orders awaiting payment; JD's and PDD's listed orders are paid already).
    Pay,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Refund => "REFUND",
            Change::Ship => "SHIP",
            Change::Complete => "COMPLETE",
            Change::Close => "CLOSE",
            Change::Pay => "PAY",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request body as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    app_key: String,
    #[serde(default)]
    seller: Option<String>,
    order_id: String,
    change: Change,
    #[serde(default)]
    at: Option<String>,
}

/// A checked change request.
#[derive(Debug, Clone)]
pub struct ChangeRequest {
    /// The shop whose order changes.
    pub shop: ShopKey,
    pub order_id: String,
    pub change: Change,
    /// When it happened, to the millisecond.
    pub at: DateTime<Utc>,
}

impl ChangeRequest {
    /// `at` to the second, for the platforms whose times have no milliseconds.
    pub fn at_second(&self) -> DateTime<Utc> {
        self.at.trunc_subsecs(0)
    }
}

/// The changed order as the answer shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub order_id: String,
    /// The platform's new status (its own field names and values).
    pub status: Value,
    /// The new modification time, formatted as the platform formats it.
    pub modified: Value,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError {
    /// The shop has no such order (404).
    UnknownOrder,
    /// The change makes no sense for the order as it is (400).
    NotAllowed(String),
}

impl ChangeError {
    /// `change` is not possible while the order is in `state`; `hint` says what is needed.
    pub fn not_allowed(change: Change, state: impl fmt::Display, hint: &str) -> Self {
        ChangeError::NotAllowed(format!(
            "{change} is not possible for an order in state {state}: {hint}"
        ))
    }

    /// Refuses an `at` earlier than the order's last modification (`modified`, as written).
    pub fn check_not_before(
        at: DateTime<Utc>,
        last: DateTime<Utc>,
        modified: impl fmt::Display,
    ) -> Result<(), ChangeError> {
        if at < last {
            return Err(ChangeError::NotAllowed(format!(
                "at is before the order's last modification ({modified})"
            )));
        }
        Ok(())
    }
}

impl fmt::Display for ChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeError::UnknownOrder => f.write_str("no such order"),
            ChangeError::NotAllowed(why) => f.write_str(why),
        }
    }
}

/// Sets `key` in an order's JSON: in place when it is there, else right after the first of
/// `after` that is (at the end when none is), so the platform's field order holds.
pub fn set_field(map: &mut Map<String, Value>, key: &str, value: Value, after: &[&str]) {
    if let Some(slot) = map.get_mut(key) {
        *slot = value;
        return;
    }
    let index = after
        .iter()
        .find_map(|a| map.keys().position(|k| k == a))
        .map_or(map.len(), |i| i + 1);
    map.shift_insert(index, key.to_owned(), value);
}

/// Reads and checks the body; the error is a 400 answer's message.
pub fn parse(
    body: &[u8],
    state: &SimState,
    platform: PlatformType,
) -> Result<ChangeRequest, String> {
    let body: Body = serde_json::from_slice(body).map_err(|e| format!("bad body: {e}"))?;
    let shop = shop_key(state, platform, Some(&body.app_key), body.seller.as_deref())?;
    if body.order_id.trim().is_empty() {
        return Err("order_id is required".into());
    }
    let at = match body.at.as_deref().map(str::trim) {
        None | Some("") => state.now(),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|_| format!("at: expected an RFC 3339 time, got `{text}`"))?
            .with_timezone(&Utc),
    };
    Ok(ChangeRequest {
        shop,
        order_id: body.order_id.trim().to_owned(),
        change: body.change,
        at: at.trunc_subsecs(3),
    })
}

/// The whole endpoint: parses `body`, runs `apply` (the platform's change of one order) and
/// answers.
pub fn respond(
    body: &[u8],
    state: &SimState,
    platform: PlatformType,
    apply: impl FnOnce(&ChangeRequest) -> Result<Changed, ChangeError>,
) -> HttpResponse {
    let request = match parse(body, state, platform) {
        Ok(r) => r,
        Err(message) => return HttpResponse::BadRequest().json(json!({ "error": message })),
    };
    match apply(&request) {
        Ok(changed) => {
            tracing::info!(%platform, order_id = %changed.order_id, change = %request.change,
                status = %changed.status, modified = %changed.modified, "order changed");
            HttpResponse::Ok().json(json!({
                "order_id": changed.order_id,
                "status": changed.status,
                "modified": changed.modified,
            }))
        }
        Err(err @ ChangeError::UnknownOrder) => {
            HttpResponse::NotFound().json(json!({ "error": err.to_string() }))
        }
        Err(err @ ChangeError::NotAllowed(_)) => {
            HttpResponse::BadRequest().json(json!({ "error": err.to_string() }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Faults;
    use crate::test_support::sim_state;

    #[test]
    fn bodies_are_checked() {
        let p = PlatformType::Pdd;
        let state = sim_state(1, 10, &[(p, "k", "s")], Faults::default());
        let ok = br#"{"app_key":"k","order_id":" 1 ","change":"SHIP","at":"2026-03-01T08:00:00.1234+08:00"}"#;
        let r = parse(ok, &state, p).unwrap();
        assert_eq!((r.order_id.as_str(), r.change), ("1", Change::Ship));
        assert_eq!(r.shop, ShopKey::default_seller("k"));
        let alice = br#"{"app_key":"k","seller":"alice","order_id":"1","change":"SHIP"}"#;
        assert_eq!(
            parse(alice, &state, p).unwrap().shop,
            ShopKey::new("k", "alice")
        );
        assert_eq!(r.at.to_rfc3339(), "2026-03-01T00:00:00.123+00:00");
        assert_eq!(r.at_second().to_rfc3339(), "2026-03-01T00:00:00+00:00");
        let now = br#"{"app_key":"k","order_id":"1","change":"CLOSE"}"#;
        assert!((Utc::now() - parse(now, &state, p).unwrap().at).num_seconds() < 5);
        for (bad, why) in [
            (
                &br#"{"app_key":"x","order_id":"1","change":"SHIP"}"#[..],
                "registered",
            ),
            (
                br#"{"app_key":"k","order_id":"","change":"SHIP"}"#,
                "order_id",
            ),
            (
                br#"{"app_key":"k","order_id":"1","change":"LOSE"}"#,
                "bad body",
            ),
            (
                br#"{"app_key":"k","order_id":"1","change":"SHIP","at":"now"}"#,
                "RFC 3339",
            ),
            (
                br#"{"app_key":"k","order_id":"1","change":"SHIP","when":"x"}"#,
                "bad body",
            ),
            (
                br#"{"app_key":"k","seller":"a\u0000b","order_id":"1","change":"SHIP"}"#,
                "seller",
            ),
            (b"not json", "bad body"),
        ] {
            let err = parse(bad, &state, p).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        assert!(
            parse(ok, &state, PlatformType::Jd).is_err(),
            "another platform's key"
        );
    }

    #[test]
    fn fields_keep_their_place() {
        let mut map = json!({"a": 1, "c": 3}).as_object().unwrap().clone();
        set_field(&mut map, "b", json!(2), &["x", "a"]);
        set_field(&mut map, "c", json!(4), &[]);
        set_field(&mut map, "d", json!(5), &["x"]);
        assert_eq!(
            Value::Object(map).to_string(),
            r#"{"a":1,"b":2,"c":4,"d":5}"#
        );
    }
}
