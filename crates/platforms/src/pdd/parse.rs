//! Reading PDD responses: errors, tokens and orders.

use chrono::{DateTime, TimeZone, Utc};
use leadgen_domain::{
    BuyerRef, ContactField, ContactKind, NeutralStatus, OrderItem, RawOrder, Receiver,
};
use serde_json::Value;

use super::{LIST_RESPONSE, PAGE_SIZE};
use crate::client::{FetchedOrder, PageSpan, PlatformError, TokenSet, platform_text, token_error};
use crate::contact::{listed_phone, listed_text};
use crate::json::{
    beijing_time, count_at, int, item_price, item_quantity, list_at, page_list, relative_first,
    response_body, str_at, text, yuan,
};

/// The retry class of an `error_code`: 52101/70031 throttled, 52102/52103 unavailable,
/// 10019 expired token; `None` for every other code. Each keeps PDD's own code and text.
fn transient_or_session(code: i64, e: &Value) -> Option<PlatformError> {
    let said = || own_words(code, e);
    match code {
        52101 | 70031 => Some(PlatformError::Throttled {
            retry_after: None,
            detail: said(),
        }),
        52102 | 52103 => Some(PlatformError::Unavailable(error_detail(e).1)),
        10019 => Some(PlatformError::SessionExpired { detail: said() }),
        _ => None,
    }
}

/// `error_code error_msg sub_code sub_msg`, as PDD sent them.
fn own_words(code: i64, e: &Value) -> String {
    platform_text(&[
        &code.to_string(),
        str_at(e, "error_msg"),
        &text(e.get("sub_code")).unwrap_or_default(),
        str_at(e, "sub_msg"),
    ])
}

fn error_detail(e: &Value) -> (i64, String) {
    let code = int(e.get("error_code")).unwrap_or(-1);
    let detail = platform_text(&[
        &format!("error_code {code}"),
        str_at(e, "error_msg"),
        &text(e.get("sub_code")).unwrap_or_default(),
        str_at(e, "sub_msg"),
    ]);
    (code, detail)
}

/// Maps `{"error_response":{"error_code","error_msg","sub_code","sub_msg"}}` to a typed error;
/// `None` when the response is not an error. 52101/70031, 52102/52103 and 10019 are documented
/// (README §3.4); every other code is [`PlatformError::Unknown`], PDD's code and text kept:
/// retried a bounded number of times, refreshed once, then reported. That includes 10001
/// 公共参数错误, 10002 业务参数错误 and 10016 (client offline), caller errors in ISV clients'
/// recorded answers [3p] that the README does not document: a permanent refusal on them would
/// rest on a guess.
pub fn parse_error_response(json: &Value) -> Option<PlatformError> {
    let e = json.get("error_response")?;
    let (code, detail) = error_detail(e);
    Some(
        transient_or_session(code, e).unwrap_or_else(|| PlatformError::Unknown {
            code: code.to_string(),
            message: own_message(code, &detail),
        }),
    )
}

/// `detail` without its leading `error_code N`: PDD's message, `sub_code` and `sub_msg`.
fn own_message(code: i64, detail: &str) -> String {
    detail
        .strip_prefix(&format!("error_code {code}"))
        .unwrap_or(detail)
        .trim()
        .to_owned()
}

/// A token endpoint's `error_response`: the documented throttle and server codes as on any
/// call; every other code (20001, 10019 and the undocumented 10001/10002/10016 included)
/// unknown, with PDD's words.
fn token_envelope(json: &Value) -> Option<PlatformError> {
    let e = json.get("error_response")?;
    let (code, detail) = error_detail(e);
    Some(match transient_or_session(code, e) {
        Some(PlatformError::SessionExpired { .. }) | None => PlatformError::Unknown {
            code: code.to_string(),
            message: own_message(code, &detail),
        },
        Some(transient) => transient,
    })
}

