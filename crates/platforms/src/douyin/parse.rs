//! Reading Douyin Shop answers: the error envelope, tokens and `order.searchList` pages.

use chrono::{DateTime, Utc};
use leadgen_domain::order::partial_refund;
use leadgen_domain::{
    BuyerRef, ContactField, ContactKind, Money, NeutralStatus, OrderItem, RawOrder, Receiver,
};
use serde_json::Value;

use crate::client::{FetchedOrder, PageSpan, PlatformError, TokenSet, platform_text, token_error};
use crate::contact::{listed_phone, listed_text};
use crate::json::{
    count_at, epoch_time, int, item_price_fen, item_quantity, list_at, page_list, str_at, text,
};

/// How long a refresh token lives (token_create_response.go: 14 days).
pub const REFRESH_TOKEN_DAYS: i64 = 14;

/// `sub_code`s that mean the access token or the shop's authorization is gone: refresh once,
/// else authorize again.
const SESSION_SUB_CODES: &[&str] = &[
    "isv.access-token-expired",
    "isv.access-token-no-existed",
    "isv.access-token-invalid",
    "dop.authorization-no-existed",
    "dop.authorization-closed",
];

/// 40001 ("missing param") and 40003 ("invalid param") `sub_code`s README §4.4 lists beside the
/// session ones: the request's own signature, app id, token or timestamp is wrong, and sending
/// it again would not mend it.
const CALLER_SUB_CODES: &[&str] = &[
    "isv.signature-missing",
    "isv.app-id-missing",
    "isv.access-token-missing",
    "isv.signature-invalid",
    "isv.timestamp-invalid",
    "isv.timestamp-format-error",
    "isv.idempotent-id-existed",
];

/// `dop.token-generate-failed:{reason}` (50001) reasons that mean the merchant's grant is dead:
/// the code (`code-expired`, valid 10 minutes; `code-invalid`), the refresh token
/// (`token-expired`, `token-invalid`) or the shop's authorization (`no-authorization`) — README
/// §4.4 and the error table it draws on (`Imactool\Jinritemai\Error\ErrorCode`). Authorizing
/// again mends them.
const GRANT_REFUSED: &[&str] = &[
    "code-expired",
    "code-invalid",
    "token-expired",
    "token-invalid",
    "no-authorization",
];

/// 50001 reasons that blame our app, not the grant (the same table): the app key or secret
/// (`app-id-invalid`, `app-secret-invalid`), the grant type, or an app the platform disabled.
/// Every shop re-authorizing would not mend them.
const APP_REFUSED: &[&str] = &[
    "app-id-invalid",
    "app-secret-invalid",
    "grant-type-invalid",
    "app-forbidden",
];

/// Whether a 50001 token-generation failure refused the merchant's grant (`true`,
/// [`GRANT_REFUSED`]) or our app (`false`, [`APP_REFUSED`]); `None` for a reason not documented,
/// which is not taken as a dead grant.
fn token_generation_failed(sub_code: &str) -> Option<bool> {
    let reason = sub_code.rsplit_once(':').map_or(sub_code, |(_, r)| r);
    if GRANT_REFUSED.contains(&reason) {
        Some(true)
    } else if APP_REFUSED.contains(&reason) {
        Some(false)
    } else {
        None
    }
}

/// Maps the envelope to a typed error; `None` when `code` is 10000 (or the old `err_no` is 0).
///
/// The older envelope `{"err_no":…,"message":…}` (README §4.4; doudian==0.6 checks `err_no`)
/// has no documented codes beyond 0 = success: any other `err_no` is
/// [`PlatformError::Unknown`] (`err_no N` and the `message`, as sent), retried and refreshed
/// once like every undocumented code, never a permanent refusal on a guess.
pub fn parse_error(json: &Value) -> Option<PlatformError> {
    let Some(code) = int(json.get("code")) else {
        return match int(json.get("err_no")) {
            Some(0) => None,
            Some(n) => Some(PlatformError::Unknown {
                code: format!("err_no {n}"),
                message: platform_text(&[str_at(json, "message")]),
            }),
            None => Some(PlatformError::Malformed("响应缺少 code".into())),
        };
    };
    if code == 10000 {
        return None;
    }
    let sub_code = str_at(json, "sub_code");
    let detail = format!(
        "code {code} {} {sub_code} {}",
        str_at(json, "msg"),
        str_at(json, "sub_msg")
    )
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ");
    let said = || {
        platform_text(&[
            &code.to_string(),
            sub_code,
            str_at(json, "msg"),
            str_at(json, "sub_msg"),
        ])
    };
    let unknown = || PlatformError::Unknown {
        code: if sub_code.is_empty() {
            code.to_string()
        } else {
            format!("{code}/{sub_code}")
        },
        message: format!("{} {}", str_at(json, "msg"), str_at(json, "sub_msg"))
            .trim()
            .to_owned(),
    };
    Some(match code {
        60000 => PlatformError::Throttled {
            retry_after: None,
            detail: said(),
        },
        40003 | 30001 if SESSION_SUB_CODES.contains(&sub_code) => {
            PlatformError::SessionExpired { detail: said() }
        }
        // The app was not granted the API: permanent until its permissions change.
        30001 if sub_code == "isv.app-permissions-insufficient" => {
            PlatformError::InvalidRequest(detail)
        }
        // README §4.4: 20000/20001 are the service unavailable, "retry".
        20000 | 20001 => PlatformError::Unavailable(detail),
        // 90000 is "other" (`isp.unknown-error`): unknown, so retried and then refreshed once,
        // where unavailable would only be retried.
        90000 => unknown(),
        // A wrong app secret is ours to mend: as `AuthRefused` a session would mark every shop
        // expired and ask merchants to authorize again. An undocumented reason is unknown.
        50001 => match token_generation_failed(sub_code) {
            Some(true) => PlatformError::AuthRefused(detail),
            Some(false) => PlatformError::InvalidRequest(detail),
            None => unknown(),
        },
        // Documented caller errors: a missing or invalid signature, app id, token or timestamp
        // (40001, 40003 with a `sub_code` README §4.4 lists), an IP not in the whitelist
        // (30002), an API taken offline (70000). 40001/40003 with any other `sub_code`, or
        // none, is unknown: retried and refreshed once, never refused for good on a guess.
        40001 | 40003 if CALLER_SUB_CODES.contains(&sub_code) => {
            PlatformError::InvalidRequest(detail)
        }
        30002 | 70000 => PlatformError::InvalidRequest(detail),
        _ => unknown(),
    })
}

