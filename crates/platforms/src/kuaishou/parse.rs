//! Reading Kuaishou answers: OAuth tokens, the API envelope and `open.order.cursor.list` pages
//! (shapes and codes [unverified], see the module doc).

use chrono::{DateTime, Utc};
use leadgen_domain::{
    BuyerRef, ContactField, ContactKind, Money, NeutralStatus, OrderItem, RawOrder, Receiver,
};
use serde_json::Value;

use crate::client::{
    FetchedOrder, PlatformError, TokenSet, oauth_error, platform_said, platform_text, token_error,
};
use crate::contact::{listed_phone, listed_text};
use crate::json::{
    epoch_time, int, item_price_fen, item_quantity, list_at, page_list, str_at, text,
};

/// The cursor that ends a walk.
pub const NO_MORE: &str = "nomore";

/// Reads the OAuth answer (`result=1` with tokens), or the error it carries with Kuaishou's words
/// kept. Kuaishou documents only `result=1` (README §5 [3p]); a failure is classified by its
/// `error` only when it is one OAuth 2.0 defines (RFC 6749 §5.2: the endpoint is Kuaishou's
/// `oauth2` one), whatever its `result`, or with none: a dead or denied grant is refused, a wrong
/// app secret or request is ours to mend ([`oauth_error`]). Any other failure (a `result` other
/// than 1, or none beside an error text) is [`PlatformError::Unknown`] with the platform's
/// `result` and text: reported as sent, and the shop is not declared dead for it.
///
/// An answer without `result` that carries an `access_token` and no error is read as tokens:
/// `result=1` rests on a third-party note, and refused as `Malformed` the answer's tokens were
/// lost though the platform may have rotated the pair with them. Only an answer carrying no
/// error and no token is `Malformed`.
pub fn parse_token_response(json: &Value, now: DateTime<Utc>) -> Result<TokenSet, PlatformError> {
    let result = int(json.get("result"));
    let tokens_without_result = result.is_none()
        && text(json.get("access_token")).is_some()
        && token_error(json, true, &|_| None).is_none();
    if result != Some(1) && !tokens_without_result {
        let said = platform_text(&[
            &result.map(|r| format!("result {r}")).unwrap_or_default(),
            str_at(json, "msg"),
            str_at(json, "error_msg"),
            str_at(json, "error_description"),
        ]);
        if let Some(refused) = oauth_error(str_at(json, "error").trim(), &said) {
            return Err(refused);
        }
        if let Some(result) = result {
            return Err(unknown(json, result));
        }
        // No `result`: an error the answer carries is unknown, with its text.
        if let Some(error) = token_error(json, false, &|_| None) {
            return Err(error);
        }
        return Err(PlatformError::Malformed("令牌响应缺少 result".into()));
    }
    let access_token = text(json.get("access_token"))
        .ok_or_else(|| PlatformError::Malformed("令牌响应缺少 access_token".into()))?;
    let after = |key: &str| crate::json::expiry(json.get(key), now);
    Ok(TokenSet {
        access_token,
        refresh_token: text(json.get("refresh_token")),
        expires_at: after("expires_in"),
        refresh_expires_at: after("refresh_token_expires_in"),
        shop_id: text(json.get("open_id")),
        shop_name: None,
    })
}

/// Maps the API envelope to a typed error; `None` when `result` is 1.
pub fn parse_api_error(json: &Value) -> Option<PlatformError> {
    let Some(result) = int(json.get("result")) else {
        return Some(without_result(json));
    };
    // Kuaishou documents no error code at all (README §0 shows `?` for its rate-limit and
    // expired-token codes; §5 only `result=1`). The simulator's codes (17 rate limited, 24/25
    // token expired/invalid, 10–16 system parameters, 28 permission, 2001 business parameters,
    // 500/503) are this project's design, not the platform's: classifying them as throttled,
    // expired or permanent would rest on a guess. Every failure is therefore unknown: retried
    // with bounded backoff, refreshed once, then reported with Kuaishou's `result` and text
    // (docs/platform-sync.md §4.5, §4.6).
    (result != 1).then(|| unknown(json, result))
}

