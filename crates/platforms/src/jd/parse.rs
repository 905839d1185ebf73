//! Reading JOS responses: gateway errors, `apiResult` failures, tokens and orders.

use chrono::{DateTime, TimeZone, Utc};
use leadgen_domain::{BuyerRef, ContactField, NeutralStatus, OrderItem, RawOrder, Receiver};
use serde_json::Value;

use super::{SEARCH_RESPONSE, SEARCH_RESPONSES};
use crate::client::{FetchedOrder, PageSpan, PlatformError, TokenSet, platform_text, token_error};
use crate::contact::{listed_phone, listed_text};
use crate::json::{
    beijing_time, count_at, flag, int, item_price, item_quantity, list_at, page_list,
    response_body, shown_str, str_at, text, yuan,
};

/// Whether a JOS message says the service is down or busy (retry later).
fn sounds_unavailable(message: &str) -> bool {
    let lower = message.to_lowercase();
    ["繁忙", "不可用", "超时", "busy", "unavailable", "timeout"]
        .iter()
        .any(|w| lower.contains(w))
}

/// Maps `{"error_response":{"code":"19","zh_desc","en_desc"}}` to a typed error; `None` when the
/// response is not a gateway error. Codes [3p]: 2 throttled, 19 invalid access_token; 4/5
/// version, 7/8 timestamp, 11/12 signature, 14/15 method are our bug; a message saying busy or
/// unavailable is transient. Any other code is [`PlatformError::Unknown`] (tried again, then
/// once after a refresh, with its words kept), whatever its text suggests: the README's table
/// stops at 19, so a code past it (21, said of a bad app key) is not taken as permanent.
pub fn parse_error_response(json: &Value) -> Option<PlatformError> {
    let e = json.get("error_response")?;
    let code = text(e.get("code")).unwrap_or_else(|| "?".to_owned());
    let zh = str_at(e, "zh_desc");
    let en = str_at(e, "en_desc");
    let detail = format!("code {code} {zh} {en}").trim().to_owned();
    let said = || platform_text(&[&code, zh, en]);
    Some(match code.as_str() {
        "2" => PlatformError::Throttled {
            retry_after: None,
            detail: said(),
        },
        "19" => PlatformError::SessionExpired { detail: said() },
        _ if sounds_unavailable(zh) || sounds_unavailable(en) => PlatformError::Unavailable(detail),
        "4" | "5" | "7" | "8" | "11" | "12" | "14" | "15" => PlatformError::InvalidRequest(detail),
        _ => PlatformError::Unknown {
            code,
            message: format!("{zh} {en}").trim().to_owned(),
        },
    })
}

/// A response body whose own `code` is not "0". Its values are not documented, so it is
/// unknown (retried, then once after a refresh), with whatever text the body carries.
pub fn body_code_error(response: &str, code: &str, body: &Value) -> PlatformError {
    let message = ["zh_desc", "en_desc", "msg", "message", "errorMessage"]
        .iter()
        .map(|k| str_at(body, k))
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    PlatformError::Unknown {
        code: format!("{response}.code {code}"),
        message,
    }
}

/// Maps a failed `apiResult` (`success=false` inside a 200 answer) by `numberCode` and text.
/// `success` is read as the platforms send flags ([`flag`]: a bool, `"true"`/`"false"` or 1/0):
/// read as a JSON bool only, a `"false"` string was taken for success, and the failed page for
/// an empty one.
fn api_result_error(api_result: &Value) -> Option<PlatformError> {
    if flag(api_result.get("success")) != Some(false) {
        return None;
    }
    let number = text(api_result.get("numberCode")).unwrap_or_default();
    let zh = str_at(api_result, "chineseErrCode");
    let en = str_at(api_result, "englishErrCode");
    let detail = format!("apiResult numberCode {number} {zh} {en}")
        .trim()
        .to_owned();
    // `numberCode` values are not documented: anything but busy/unavailable is unknown.
    Some(if sounds_unavailable(zh) || sounds_unavailable(en) {
        PlatformError::Unavailable(detail)
    } else {
        PlatformError::Unknown {
            code: format!("apiResult {number}"),
            message: format!("{zh} {en}").trim().to_owned(),
        }
    })
}

