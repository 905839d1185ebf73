//! Reading TOP responses: errors, tokens and trades.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use leadgen_domain::order::partial_refund;
use leadgen_domain::time::parse_beijing;
use leadgen_domain::{BuyerRef, ContactField, NeutralStatus, OrderItem, RawOrder, Receiver};
use serde_json::Value;

use crate::client::{FetchedOrder, OAUTH_REFUSALS, PlatformError, TokenSet, platform_text};
use crate::json::{list_at, str_at, yuan};
use crate::resilience::BanScope;

/// Maps `{"error_response": {...}}` to a typed error; `None` when the response is not an error.
/// Documented (README §1.4): 4–8 throttled (7 with "This ban will last for N more seconds"),
/// 26/27 session, 15 `isp.*` unavailable; caller errors 11/12 permission, 25 signature, 28/29
/// app key, 30/31 timestamp, 40/41 arguments, 15 `isv.*`. Any other code is
/// [`PlatformError::Unknown`].
pub fn parse_error_response(json: &Value) -> Option<PlatformError> {
    let e = json.get("error_response")?;
    let code = match e.get("code") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
        Some(Value::String(s)) => s.parse().unwrap_or(-1),
        _ => -1,
    };
    let msg = e.get("msg").and_then(Value::as_str).unwrap_or("");
    let sub_code = e.get("sub_code").and_then(Value::as_str).unwrap_or("");
    let sub_msg = e.get("sub_msg").and_then(Value::as_str).unwrap_or("");
    let detail = format!("code {code} {msg} {sub_code} {sub_msg}")
        .trim()
        .to_owned();
    // The platform's own words, as the throttle and session errors carry them.
    let said = platform_text(&[&code.to_string(), sub_code, msg, sub_msg]);
    Some(match code {
        // A stated ban ("This ban will last for N more seconds") is honoured whichever of the
        // throttle codes carries it. An app's or partner's (6-8) holds every call of the app key
        // (`resilience::Limiter::hold`, see [`ban_is_app_wide`]); a user's or session's (4, 5)
        // is one shop's, so it is waited out by that shop's backoff alone.
        4..=8 => PlatformError::Throttled {
            retry_after: stated_ban(msg, sub_msg),
            detail: said,
        },
        26 | 27 => PlatformError::SessionExpired { detail: said },
        15 if sub_code.starts_with("isp.") => PlatformError::Unavailable(detail),
        15 if sub_code.starts_with("isv.") => PlatformError::InvalidRequest(detail),
        11 | 12 | 25 | 28..=31 | 40 | 41 => PlatformError::InvalidRequest(detail),
        _ => PlatformError::Unknown {
            code: if sub_code.is_empty() {
                code.to_string()
            } else {
                format!("{code}/{sub_code}")
            },
            message: format!("{msg} {sub_msg}").trim().to_owned(),
        },
    })
}