/// An API answer without `result`. Kuaishou documents no error shape: one that says something
/// (`code`/`error_code`, `error`, `msg`/`error_msg`: `{"code":401,"msg":"token expired"}`) is
/// [`PlatformError::Unknown`] with those words, so it is retried and then refreshed once like any
/// undocumented code (as `Malformed` it was never refreshed, though it may say the token
/// expired). Only an answer that says nothing of the kind is `Malformed`, with whatever other
/// text it has.
fn without_result(json: &Value) -> PlatformError {
    let code = text(json.get("code")).or_else(|| text(json.get("error_code")));
    let error = str_at(json, "error").trim();
    let (code, error) = match code {
        Some(code) => (code, error),
        None => (error.to_owned(), ""),
    };
    let message = platform_text(&[error, str_at(json, "msg"), str_at(json, "error_msg")]);
    if !code.is_empty() || !message.is_empty() {
        return PlatformError::Unknown { code, message };
    }
    let other = platform_text(&[str_at(json, "message"), str_at(json, "sub_msg")]);
    PlatformError::Malformed(format!("响应缺少 result{}", platform_said(&other)))
}

/// [`PlatformError::Unknown`] with the answer's `result` and whatever text it carries.
fn unknown(json: &Value, result: i64) -> PlatformError {
    PlatformError::Unknown {
        code: result.to_string(),
        message: platform_text(&[
            str_at(json, "error"),
            str_at(json, "msg"),
            str_at(json, "error_msg"),
        ]),
    }
}