/// Reads the token endpoint's answer: the fields of `pop_auth_token_create_response`, unwrapped
/// (or wrapped, as the signed `pdd.pop.auth.token.*` APIs answer), or the error it carries, with
/// PDD's words kept ([`token_error`]).
///
/// PDD documents no token-endpoint error code (README §3.1, §3.4): 20001 (授权码无效 in an ISV
/// client's recorded answers, and the simulator's refused code), the simulator's 20002 for a
/// refused refresh token, and 10019 (documented for an expired *access* token on API calls, not
/// for the token endpoint) are [`PlatformError::Unknown`] with PDD's code and text like every
/// other code: reported with its text, the shop never declared dead on a guess.
/// 10001/10002/10016 (undocumented) are unknown as on any call, and the documented throttle and
/// server codes are retried. An OAuth 2.0 `error` (`{"error":"invalid_grant"}`) reads as OAuth defines
/// it ([`oauth_error`](crate::client::oauth_error)); only an answer carrying no error and no
/// `access_token` is `Malformed`.
pub fn parse_token_response(json: &Value, now: DateTime<Utc>) -> Result<TokenSet, PlatformError> {
    let body = response_body(
        json,
        &[
            "pop_auth_token_create_response",
            "pop_auth_token_refresh_response",
        ],
    )
    .unwrap_or(json);
    let has_token = text(body.get("access_token")).is_some();
    let error = token_error(json, has_token, &token_envelope).or_else(|| {
        // An error inside the wrapper.
        (!std::ptr::eq(body, json))
            .then(|| token_error(body, has_token, &token_envelope))
            .flatten()
    });
    if let Some(error) = error {
        return Err(error);
    }
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| PlatformError::Malformed("令牌响应缺少 access_token".into()))?;
    // The relative lifetime first: the README's sample (§3.1) pairs `expires_in` 31,535,999 with
    // an `expires_at` of May 2025, and an answer that copies it would make a token granted now
    // look expired (refreshed at every call). The absolute time (unix seconds) stands in only
    // for a lifetime not given (or 0).
    let instant = |at: &str, within: &str| {
        let absolute = int(body.get(at)).and_then(|s| Utc.timestamp_opt(s, 0).single());
        relative_first(int(body.get(within)), absolute, now)
    };
    Ok(TokenSet {
        access_token: access_token.to_owned(),
        refresh_token: text(body.get("refresh_token")),
        expires_at: instant("expires_at", "expires_in"),
        refresh_expires_at: instant("refresh_token_expires_at", "refresh_token_expires_in"),
        shop_id: text(body.get("owner_id")),
        shop_name: text(body.get("owner_name")),
    })
}

/// Reads the first `order_list_get_response` page: its orders and `has_next` (sent, or what its
/// total says).
pub fn parse_orders_page(json: &Value) -> Result<(Vec<FetchedOrder>, bool), PlatformError> {
    let span = PageSpan::numbered(1, 1, PAGE_SIZE);
    let page = parse_listing(json, &[LIST_RESPONSE], "order_list", true, span)?;
    Ok((page.orders, page.has_next))
}

/// One page of `pdd.order.list.get` or `pdd.order.number.list.increment.get`.
#[derive(Debug)]
pub struct ListingPage {
    pub orders: Vec<FetchedOrder>,
    pub has_next: bool,
    /// `total_count`: always there without `use_has_next`, where it may be.
    pub total: Option<u64>,
}

/// The lists an order page may carry its orders in: the README's sample answers the increment
/// API with `order_sn_list`, and the list API names `order_list`; either is read on either.
const ORDER_LISTS: &[&str] = &["order_list", "order_sn_list"];

/// The page `span` of an answer under the first of `keys` (or its one `…_response` key,
/// [`response_body`]), its orders in `list` (or the other of [`ORDER_LISTS`]).
///
/// - `total_count`: required without `use_has_next` (the backward walk needs it), a count
///   (digits in a string too).
/// - `has_next` (`true`/`false`, 1/0): asked for with `use_has_next`, an answer without a
///   readable one says whether more follow by its `total_count` when that is a count; with
///   neither it is `Malformed`.
/// - The list: PDD leaves an empty list out; absent (or empty) while `has_next` or the total says
///   more pages follow, the page is `Malformed`, never read as empty; the window's last page is
///   read as empty whatever its total counts ([`page_list`]).
pub fn parse_listing(
    json: &Value,
    keys: &[&str],
    list: &str,
    use_has_next: bool,
    span: PageSpan,
) -> Result<ListingPage, PlatformError> {
    let key = keys.first().copied().unwrap_or("response");
    let missing = || PlatformError::Malformed(format!("响应缺少 {key}"));
    let body = response_body(json, keys).ok_or_else(missing)?;
    let total = match count_at(body, "total_count") {
        Ok(total) => total,
        // Not asked for: an unreadable one is no total.
        Err(_) if use_has_next => None,
        Err(e) => return Err(PlatformError::Malformed(e)),
    };
    if !use_has_next && total.is_none() {
        return Err(PlatformError::Malformed("缺少字段 total_count".into()));
    }
    let has_next = span
        .has_next(body, total)?
        .ok_or_else(|| PlatformError::Malformed("缺少字段 has_next".into()))?;
    let (items, name) = std::iter::once(list)
        .chain(ORDER_LISTS.iter().copied().filter(|k| *k != list))
        .find_map(|k| body.get(k).filter(|v| !v.is_null()).map(|v| (Some(v), k)))
        .unwrap_or((None, list));
    let items = page_list(items, name, has_next).map_err(PlatformError::Malformed)?;
    let orders = items
        .iter()
        .map(|raw| FetchedOrder {
            order_id: text(raw.get("order_sn")),
            parsed: parse_order(raw),
            raw: raw.clone(),
        })
        .collect();
    Ok(ListingPage {
        orders,
        has_next,
        total,
    })
}