/// Reads a `token.create` / `token.refresh` answer: the tokens, or the error it carries with the
/// platform's words kept (the envelope's `code`, [`parse_error`]; an OAuth 2.0 `error`,
/// [`token_error`]).
pub fn parse_token_response(json: &Value, now: DateTime<Utc>) -> Result<TokenSet, PlatformError> {
    if let Some(error) = token_error(json, true, &|_| None) {
        return Err(error);
    }
    if let Some(error) = parse_error(json) {
        return Err(error);
    }
    let data = json
        .get("data")
        .ok_or_else(|| PlatformError::Malformed("令牌响应缺少 data".into()))?;
    let access_token = text(data.get("access_token"))
        .ok_or_else(|| PlatformError::Malformed("令牌响应缺少 access_token".into()))?;
    let expires_at = crate::json::expiry(data.get("expires_in"), now);
    let refresh_token = text(data.get("refresh_token"));
    let refresh_expires_at = refresh_token
        .as_ref()
        .map(|_| now + chrono::Duration::days(REFRESH_TOKEN_DAYS));
    Ok(TokenSet {
        access_token,
        refresh_token,
        expires_at,
        refresh_expires_at,
        shop_id: text(data.get("shop_id")),
        shop_name: text(data.get("shop_name")),
    })
}

/// Refreshed more than an hour before expiry, Douyin answers the same pair (README §4.1): the
/// refresh token's expiry did not move, and the 14 days counted from this answer would be
/// wrong, so none is stated (`None`: the stored one stays). A new refresh token keeps its own.
pub fn same_pair_keeps_its_expiry(mut tokens: TokenSet, sent_refresh_token: &str) -> TokenSet {
    if tokens.refresh_token.as_deref() == Some(sent_refresh_token) {
        tokens.refresh_expires_at = None;
    }
    tokens
}

/// Reads the page `span` of an `order.searchList` answer: its orders (each kept, parsed or not)
/// and `data.total` (a count). An empty `shop_order_list` may be left out; absent (or empty)
/// while the total says more pages follow, the page is `Malformed`, never read as empty; the
/// window's last page is read as empty whatever its total counts ([`page_list`]).
pub fn parse_search_page(
    json: &Value,
    span: PageSpan,
) -> Result<(Vec<FetchedOrder>, u64), PlatformError> {
    let data = match json.get("data") {
        Some(data @ Value::Object(_)) => data,
        _ => return Err(PlatformError::Malformed("响应缺少 data 对象".into())),
    };
    let total = count_at(data, "total")
        .ok()
        .flatten()
        .ok_or_else(|| PlatformError::Malformed("缺少字段 data.total".into()))?;
    let list = page_list(
        data.get("shop_order_list"),
        "shop_order_list",
        span.followed(total),
    )
    .map_err(PlatformError::Malformed)?;
    let orders = list
        .iter()
        .map(|raw| FetchedOrder {
            order_id: text(raw.get("order_id")),
            parsed: parse_order(raw),
            raw: raw.clone(),
        })
        .collect();
    Ok((orders, total))
}

/// `order_status` → neutral status: 1 待确认/待支付, 105 已支付, 2 备货中, 101 部分发货,
/// 3 已发货, 4 已取消, 5 已完成.
fn status(code: i64) -> Option<NeutralStatus> {
    Some(match code {
        1 => NeutralStatus::Unpaid,
        105 | 2 => NeutralStatus::Paid,
        101 | 3 => NeutralStatus::Shipped,
        4 => NeutralStatus::Closed,
        5 => NeutralStatus::Completed,
        _ => return None,
    })
}

