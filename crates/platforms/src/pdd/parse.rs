//! Reading PDD responses: errors, tokens and orders.

use chrono::{DateTime, TimeZone, Utc};
use leadgen_domain::time::parse_beijing;
use leadgen_domain::{
    BuyerRef, ContactField, ContactKind, NeutralStatus, OrderItem, RawOrder, Receiver,
};
use serde_json::Value;

use super::LIST_RESPONSE;
use crate::client::{FetchedOrder, PlatformError, TokenSet, platform_text};
use crate::json::{int, item_price, item_quantity, list_at, str_at, text, yuan};

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
/// (README §3.4); 10001 公共参数错误 (signature, type), 10002 业务参数错误 and 10016 client
/// offline are caller errors from ISV clients' recorded answers [3p]; every other code is
/// [`PlatformError::Unknown`].
pub fn parse_error_response(json: &Value) -> Option<PlatformError> {
    let e = json.get("error_response")?;
    let (code, detail) = error_detail(e);
    if matches!(code, 10001 | 10002 | 10016) {
        return Some(PlatformError::InvalidRequest(detail));
    }
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

/// Reads the token endpoint's answer: the fields of `pop_auth_token_create_response`, unwrapped
/// (or wrapped, as the signed `pdd.pop.auth.token.*` APIs answer), or an `error_response`.
///
/// Of PDD's token errors only 20001 授权码无效 (the authorization code refused) has a source
/// [3p: an ISV client's recorded answers, cited in `tools/platform-sim/src/pdd/errors.rs`]:
/// `AuthRefused`. No code for a refused refresh token is documented (README §3.4 lists none;
/// the simulator's 20002 is its own choice), and 10019 is documented for an expired
/// *access* token on API calls, not for the token endpoint: like every other code they are
/// [`PlatformError::Unknown`] with PDD's code and text (retried, then reported; the shop is
/// not declared dead). 10001/10002/10016 are caller errors as on any call, and the
/// documented throttle and server codes are retried.
pub fn parse_token_response(json: &Value, now: DateTime<Utc>) -> Result<TokenSet, PlatformError> {
    if let Some(e) = json.get("error_response") {
        let (code, detail) = error_detail(e);
        return Err(match code {
            20001 => PlatformError::AuthRefused(detail),
            10001 | 10002 | 10016 => PlatformError::InvalidRequest(detail),
            _ => match transient_or_session(code, e) {
                Some(PlatformError::SessionExpired { .. }) | None => PlatformError::Unknown {
                    code: code.to_string(),
                    message: own_message(code, &detail),
                },
                Some(transient) => transient,
            },
        });
    }
    let body = [
        "pop_auth_token_create_response",
        "pop_auth_token_refresh_response",
    ]
    .iter()
    .find_map(|k| json.get(*k))
    .unwrap_or(json);
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| PlatformError::Malformed("token response without access_token".into()))?;
    let instant = |at: &str, within: &str| {
        int(body.get(at))
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
            .or_else(|| int(body.get(within)).map(|s| now + chrono::Duration::seconds(s)))
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

/// Reads one `order_list_get_response` page (asked with `use_has_next=true`): its orders and
/// `has_next`.
pub fn parse_orders_page(json: &Value) -> Result<(Vec<FetchedOrder>, bool), PlatformError> {
    let page = parse_listing(json, LIST_RESPONSE, "order_list", true)?;
    Ok((page.orders, page.has_next))
}

/// One page of `pdd.order.list.get` or `pdd.order.number.list.increment.get`.
#[derive(Debug)]
pub struct ListingPage {
    pub orders: Vec<FetchedOrder>,
    pub has_next: bool,
    /// `total_count` (absent with `use_has_next`).
    pub total: u64,
}

/// The page under `key`, its orders in `list`; `has_next` is required when asked for with
/// `use_has_next` (otherwise `total_count` is).
pub fn parse_listing(
    json: &Value,
    key: &str,
    list: &str,
    use_has_next: bool,
) -> Result<ListingPage, PlatformError> {
    let body = json
        .get(key)
        .ok_or_else(|| PlatformError::Malformed(format!("no {key}")))?;
    let total = match body.get("total_count") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        Some(_) => None,
    };
    let has_next = match body.get("has_next") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        None if !use_has_next => false,
        _ => return Err(PlatformError::Malformed("has_next is missing".into())),
    };
    if !use_has_next && total.is_none() {
        return Err(PlatformError::Malformed("total_count is missing".into()));
    }
    let items = match body.get(list) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(PlatformError::Malformed(format!("{list} is not a list"))),
    };
    let orders = items
        .into_iter()
        .map(|raw| FetchedOrder {
            order_id: text(raw.get("order_sn")),
            parsed: parse_order(&raw),
            raw,
        })
        .collect();
    Ok(ListingPage {
        orders,
        has_next,
        total: total.unwrap_or(0),
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
/// `main-ext` of kind [`ContactKind::Virtual`]; `138****5678` is masked.
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
    ContactField::phone(value).map(|f| f.with_masked(Some(mask)))
}

/// A time as PDD sends it in orders: `yyyy-MM-dd HH:mm:ss` Beijing, or unix seconds.
fn time(raw: &Value, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_beijing(s)
            .map(Some)
            .ok_or_else(|| format!("{key} `{s}` is not yyyy-MM-dd HH:mm:ss")),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
            .map(Some)
            .ok_or_else(|| format!("{key} `{n}` is not unix seconds")),
        Some(other) => Err(format!("{key} `{other}` is not a time")),
    }
}

/// Parses one `order_list` entry into the neutral form.
pub fn parse_order(raw: &Value) -> Result<RawOrder, String> {
    let order_id = text(raw.get("order_sn")).ok_or("order_sn is missing")?;
    let order_status = int(raw.get("order_status")).ok_or("order_status is missing")?;
    let refund_status = int(raw.get("refund_status")).ok_or("refund_status is missing")?;
    let status = status(order_status, refund_status).ok_or_else(|| {
        format!("unknown order_status {order_status} / refund_status {refund_status}")
    })?;
    let created_at = time(raw, "created_time")?.ok_or("created_time is missing")?;
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
        ContactField::text(str_at(raw, key)).map(|f| f.with_masked(Some(str_at(raw, mask))))
    };
    let address = text_field("address", "address_mask")
        .or_else(|| text_field("receiver_address", "address_mask"));
    Ok(RawOrder {
        order_id,
        status,
        platform_status: format!("order_status={order_status};refund_status={refund_status}"),
        created_at,
        paid_at: time(raw, "pay_time")?,
        modified_at: time(raw, "updated_at")?,
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