/// Reads N from TOP's "This ban will last for N more seconds".
pub(super) fn ban_seconds(text: &str) -> Option<u64> {
    let rest = text.split("last for ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The wait a TOP error states, from its `sub_msg` (where code 7 puts it) or else its `msg`.
pub(super) fn stated_ban(msg: &str, sub_msg: &str) -> Option<Duration> {
    ban_seconds(sub_msg)
        .or_else(|| ban_seconds(msg))
        .map(Duration::from_secs)
}

/// Whose calls a TOP error's stated ban holds: the app key's (codes 6–8: partner / app call
/// limits, README §1.4) rather than one user's or session's (4, 5, `None`). A limit on the app's
/// calls as a whole (`sub_code` `accesscontrol.limited-by-app-access-count`) holds every API of
/// the app key, a reveal's decrypt included; the others the API refused
/// ([`crate::registry::Transport::post_form`]).
pub fn ban_is_app_wide(json: &Value) -> Option<BanScope> {
    let error = json.get("error_response")?;
    let code = match error.get("code") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    if !matches!(code, Some(6..=8)) {
        return None;
    }
    let sub_code = error.get("sub_code").and_then(Value::as_str).unwrap_or("");
    Some(if sub_code.ends_with("limited-by-app-access-count") {
        BanScope::App
    } else {
        BanScope::Api
    })
}

/// Reads the token endpoint's answer (success or OAuth error).
pub fn parse_token_response(json: &Value, now: DateTime<Utc>) -> Result<TokenSet, PlatformError> {
    if let Some(error) = json.get("error").and_then(Value::as_str) {
        let description = json
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("");
        // The OAuth 2.0 refusals (RFC 6749 §5.2) end the grant; any other error is not
        // documented, and a shop is not declared dead for it: unknown, retried later.
        return Err(if OAUTH_REFUSALS.contains(&error) {
            PlatformError::AuthRefused(format!("{error}: {description}"))
        } else {
            PlatformError::Unknown {
                code: error.to_owned(),
                message: description.to_owned(),
            }
        });
    }
    let access_token = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| PlatformError::Malformed("token response without access_token".into()))?;
    let seconds = |key: &str| json.get(key).and_then(Value::as_i64);
    let millis = |key: &str| {
        json.get(key)
            .and_then(Value::as_i64)
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
    };
    let expires_at = millis("expire_time")
        .or_else(|| seconds("expires_in").map(|s| now + chrono::Duration::seconds(s)));
    // re_expires_in = 0 means the refresh token cannot be used (README §1.1: re-authorize).
    // The answer then says so explicitly: no refresh token, and its window over now
    // ([`TokenSet::refresh_unusable`]), so a session does not keep the one it refreshed with.
    let refresh_usable = seconds("re_expires_in").is_none_or(|s| s > 0);
    let refresh_expires_at = if refresh_usable {
        seconds("re_expires_in")
            .map(|s| now + chrono::Duration::seconds(s))
            .or_else(|| millis("refresh_token_valid_time"))
    } else {
        Some(now)
    };
    let text = |key: &str| {
        json.get(key).and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let shop_name = text("taobao_user_nick").map(|nick| {
        urlencoding::decode(&nick)
            .map(|s| s.into_owned())
            .unwrap_or(nick)
    });
    Ok(TokenSet {
        access_token: access_token.to_owned(),
        refresh_token: text("refresh_token").filter(|_| refresh_usable),
        expires_at,
        refresh_expires_at,
        shop_id: text("taobao_user_id"),
        shop_name,
    })
}

/// Reads one `trades_sold_get_response` page: its trades and `has_next`.
pub fn parse_trades_page(json: &Value) -> Result<(Vec<FetchedOrder>, bool), PlatformError> {
    let page = parse_trades(json, "trades_sold_get_response")?;
    Ok((page.orders, page.has_next))
}

/// One page of `taobao.trades.sold.get` (`trades_sold_get_response`) or
/// `taobao.trades.sold.increment.get` (`trades_sold_increment_get_response`).
#[derive(Debug)]
pub struct TradesPage {
    pub orders: Vec<FetchedOrder>,
    pub has_next: bool,
    /// `total_results` (absent with `use_has_next`).
    pub total: Option<u64>,
}

/// A trades page under `key`.
pub fn parse_trades(json: &Value, key: &str) -> Result<TradesPage, PlatformError> {
    let body = json
        .get(key)
        .ok_or_else(|| PlatformError::Malformed(format!("no {key}")))?;
    let trades = match body.get("trades").and_then(|t| t.get("trade")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Err(PlatformError::Malformed(
                "trades.trade is not a list".into(),
            ));
        }
    };
    let has_next = match body.get("has_next") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        None => false,
        Some(_) => return Err(PlatformError::Malformed("has_next is not a boolean".into())),
    };
    let orders = trades
        .into_iter()
        .map(|raw| {
            let order_id = trade_id(&raw);
            let parsed = parse_trade(&raw);
            FetchedOrder {
                order_id,
                raw,
                parsed,
            }
        })
        .collect();
    let total = match body.get("total_results") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_u64().unwrap_or(0)),
        Some(Value::String(s)) => Some(
            s.parse()
                .map_err(|_| PlatformError::Malformed("total_results is not a number".into()))?,
        ),
        Some(_) => {
            return Err(PlatformError::Malformed(
                "total_results is not a number".into(),
            ));
        }
    };
    Ok(TradesPage {
        orders,
        has_next,
        total,
    })
}