/// A ciphertext the platform sent (`encrypt_*`) with its masked companion (`mask_*`), or the
/// plain field when no ciphertext was sent: plain only when it reads as what it claims to be,
/// else opaque ([`listed_phone`], [`listed_text`]).
fn contact(
    cipher: &str,
    plain: &str,
    masked: &str,
    classify: fn(&str) -> Option<ContactField>,
) -> Option<ContactField> {
    let masked = Some(masked).filter(|m| !m.trim().is_empty());
    if !cipher.trim().is_empty() {
        return Some(ContactField {
            kind: ContactKind::PlatformEncrypted,
            value: cipher.trim().to_owned(),
            masked: masked.map(|m| m.trim().to_owned()),
            expires_at: None,
            decryptable: false,
        });
    }
    classify(plain).map(|field| field.with_masked(masked))
}

/// After-sale states that mean a refund was asked for or made: 6 申请, 7 退货中, 11 已发货,
/// 12 售后成功, unless the case is an exchange (`after_sale_type` 3 换货: the buyer keeps
/// what they paid for and gets another piece); or `refund_status` 3 退款成功, whatever the
/// type. The codes are those of the SDK README §4.3 names (`AfterSaleInfo` in
/// `order_searchList_response.go`).
fn refund_requested(sku: &Value) -> bool {
    const EXCHANGE: i64 = 3;
    let info = sku.get("after_sale_info").unwrap_or(&Value::Null);
    let exchange = int(info.get("after_sale_type")) == Some(EXCHANGE);
    (!exchange && matches!(int(info.get("after_sale_status")), Some(6 | 7 | 11 | 12)))
        || int(info.get("refund_status")) == Some(3)
}

fn region_of(addr: &Value) -> String {
    ["province", "city", "town", "street"]
        .iter()
        .filter_map(|k| {
            addr.get(k)
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses one `shop_order_list` entry into the neutral form.
pub fn parse_order(raw: &Value) -> Result<RawOrder, String> {
    let order_id = text(raw.get("order_id")).ok_or("缺少字段 order_id")?;
    let code = int(raw.get("order_status")).ok_or("缺少字段 order_status")?;
    let status = status(code).ok_or_else(|| format!("未知的订单状态 order_status `{code}`"))?;
    let created_at = epoch_time(raw, "create_time", false)?.ok_or("缺少字段 create_time")?;
    let amount = int(raw.get("pay_amount")).ok_or("缺少字段 pay_amount")?;
    if amount < 0 {
        return Err("字段 pay_amount 的金额为负数".into());
    }
    let skus = list_at(raw, "sku_order_list")?;
    let items = skus
        .iter()
        .map(|sku| {
            // Both always sent (README §4.3): a sku without them is unreadable, not one item at
            // no price.
            Ok(OrderItem {
                sku_id: text(sku.get("sku_id")).filter(|s| s != "0"),
                title: str_at(sku, "product_name").to_owned(),
                quantity: item_quantity(sku, "sku_order_list", "item_num")?,
                price: item_price_fen(sku, "sku_order_list", "origin_amount")?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let addr = raw.get("post_addr").unwrap_or(&Value::Null);
    let mask_addr = raw.get("mask_post_addr").unwrap_or(&Value::Null);
    let region = match region_of(addr) {
        r if r.is_empty() => region_of(mask_addr),
        r => r,
    };
    Ok(RawOrder {
        order_id,
        status,
        platform_status: code.to_string(),
        created_at,
        paid_at: epoch_time(raw, "pay_time", false)?,
        modified_at: epoch_time(raw, "update_time", false)?,
        amount: Money::from_fen(amount),
        refunded: skus.iter().any(refund_requested),
        // A sku order refunded alone: what that sku paid (`pay_amount`, fen).
        partial_refund: partial_refund(skus.iter().map(|sku| {
            let paid = int(sku.get("pay_amount")).map(Money::from_fen);
            (refund_requested(sku), paid)
        })),
        buyer: BuyerRef {
            open_id: text(raw.get("doudian_open_id")),
            nick: None,
        },
        receiver: Receiver {
            name: contact(
                str_at(raw, "encrypt_post_receiver"),
                str_at(raw, "post_receiver"),
                str_at(raw, "mask_post_receiver"),
                listed_text,
            ),
            phone: contact(
                str_at(raw, "encrypt_post_tel"),
                str_at(raw, "post_tel"),
                str_at(raw, "mask_post_tel"),
                listed_phone,
            ),
            region,
            address: contact(
                str_at(addr, "encrypt_detail"),
                str_at(addr, "detail"),
                str_at(mask_addr, "detail"),
                listed_text,
            ),
            oaid: None,
        },
        items,
    })
}