/// Reads one page: its orders (each kept, parsed or not) and the next cursor.
pub fn parse_cursor_page(
    json: &Value,
) -> Result<(Vec<FetchedOrder>, Option<String>), PlatformError> {
    let data = match json.get("data") {
        Some(d @ Value::Object(_)) => d,
        _ => return Err(PlatformError::Malformed("响应缺少 data 对象".into())),
    };
    let cursor = match data.get("cursor") {
        Some(Value::String(c)) => Some(c.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(PlatformError::Malformed("字段 cursor 不是字符串".into())),
    };
    // An empty list may be left out on the last page; without it on a page whose cursor walks on
    // (not `"nomore"`), the answer cannot be trusted. An empty list sent as `[]` does not end the
    // walk (the cursor does), so it is read as it is.
    let walks_on = cursor.as_deref().is_some_and(|c| c != NO_MORE);
    // The README names the cursor but not the list's field (§5): a last page that leaves
    // `orderList` out yet carries another non-empty list may hold its orders under another
    // name, and read as empty it would end the window with them unseen.
    let other_list = || {
        data.as_object().and_then(|fields| {
            fields
                .iter()
                .find(|(_, v)| v.as_array().is_some_and(|l| !l.is_empty()))
                .map(|(name, _)| {
                    leadgen_domain::order::printable(name)
                        .chars()
                        .take(64)
                        .collect::<String>()
                })
        })
    };
    let list = match data.get("orderList") {
        None | Some(Value::Null) if walks_on => {
            return Err(PlatformError::Malformed(
                "缺少 orderList，但游标表示还有下一页".into(),
            ));
        }
        None | Some(Value::Null) if other_list().is_some() => {
            return Err(PlatformError::Malformed(format!(
                "缺少 orderList，但 data 中有其他非空列表 {}",
                other_list().unwrap_or_default()
            )));
        }
        list => page_list(list, "orderList", false).map_err(PlatformError::Malformed)?,
    };
    let orders = list
        .iter()
        .map(|raw| FetchedOrder {
            order_id: text(raw.get("orderBaseInfo").and_then(|b| b.get("oid"))),
            parsed: parse_order(raw),
            raw: raw.clone(),
        })
        .collect();
    Ok((orders, cursor))
}

/// `orderBaseInfo.status` → neutral status.
fn status(code: i64) -> Option<NeutralStatus> {
    Some(match code {
        10 => NeutralStatus::Unpaid,
        30 => NeutralStatus::Paid,
        40 => NeutralStatus::Shipped,
        50 | 70 => NeutralStatus::Completed,
        80 => NeutralStatus::Closed,
        _ => return None,
    })
}

/// The ciphertext (`encrypted*`) with its mask (`desensitise*`), else the plain field: plain
/// only when it reads as what it claims to be, else opaque ([`listed_phone`], [`listed_text`]).
fn contact(
    addr: &Value,
    field: &str,
    classify: fn(&str) -> Option<ContactField>,
) -> Option<ContactField> {
    let mut chars = field.chars();
    let capital: String = chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect();
    let cipher = str_at(addr, &format!("encrypted{capital}")).trim();
    let masked =
        Some(str_at(addr, &format!("desensitise{capital}")).trim()).filter(|m| !m.is_empty());
    if !cipher.is_empty() {
        return Some(ContactField {
            kind: ContactKind::PlatformEncrypted,
            value: cipher.to_owned(),
            masked: masked.map(str::to_owned),
            expires_at: None,
            decryptable: false,
        });
    }
    classify(str_at(addr, field)).map(|f| f.with_masked(masked))
}

/// Parses one `orderList` entry into the neutral form.
pub fn parse_order(raw: &Value) -> Result<RawOrder, String> {
    let base = raw.get("orderBaseInfo").ok_or("缺少字段 orderBaseInfo")?;
    let order_id = text(base.get("oid")).ok_or("缺少字段 oid")?;
    let code = int(base.get("status")).ok_or("缺少字段 status")?;
    let status = status(code).ok_or_else(|| format!("未知的订单状态 `{code}`"))?;
    let created_at = epoch_time(base, "createTime", true)?.ok_or("缺少字段 createTime")?;
    let amount = int(base.get("totalFee")).ok_or("缺少字段 totalFee")?;
    if amount < 0 {
        return Err("字段 totalFee 的金额为负数".into());
    }
    let items = match raw.get("orderItemInfo") {
        // The item's `num` and `price` (fen) are always sent [unverified: Kuaishou's shape is
        // this crate's design, mirrored by the simulator]: an item without them is unreadable,
        // not one at no price.
        Some(item @ Value::Object(_)) => vec![OrderItem {
            sku_id: text(item.get("skuId")).filter(|s| s != "0"),
            title: str_at(item, "itemTitle").to_owned(),
            quantity: item_quantity(item, "orderItemInfo", "num")?,
            price: item_price_fen(item, "orderItemInfo", "price")?,
        }],
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err("字段 orderItemInfo 不是对象".into()),
    };
    let refunds = list_at(raw, "orderRefundList")?;
    let refunded = !refunds.is_empty();
    // One item per order: a refund of less than the order (part of the quantity, or nothing at
    // all: a request closed with `refundFee` 0) is partial when every refund says its
    // `refundFee`; else the whole order.
    let partial_refund = refunds
        .iter()
        .map(|r| int(r.get("refundFee")))
        .sum::<Option<i64>>()
        .filter(|fee| (0..amount).contains(fee))
        .map(Money::from_fen);
    let addr = raw.get("orderAddress").unwrap_or(&Value::Null);
    let region = ["province", "city", "district", "town"]
        .iter()
        .map(|k| str_at(addr, k))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(RawOrder {
        order_id,
        status,
        platform_status: code.to_string(),
        created_at,
        paid_at: epoch_time(base, "payTime", true)?,
        modified_at: epoch_time(base, "updateTime", true)?,
        amount: Money::from_fen(amount),
        refunded,
        partial_refund,
        buyer: BuyerRef {
            open_id: text(base.get("buyerOpenId")),
            nick: text(base.get("buyerNick")),
        },
        receiver: Receiver {
            name: contact(addr, "consignee", listed_text),
            phone: contact(addr, "mobile", listed_phone),
            region,
            address: contact(addr, "address", listed_text),
            oaid: None,
        },
        items,
    })
}
