//! Reading TOP responses: errors, tokens and trades.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use leadgen_domain::order::partial_refund;
use leadgen_domain::{BuyerRef, NeutralStatus, OrderItem, RawOrder, Receiver};
use serde_json::Value;

use super::PAGE_SIZE;
use crate::client::{FetchedOrder, PageSpan, PlatformError, TokenSet, platform_text, token_error};
use crate::contact::{listed_phone, listed_text};
use crate::json::{
    beijing_time, count_at, int, item_price, item_quantity, list_at, page_list, relative_first,
    response_body, shown_str, str_at, yuan,
};
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

/// Reads the token endpoint's answer: the tokens, or the error it carries with TOP's words kept
/// ([`token_error`]). An OAuth 2.0 `error` (README §1.1): a dead or denied grant is refused, a
/// wrong app secret (`invalid_client`) or request is ours to mend ([`oauth_error`]), any other is
/// unknown. A TOP `error_response` (README §1.4) reads by TOP's code table: throttled, caller
/// errors and `isp.*` as on any call; 26/27 (a session, which the token call does not send) and
/// every other code are unknown: reported with its text, never a dead shop on a guess. Only an
/// answer carrying no error and no `access_token` is `Malformed`.
///
/// [`oauth_error`]: crate::client::oauth_error
pub fn parse_token_response(json: &Value, now: DateTime<Utc>) -> Result<TokenSet, PlatformError> {
    let access_token = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if let Some(error) = token_error(json, access_token.is_some(), &parse_error_response) {
        return Err(error);
    }
    let access_token =
        access_token.ok_or_else(|| PlatformError::Malformed("令牌响应缺少 access_token".into()))?;
    // Numbers may come as digit strings (`"re_expires_in": "0"`): read alike ([`int`]), or a
    // refresh token TOP says is unusable would be kept.
    let seconds = |key: &str| int(json.get(key));
    let millis =
        |key: &str| int(json.get(key)).and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    // The relative lifetime first: the README's sample (§1.1) pairs `expires_in` 7,776,000 with
    // an `expire_time` of 2018, and a fake or a clock that copies it would make a token granted
    // now look expired (refreshed at every call). The absolute time stands in only for a
    // lifetime not given (or 0).
    let expires_at = relative_first(seconds("expires_in"), millis("expire_time"), now);
    // re_expires_in = 0 means the refresh token cannot be used (README §1.1: re-authorize).
    // The answer then says so explicitly: no refresh token, and its window over now
    // ([`TokenSet::refresh_unusable`]), so a session does not keep the one it refreshed with.
    let refresh_usable = seconds("re_expires_in").is_none_or(|s| s > 0);
    let refresh_expires_at = if refresh_usable {
        relative_first(
            seconds("re_expires_in"),
            millis("refresh_token_valid_time"),
            now,
        )
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

/// Reads the first `trades_sold_get_response` page (asked with `use_has_next=true`): its trades
/// and `has_next`.
pub fn parse_trades_page(json: &Value) -> Result<(Vec<FetchedOrder>, bool), PlatformError> {
    let page = parse_trades(
        json,
        "trades_sold_get_response",
        true,
        PageSpan::numbered(1, 1, PAGE_SIZE),
    )?;
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

/// The page `span` of a trades answer under `key` (or the answer's one `…_response` key,
/// [`response_body`]).
///
/// - `has_next` (`true`/`false`, 1/0): asked for with `use_has_next`, an answer without a
///   readable one says whether more follow by its `total_results` (`page_no × page_size <
///   total_results`) when that is a count; with neither it is `Malformed`: read as false it
///   would end the walk after one page and lose the rest unseen.
/// - `total_results`: a count (digits in a string too); anything else is no total, `Malformed`
///   (read as 0 it would end the backward walk before its last pages).
/// - The trades: `{"trades": {"trade": […]}}`, or with `simplify=true` a bare `"trades": […]`.
///   TOP leaves an empty list out; absent (or empty) while `has_next` or the total says more
///   pages follow, the page is `Malformed`, never read as empty. The window's last page is read
///   as empty whatever its total counts ([`page_list`]: the walk's count catches a shortfall).
pub fn parse_trades(
    json: &Value,
    key: &str,
    use_has_next: bool,
    span: PageSpan,
) -> Result<TradesPage, PlatformError> {
    let missing = || PlatformError::Malformed(format!("响应缺少 {key}"));
    let body = response_body(json, &[key]).ok_or_else(missing)?;
    let total = count_at(body, "total_results").map_err(PlatformError::Malformed)?;
    let has_next = match span.has_next(body, total)? {
        Some(has_next) => has_next,
        None if use_has_next => {
            return Err(PlatformError::Malformed("缺少字段 has_next".into()));
        }
        None => false,
    };
    let (list, name) = match body.get("trades") {
        Some(wrapped @ Value::Object(_)) => (wrapped.get("trade"), "trades.trade"),
        other => (other, "trades"),
    };
    let trades = page_list(list, name, has_next).map_err(PlatformError::Malformed)?;
    let orders = trades
        .iter()
        .map(|raw| FetchedOrder {
            order_id: trade_id(raw),
            parsed: parse_trade(raw),
            raw: raw.clone(),
        })
        .collect();
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
    let order_id = trade_id(raw).ok_or("缺少字段 tid")?;
    let platform_status = str_at(raw, "status").to_owned();
    let status = status(&platform_status)
        .ok_or_else(|| format!("未知的订单状态 `{}`", shown_str(&platform_status)))?;
    let created_at = beijing_time(raw, "created", false)?.ok_or("缺少字段 created")?;
    let lines = match raw.get("orders") {
        None | Some(Value::Null) => &[],
        Some(orders @ Value::Object(_)) => {
            list_at(orders, "order").map_err(|_| "字段 orders.order 不是列表".to_owned())?
        }
        Some(_) => return Err("字段 orders 不是对象".into()),
    };
    let mut items = Vec::with_capacity(lines.len());
    let whole_refund = refund_asked(str_at(raw, "refund_status"));
    let mut refunded = whole_refund;
    let mut refund_lines = Vec::with_capacity(lines.len());
    for line in lines {
        let line_refunded = refund_asked(str_at(line, "refund_status"));
        refunded |= line_refunded;
        refund_lines.push((line_refunded, yuan(line, "payment").ok()));
        let sku = match line.get("sku_id") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        items.push(OrderItem {
            sku_id: sku,
            title: str_at(line, "title").to_owned(),
            // Both always sent (README §1.3): a line without them is unreadable, not one item
            // at no price.
            quantity: item_quantity(line, "orders.order", "num")?,
            price: item_price(line, "orders.order", "price")?,
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
    // TOP masks the receiver (README §1.3, its formats illustrative): only a value that reads as
    // a phone number is one in clear; anything unrecognised is opaque ([`listed_phone`]).
    let phone = listed_phone(str_at(raw, "receiver_mobile"))
        .or_else(|| listed_phone(str_at(raw, "receiver_phone")));
    Ok(RawOrder {
        order_id,
        status,
        platform_status,
        created_at,
        paid_at: beijing_time(raw, "pay_time", false)?,
        modified_at: beijing_time(raw, "modified", false)?,
        amount: yuan(raw, "payment")?,
        refunded,
        // A sub-order (`orders.order[]`) refunded alone: what that line paid (`payment`).
        partial_refund: partial_refund(refund_lines).filter(|_| !whole_refund),
        buyer: BuyerRef {
            open_id: Some(str_at(raw, "buyer_open_uid").to_owned()).filter(|s| !s.is_empty()),
            nick: Some(str_at(raw, "buyer_nick").to_owned()).filter(|s| !s.is_empty()),
        },
        receiver: Receiver {
            name: listed_text(str_at(raw, "receiver_name")),
            phone,
            region,
            address: listed_text(str_at(raw, "receiver_address")),
            oaid: Some(str_at(raw, "oaid").to_owned()).filter(|s| !s.is_empty()),
        },
        items,
    })
}

#[cfg(test)]
mod tests;