/// `order_status` (1 待发货, 2 已发货待签收, 3 已签收) and `refund_status` (1 none or closed,
/// 2 after-sale in progress, 3 refunding, 4 refunded) → neutral status; `None` when either is not
/// a documented value. A fully refunded order is closed.
pub fn status(order_status: i64, refund_status: i64) -> Option<NeutralStatus> {
    if !(1..=4).contains(&refund_status) {
        return None;
    }
    let shipped = match order_status {
        1 => NeutralStatus::Paid,
        2 => NeutralStatus::Shipped,
        3 => NeutralStatus::Completed,
        _ => return None,
    };
    Some(if refund_status == 4 {
        NeutralStatus::Closed
    } else {
        shipped
    })
}

/// A decrypted privacy number, `$13812345678$#1234#` or `$95xxxxx$#12345678#` → (main, ext).
fn decrypted_virtual(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix('$')?;
    let (main, ext) = rest.split_once("$#")?;
    let ext = ext.strip_suffix('#')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(main) && digits(ext) && ext.len() <= 8).then_some((main, ext))
}

/// `receiver_phone` as sent, with `receiver_phone_mask` as its masked companion. Ciphertext
/// (`$…$…$0$$`) stays encrypted; a decrypted privacy number (`$main$#ext#`) becomes
/// `main-ext` of kind [`ContactKind::Virtual`]; `138****5678` is masked; only a phone number is
/// plain, and anything unrecognised opaque ([`listed_phone`]).
pub fn parse_phone(value: &str, mask: &str) -> Option<ContactField> {
    let value = value.trim();
    if let Some((main, ext)) = decrypted_virtual(value) {
        return Some(ContactField {
            kind: ContactKind::Virtual,
            value: format!("{main}-{ext}"),
            masked: None,
            expires_at: None,
            decryptable: false,
        });
    }
    listed_phone(value).map(|f| f.with_masked(Some(mask)))
}

/// Parses one `order_list` entry into the neutral form.
pub fn parse_order(raw: &Value) -> Result<RawOrder, String> {
    let order_id = text(raw.get("order_sn")).ok_or("缺少字段 order_sn")?;
    let order_status = int(raw.get("order_status")).ok_or("缺少字段 order_status")?;
    let refund_status = int(raw.get("refund_status")).ok_or("缺少字段 refund_status")?;
    let status = status(order_status, refund_status).ok_or_else(|| {
        format!("未知的订单状态 order_status {order_status} / refund_status {refund_status}")
    })?;
    let created_at = beijing_time(raw, "created_time", true)?.ok_or("缺少字段 created_time")?;
    let lines = list_at(raw, "item_list")?;
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        // Both always sent (README §3.3): a line without them is unreadable, not one item.
        items.push(OrderItem {
            sku_id: text(line.get("sku_id")),
            title: str_at(line, "goods_name").to_owned(),
            quantity: item_quantity(line, "item_list", "goods_count")?,
            price: item_price(line, "item_list", "goods_price")?,
        });
    }
    let region = ["province", "city", "town"]
        .iter()
        .map(|k| str_at(raw, k))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let text_field = |key: &str, mask: &str| {
        listed_text(str_at(raw, key)).map(|f| f.with_masked(Some(str_at(raw, mask))))
    };
    let address = text_field("address", "address_mask")
        .or_else(|| text_field("receiver_address", "address_mask"));
    Ok(RawOrder {
        order_id,
        status,
        platform_status: format!("order_status={order_status};refund_status={refund_status}"),
        created_at,
        paid_at: beijing_time(raw, "pay_time", true)?,
        modified_at: beijing_time(raw, "updated_at", true)?,
        amount: yuan(raw, "pay_amount")?,
        refunded: refund_status != 1,
        // PDD says only per order (`refund_status`).
        partial_refund: None,
        buyer: BuyerRef::default(),
        receiver: Receiver {
            name: text_field("receiver_name", "receiver_name_mask"),
            phone: parse_phone(
                str_at(raw, "receiver_phone"),
                str_at(raw, "receiver_phone_mask"),
            ),
            region,
            address,
            oaid: None,
        },
        items,
    })
}