fn trade_id(raw: &Value) -> Option<String> {
    match (raw.get("tid_str"), raw.get("tid")) {
        (Some(Value::String(s)), _) if !s.is_empty() => Some(s.clone()),
        (_, Some(Value::Number(n))) => Some(n.to_string()),
        (_, Some(Value::String(s))) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn status(text: &str) -> Option<NeutralStatus> {
    Some(match text {
        "TRADE_NO_CREATE_PAY" | "WAIT_BUYER_PAY" | "PAY_PENDING" | "WAIT_PRE_AUTH_CONFIRM" => {
            NeutralStatus::Unpaid
        }
        "WAIT_SELLER_SEND_GOODS" | "PAID_FORBID_CONSIGN" => NeutralStatus::Paid,
        "SELLER_CONSIGNED_PART" | "WAIT_BUYER_CONFIRM_GOODS" => NeutralStatus::Shipped,
        "TRADE_BUYER_SIGNED" | "TRADE_FINISHED" => NeutralStatus::Completed,
        "TRADE_CLOSED" | "TRADE_CLOSED_BY_TAOBAO" => NeutralStatus::Closed,
        _ => return None,
    })
}

fn time(raw: &Value, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    match str_at(raw, key) {
        "" => Ok(None),
        text => parse_beijing(text)
            .map(Some)
            .ok_or_else(|| format!("{key} `{text}` is not yyyy-MM-dd HH:mm:ss")),
    }
}

/// Parses one TOP trade into the neutral form.
/// Whether an order line's `refund_status` says a refund was asked for or made
/// (`WAIT_SELLER_AGREE`, `WAIT_BUYER_RETURN_GOODS`, `WAIT_SELLER_CONFIRM_GOODS`,
/// `SELLER_REFUSE_BUYER`, `SUCCESS`): `NO_REFUND`, none, and `CLOSED` (退款关闭: the request was
/// withdrawn or closed, the buyer kept the goods and the seller the money) do not, as PDD's
/// `refund_status` 1 counts "no after-sale or after-sale closed" as none.
fn refund_asked(refund_status: &str) -> bool {
    !matches!(refund_status, "" | "NO_REFUND" | "CLOSED")
}

pub fn parse_trade(raw: &Value) -> Result<RawOrder, String> {
    let order_id = trade_id(raw).ok_or("tid is missing")?;
    let platform_status = str_at(raw, "status").to_owned();
    let status =
        status(&platform_status).ok_or_else(|| format!("unknown status `{platform_status}`"))?;
    let created_at = time(raw, "created")?.ok_or("created is missing")?;
    let lines = match raw.get("orders") {
        None | Some(Value::Null) => &[],
        Some(orders @ Value::Object(_)) => {
            list_at(orders, "order").map_err(|e| format!("orders.{e}"))?
        }
        Some(_) => return Err("orders is not an object".into()),
    };
    let mut items = Vec::with_capacity(lines.len());
    let whole_refund = refund_asked(str_at(raw, "refund_status"));
    let mut refunded = whole_refund;
    let mut refund_lines = Vec::with_capacity(lines.len());
    for line in lines {
        let line_refunded = refund_asked(str_at(line, "refund_status"));
        refunded |= line_refunded;
        refund_lines.push((line_refunded, yuan(line, "payment").ok()));
        let quantity = match line.get("num") {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(1),
            Some(Value::String(s)) => s.parse().map_err(|_| format!("orders.num `{s}`"))?,
            _ => 1,
        };
        let sku = match line.get("sku_id") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        items.push(OrderItem {
            sku_id: sku,
            title: str_at(line, "title").to_owned(),
            quantity,
            price: yuan(line, "price").unwrap_or_default(),
        });
    }
    let region = [
        "receiver_state",
        "receiver_city",
        "receiver_district",
        "receiver_town",
    ]
    .iter()
    .map(|k| str_at(raw, k))
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    let phone = ContactField::phone(str_at(raw, "receiver_mobile"))
        .or_else(|| ContactField::phone(str_at(raw, "receiver_phone")));
    Ok(RawOrder {
        order_id,
        status,
        platform_status,
        created_at,
        paid_at: time(raw, "pay_time")?,
        modified_at: time(raw, "modified")?,
        amount: yuan(raw, "payment")?,
        refunded,
        // A sub-order (`orders.order[]`) refunded alone: what that line paid (`payment`).
        partial_refund: partial_refund(refund_lines).filter(|_| !whole_refund),
        buyer: BuyerRef {
            open_id: Some(str_at(raw, "buyer_open_uid").to_owned()).filter(|s| !s.is_empty()),
            nick: Some(str_at(raw, "buyer_nick").to_owned()).filter(|s| !s.is_empty()),
        },
        receiver: Receiver {
            name: ContactField::text(str_at(raw, "receiver_name")),
            phone,
            region,
            address: ContactField::text(str_at(raw, "receiver_address")),
            oaid: Some(str_at(raw, "oaid").to_owned()).filter(|s| !s.is_empty()),
        },
        items,
    })
}

#[cfg(test)]
mod tests {
    use leadgen_domain::{ContactKind, Money};

    use super::*;

    fn fixture() -> Value {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/taobao/trades_sold_get.json"
        ))
        .unwrap()
    }

    #[test]
    fn parses_a_recorded_trades_page() {
        let (orders, has_next) = parse_trades_page(&fixture()).unwrap();
        assert!(has_next);
        assert_eq!(orders.len(), 3);
        let first = orders[0].parsed.as_ref().unwrap();
        assert_eq!(first.order_id, "3512345678901234567");
        assert_eq!(first.status, NeutralStatus::Paid);
        assert_eq!(first.created_at.to_rfc3339(), "2024-05-20T01:58:12+00:00");
        assert_eq!(first.amount, Money(19900));
        assert_eq!(
            first.receiver.phone.as_ref().unwrap().kind,
            ContactKind::Masked
        );
        assert_eq!(first.receiver.region, "浙江省 杭州市 西湖区 三墩镇");
        assert_eq!(first.items[0].title, "夏季连衣裙 A款");
        assert_eq!(
            first.buyer.open_id.as_deref(),
            Some("AAHkv2GqAEqAbHVrBCZJA-Xm")
        );
        assert_eq!(
            orders[0].raw,
            fixture()["trades_sold_get_response"]["trades"]["trade"][0]
        );
        let refunded = orders[1].parsed.as_ref().unwrap();
        assert!(refunded.refunded);
        assert_eq!(refunded.status, NeutralStatus::Closed);
        // The third trade has no `created`: kept with its error, not dropped.
        assert_eq!(orders[2].order_id.as_deref(), Some("3512345678901234999"));
        assert!(orders[2].parsed.as_ref().unwrap_err().contains("created"));
    }

    #[test]
    fn a_refunded_sub_order_is_a_partial_refund_of_what_it_paid() {
        let mut trade = fixture()["trades_sold_get_response"]["trades"]["trade"][0].clone();
        let kept = trade["orders"]["order"][0].clone();
        let mut refunded = kept.clone();
        refunded["payment"] = "59.00".into();
        refunded["refund_status"] = "SUCCESS".into();
        trade["orders"]["order"] = serde_json::json!([kept, refunded]);
        let order = parse_trade(&trade).unwrap();
        assert!(order.refunded);
        assert_eq!(order.partial_refund, Some(Money(5_900)));
        // Every line refunded, or the trade itself: the whole order.
        trade["orders"]["order"][0]["refund_status"] = "WAIT_SELLER_AGREE".into();
        assert_eq!(parse_trade(&trade).unwrap().partial_refund, None);
        trade["orders"]["order"][0]["refund_status"] = "NO_REFUND".into();
        trade["refund_status"] = "SUCCESS".into();
        let whole = parse_trade(&trade).unwrap();
        assert!(whole.refunded);
        assert_eq!(whole.partial_refund, None);
    }

    #[test]
    fn a_closed_refund_request_is_no_refund() {
        for (status, asked) in [
            ("NO_REFUND", false),
            ("", false),
            ("CLOSED", false),
            ("WAIT_SELLER_AGREE", true),
            ("SELLER_REFUSE_BUYER", true),
            ("SUCCESS", true),
        ] {
            assert_eq!(refund_asked(status), asked, "{status}");
        }
        let mut trade = fixture()["trades_sold_get_response"]["trades"]["trade"][0].clone();
        trade["orders"]["order"][0]["refund_status"] = "CLOSED".into();
        assert!(!parse_trade(&trade).unwrap().refunded);
        trade["orders"]["order"][0]["refund_status"] = "WAIT_SELLER_AGREE".into();
        assert!(parse_trade(&trade).unwrap().refunded);
    }

    #[test]
    fn maps_top_errors_to_typed_errors() {
        let err = |code: i64, sub_code: &str, sub_msg: &str| {
            parse_error_response(&serde_json::json!({"error_response": {"code": code, "msg": "m", "sub_code": sub_code, "sub_msg": sub_msg, "request_id": "r"}})).unwrap()
        };
        assert_eq!(
            err(
                7,
                "accesscontrol.limited-by-app-access-count",
                "This ban will last for 12 more seconds"
            ),
            PlatformError::Throttled {
                retry_after: Some(Duration::from_secs(12)),
                detail: "7 accesscontrol.limited-by-app-access-count m This ban will last for 12 more seconds".into()
            }
        );
        // A user's or session's ban (4, 5) states its wait the same way (README §1.4): honoured,
        // but it holds only that shop's calls, not the app key's.
        for code in [4, 5] {
            assert_eq!(
                err(
                    code,
                    "isv.user-call-limited",
                    "This ban will last for 30 more seconds"
                )
                .retry_after(),
                Some(Duration::from_secs(30)),
                "{code}"
            );
            let json =
                serde_json::json!({"error_response": {"code": code, "msg": "User Call Limited"}});
            assert_eq!(ban_is_app_wide(&json), None);
        }
        let in_msg = serde_json::json!({"error_response": {"code": 5,
            "msg": "Session Call Limited: This ban will last for 9 more seconds"}});
        assert_eq!(
            parse_error_response(&in_msg).unwrap().retry_after(),
            Some(Duration::from_secs(9))
        );
        assert_eq!(err(4, "", "").retry_after(), None);
        assert_eq!(
            ban_is_app_wide(
                &serde_json::json!({"error_response": {"code": "7", "msg": "App Call Limited"}})
            ),
            Some(BanScope::Api)
        );
        for (sub_code, scope) in [
            ("accesscontrol.limited-by-app-access-count", BanScope::App),
            ("accesscontrol.limited-by-api-access-count", BanScope::Api),
            (
                "accesscontrol.limited-by-app-api-access-count",
                BanScope::Api,
            ),
        ] {
            assert_eq!(
                ban_is_app_wide(&serde_json::json!({"error_response": {"code": 7,
                    "msg": "App Call Limited", "sub_code": sub_code}})),
                Some(scope),
                "{sub_code}"
            );
        }
        assert_eq!(
            err(27, "invalid-sessionkey", "SessionKey非法"),
            PlatformError::SessionExpired {
                detail: "27 invalid-sessionkey m SessionKey非法".into()
            }
        );
        assert!(matches!(
            err(15, "isp.remote-service-timeout", ""),
            PlatformError::Unavailable(_)
        ));
        assert!(matches!(err(25, "", ""), PlatformError::InvalidRequest(_)));
        assert!(matches!(
            err(15, "isv.invalid-parameter", ""),
            PlatformError::InvalidRequest(_)
        ));
        // A code TOP does not document: unknown, with the platform's own code and text.
        assert_eq!(
            err(9999, "isp.new-thing", "新的错误"),
            PlatformError::Unknown {
                code: "9999/isp.new-thing".into(),
                message: "m 新的错误".into()
            }
        );
        assert!(parse_error_response(&fixture()).is_none());
    }

    #[test]
    fn reads_token_responses() {
        let now = Utc::now();
        let ok = serde_json::json!({"access_token": "at", "refresh_token": "rt", "expires_in": 3600, "re_expires_in": 7200,
            "taobao_user_id": "706388888", "taobao_user_nick": "%E5%BA%97%E9%93%BA"});
        let t = parse_token_response(&ok, now).unwrap();
        assert_eq!(t.shop_name.as_deref(), Some("店铺"));
        assert_eq!(t.refresh_token.as_deref(), Some("rt"));
        assert_eq!(t.expires_at, Some(now + chrono::Duration::seconds(3600)));
        // re_expires_in = 0 (README §1.1): the refresh token cannot be used, and the answer says
        // so explicitly (not "not resent", which would keep the old one).
        let no_refresh = serde_json::json!({"access_token": "at", "refresh_token": "rt", "expires_in": 3600, "re_expires_in": 0});
        let t = parse_token_response(&no_refresh, now).unwrap();
        assert_eq!(t.refresh_token, None);
        assert_eq!(t.refresh_expires_at, Some(now));
        assert!(t.refresh_unusable(now));
        // Without re_expires_in the refresh token is not declared unusable.
        let silent = serde_json::json!({"access_token": "at", "expires_in": 3600});
        assert!(
            !parse_token_response(&silent, now)
                .unwrap()
                .refresh_unusable(now)
        );
        let refused =
            serde_json::json!({"error": "invalid_grant", "error_description": "code expired"});
        assert!(matches!(
            parse_token_response(&refused, now),
            Err(PlatformError::AuthRefused(_))
        ));
        // An error OAuth does not define does not end the grant: unknown, retried later.
        let busy = serde_json::json!({"error": "server_busy", "error_description": "稍后再试"});
        assert!(matches!(
            parse_token_response(&busy, now),
            Err(PlatformError::Unknown { ref code, ref message }) if code == "server_busy" && message == "稍后再试"
        ));
    }
}