/// Reads the OAuth answer: the token fields, or `{"code","msg","requestId"}` on refusal.
///
/// JOS documents no OAuth error codes (README §2.1 gives only the shape; §2.4's gateway table
/// has none for the token endpoint), so none of them is known to mean a refused grant or
/// refresh token: every one is [`PlatformError::Unknown`] with JOS's code and `msg` (retried,
/// and the shop is not declared dead for a code nobody documented), or `Unavailable` when the
/// text says busy or unavailable. `AuthRefused` is left for a code with a documented meaning.
pub fn parse_token_response(json: &Value, now: DateTime<Utc>) -> Result<TokenSet, PlatformError> {
    let access_token = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let Some(access_token) = access_token else {
        // An OAuth 2.0 `error`, or a gateway `error_response` (its 19, an API call's access
        // token, is no refusal of the grant here: unknown), with JOS's words ([`token_error`]).
        if let Some(error) = token_error(json, true, &parse_error_response) {
            return Err(error);
        }
        if let Some(code) = text(json.get("code")) {
            let msg = str_at(json, "msg");
            // A busy or unavailable token service is retried; a shop is not declared dead for it.
            return Err(if sounds_unavailable(msg) {
                PlatformError::Unavailable(format!("code {code} {msg}").trim().to_owned())
            } else {
                PlatformError::Unknown {
                    code: format!("oauth {code}"),
                    message: msg.to_owned(),
                }
            });
        }
        // Any other text it carries (`msg`, `error_msg`…): unknown, never `Malformed`.
        if let Some(error) = token_error(json, false, &parse_error_response) {
            return Err(error);
        }
        return Err(PlatformError::Malformed("令牌响应缺少 access_token".into()));
    };
    // Numbers may come as digit strings (`"expires_in": "86400"`, `"time": "1716170292123"`):
    // read alike ([`int`]), or the expiry would be dropped.
    let expires_in = int(json.get("expires_in"));
    let issued = int(json.get("time"))
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .unwrap_or(now);
    Ok(TokenSet {
        access_token: access_token.to_owned(),
        refresh_token: text(json.get("refresh_token")),
        expires_at: expires_in.map(|s| issued + chrono::Duration::seconds(s)),
        refresh_expires_at: None,
        shop_id: text(json.get("uid"))
            .or_else(|| text(json.get("open_id")))
            .or_else(|| text(json.get("xid"))),
        shop_name: text(json.get("user_nick")),
    })
}

/// Reads the page `span` of an `enSearch` answer ([`SEARCH_RESPONSES`], or its one
/// `…_responce` key, [`response_body`]): its orders and `orderTotal` (a count, digits in a string
/// too, spaces ignored). JOS leaves an empty `orderInfoList` out; absent (or empty) while
/// `orderTotal` says more pages follow, the page is `Malformed`, never read as empty; the
/// window's last page is read as empty whatever its total counts ([`page_list`]).
pub fn parse_orders_page(
    json: &Value,
    span: PageSpan,
) -> Result<(Vec<FetchedOrder>, u64), PlatformError> {
    let body = response_body(json, SEARCH_RESPONSES)
        .ok_or_else(|| PlatformError::Malformed(format!("响应缺少 {SEARCH_RESPONSE}")))?;
    if let Some(code) = text(body.get("code")).filter(|c| c.trim() != "0") {
        return Err(body_code_error(SEARCH_RESPONSE, &code, body));
    }
    let result = body
        .get("searchorderinfo_result")
        .ok_or_else(|| PlatformError::Malformed("响应缺少 searchorderinfo_result".into()))?;
    if let Some(error) = result.get("apiResult").and_then(api_result_error) {
        return Err(error);
    }
    let total = count_at(result, "orderTotal")
        .ok()
        .flatten()
        .ok_or_else(|| PlatformError::Malformed("缺少 orderTotal 或其不是计数".into()))?;
    let list = page_list(
        result.get("orderInfoList"),
        "orderInfoList",
        span.followed(total),
    )
    .map_err(PlatformError::Malformed)?;
    let orders = list
        .iter()
        .map(|raw| FetchedOrder {
            order_id: text(raw.get("orderId")),
            parsed: parse_order(raw),
            raw: raw.clone(),
        })
        .collect();
    Ok((orders, total))
}

/// `orderState` → neutral status; `None` for a state JOS does not document.
pub fn status(state: &str) -> Option<NeutralStatus> {
    Some(match state {
        // Paid and not shipped; paused or locked (a cancellation or after-sale request pending).
        "WAIT_SELLER_STOCK_OUT"
        | "WAIT_SELLER_DELIVERY"
        | "PAUSE"
        | "POP_ORDER_PAUSE"
        | "LOCKED" => NeutralStatus::Paid,
        "WAIT_GOODS_RECEIVE_CONFIRM" => NeutralStatus::Shipped,
        "FINISHED_L" => NeutralStatus::Completed,
        "TRADE_CANCELED" => NeutralStatus::Closed,
        _ => return None,
    })
}

/// A `consigneeInfo` value as sent: encrypted (the norm: a TDE Base64 blob, or the `<encrypted>`
/// of the README's sample), masked, virtual or in clear. Only a phone that parses as a phone
/// number, or a name or address in written text, is in clear; anything unrecognised is opaque
/// ([`listed_phone`], [`listed_text`]), never stored as the buyer's contact.
fn consignee_field(value: &str, is_phone: bool) -> Option<ContactField> {
    if is_phone {
        listed_phone(value)
    } else {
        listed_text(value)
    }
}

/// Parses one `orderInfo` into the neutral form.
pub fn parse_order(raw: &Value) -> Result<RawOrder, String> {
    let order_id = text(raw.get("orderId")).ok_or("缺少字段 orderId")?;
    let platform_status = str_at(raw, "orderState").to_owned();
    let status = status(&platform_status).ok_or_else(|| {
        format!(
            "未知的订单状态 orderState `{}`",
            shown_str(&platform_status)
        )
    })?;
    let created_at =
        beijing_time(raw, "orderStartTime", false)?.ok_or("缺少字段 orderStartTime")?;
    let paid_at = beijing_time(raw, "paymentConfirmTime", false)?;
    let lines = list_at(raw, "itemInfoList")?;
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        // Both always sent (README §2.3): a line without them is unreadable, not one item.
        items.push(OrderItem {
            sku_id: text(line.get("skuId")),
            title: str_at(line, "skuName").to_owned(),
            quantity: item_quantity(line, "itemInfoList", "itemTotal")?,
            price: item_price(line, "itemInfoList", "jdPrice")?,
        });
    }
    let consignee = raw.get("consigneeInfo").unwrap_or(&Value::Null);
    let region = ["province", "city", "county", "town"]
        .iter()
        .map(|k| str_at(consignee, k))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let phone = consignee_field(str_at(consignee, "mobile"), true)
        .or_else(|| consignee_field(str_at(consignee, "telephone"), true));
    // A refund is made or requested when a paid order is cancelled or locked.
    let refunded =
        platform_status == "LOCKED" || (platform_status == "TRADE_CANCELED" && paid_at.is_some());
    Ok(RawOrder {
        order_id,
        status,
        platform_status,
        created_at,
        paid_at,
        modified_at: beijing_time(raw, "modified", false)?,
        amount: yuan(raw, "orderPayment")?,
        refunded,
        // JD says only per order.
        partial_refund: None,
        // The README's order carries two buyer ids (§2.3): `open_id_buyer`, else `xid_buyer`
        // (an order that sends only the one would otherwise be its own buyer, and a repeat
        // buyer a run of one-order leads).
        buyer: BuyerRef {
            open_id: ["open_id_buyer", "xid_buyer"]
                .iter()
                .find_map(|key| text(raw.get(*key)).filter(|id| !id.trim().is_empty())),
            nick: text(raw.get("pin")),
        },
        receiver: Receiver {
            name: consignee_field(str_at(consignee, "fullname"), false),
            phone,
            region,
            address: consignee_field(str_at(consignee, "fullAddress"), false),
            // The README gives JD's `oaid` no place in the order (§2.3): beside the order's
            // fields, else among the consignee's it opens. Missed, every reveal of the order
            // would be refused as having nothing to decrypt.
            oaid: text(raw.get("oaid")).or_else(|| text(consignee.get("oaid"))),
        },
        items,
    })
}
