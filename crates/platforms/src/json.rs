//! Reading the platforms' JSON: the field helpers every adapter shares, so that a number sent
//! as text, an empty string or a missing field means the same on every platform, and every
//! error names its field.

use chrono::{DateTime, Utc};
use leadgen_domain::money::{InvalidAmount, Money};
use leadgen_domain::time::parse_beijing;
use serde_json::Value;

/// An integer sent as a JSON number or as digits in a string (surrounding spaces ignored).
pub fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-empty string, or a number as text (ids are sent either way); `None` otherwise, and
/// for a number too large to have been read exactly (an id beyond 2^64 arrives as a float, and
/// `1e20` would name two orders alike).
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::Number(n) => Some(n.to_string()).filter(|t| !t.contains(['e', 'E'])),
        _ => None,
    }
}

/// A token lifetime `expires_in` as its end: seconds from `now` as documented; a value no
/// lifetime has (more than 10^9 s, about 31 years) is read as the end itself, in epoch seconds
/// (or milliseconds beyond 10^12), as some platforms' SDKs are reported to send it. Read as
/// seconds, such a value would put the end decades ahead, and the token would never be renewed
/// ahead of time.
pub fn expiry(v: Option<&Value>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    lifetime_end(int(v)?, now)
}

/// The end a lifetime `n` states, by the rule of [`expiry`].
fn lifetime_end(n: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match n {
        n if n > 1_000_000_000_000 => DateTime::from_timestamp_millis(n),
        n if n > 1_000_000_000 => DateTime::from_timestamp(n, 0),
        n => chrono::Duration::try_seconds(n).and_then(|d| now.checked_add_signed(d)),
    }
}

/// A token's end from its lifetime in seconds from `now` when that is given and positive (a
/// value no lifetime has is read as the end itself, as [`expiry`] reads it), else from the
/// absolute time the answer states, else `now + lifetime` (0: already over). A positive
/// lifetime never yields an end in the past while the absolute time says a later one.
pub fn relative_first(
    lifetime: Option<i64>,
    absolute: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let from_lifetime = lifetime.and_then(|s| lifetime_end(s, now));
    match from_lifetime {
        Some(end) if end > now => Some(end),
        _ => absolute.or(from_lifetime),
    }
}

/// A point in time as the platforms write one where no source fixes the format: epoch seconds
/// (10^9 to 10^10: 2001 to 2286) or milliseconds (10^12 to 10^13), as a number or digits; a
/// `yyyy-MM-dd HH:mm:ss` Beijing time; or RFC 3339. `None` for anything else (a number of
/// another size is a duration or a compact date, not an epoch; 0 or less is the platforms'
/// "none"): the caller decides what an unreadable time means.
pub fn instant(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let raw = match v? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    if let Ok(n) = raw.parse::<i64>() {
        return match n {
            1_000_000_000..10_000_000_000 => DateTime::from_timestamp(n, 0),
            1_000_000_000_000..10_000_000_000_000 => DateTime::from_timestamp_millis(n),
            _ => None,
        };
    }
    leadgen_domain::time::parse_beijing(&raw).or_else(|| {
        DateTime::parse_from_rfc3339(&raw)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// A platform's answer as JSON text even where it is not quite: bytes that are not UTF-8 become
/// U+FFFD, and so do `\u` escapes of lone surrogate halves (a title cut in the middle of an
/// emoji), which `serde_json` refuses. `None` when there was nothing to mend. One such order
/// would otherwise make the whole page unreadable, every time it is asked for.
pub fn mended_text(body: &[u8]) -> Option<String> {
    let lossy = String::from_utf8_lossy(body);
    let mut changed = matches!(lossy, std::borrow::Cow::Owned(_));
    let text: Vec<char> = lossy.chars().collect();
    let code_unit = |at: usize| -> Option<u32> {
        if text.get(at) != Some(&'\\') || text.get(at + 1) != Some(&'u') {
            return None;
        }
        let hex: String = text.get(at + 2..at + 6)?.iter().collect();
        u32::from_str_radix(&hex, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != '\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        match code_unit(i) {
            Some(0xD800..=0xDBFF) => {
                if matches!(code_unit(i + 6), Some(0xDC00..=0xDFFF)) {
                    out.extend(&text[i..i + 12]);
                    i += 12;
                } else {
                    out.push_str("\\ufffd");
                    changed = true;
                    i += 6;
                }
            }
            Some(0xDC00..=0xDFFF) => {
                out.push_str("\\ufffd");
                changed = true;
                i += 6;
            }
            // Any other escape, `\\` included, is copied whole.
            _ => {
                out.extend(text.get(i..i + 2).unwrap_or(&text[i..]));
                i += 2;
            }
        }
    }
    changed.then_some(out)
}

/// An order time as Taobao, JD and PDD send it, `yyyy-MM-dd HH:mm:ss` Beijing time, or (PDD,
/// `unix_seconds_too`) unix seconds. `None` when absent, null or empty; a value that is there
/// but does not read is an error, never "no time": an unreadable payment time would make a
/// paid order unpaid.
pub fn beijing_time(
    raw: &Value,
    key: &str,
    unix_seconds_too: bool,
) -> Result<Option<DateTime<Utc>>, String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_beijing(s).map(Some).ok_or_else(|| {
            format!(
                "字段 {key} 的值 `{}` 不符合 yyyy-MM-dd HH:mm:ss 格式",
                shown_str(s)
            )
        }),
        Some(Value::Number(n)) if unix_seconds_too => n
            .as_i64()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .map(Some)
            .ok_or_else(|| format!("字段 {key} 的值 `{n}` 不是有效的 Unix 秒级时间戳")),
        Some(other) => Err(format!("字段 {key} 的值 `{}` 不是时间", shown(other))),
    }
}

/// An order time as Douyin (unix seconds) and Kuaishou (`millis`: milliseconds) send it: a
/// whole number, or one written as text. `None` when absent, null, empty or 0 (the platforms'
/// "not yet"); any other value that does not read is an error, never "no time".
pub fn epoch_time(raw: &Value, key: &str, millis: bool) -> Result<Option<DateTime<Utc>>, String> {
    let value = match raw.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(v) => v,
    };
    let unit = if millis { "毫秒" } else { "秒级" };
    match int(Some(value)) {
        Some(0) => Ok(None),
        Some(n) => if millis {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        }
        .map(Some)
        .ok_or_else(|| format!("字段 {key} 的值 `{n}` 不是有效的{unit}时间戳")),
        None => Err(format!(
            "字段 {key} 的值 `{}` 不是{unit}时间戳",
            shown(value)
        )),
    }
}

/// The string at `key`, or "" when it is missing or not a string.
pub fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The item of a batch answer that answers one request: the one that echoes both the request's
/// id (`id_key`) and its ciphertext (`cipher_key`); else one that echoes the id and no
/// ciphertext at all (the platforms document their decrypt answers' fields loosely). An item
/// that echoes another ciphertext is never taken: it answers another request.
pub fn echoed_item<'a>(
    items: &'a [Value],
    (id_key, id): (&str, &str),
    (cipher_key, cipher): (&str, &str),
) -> Option<&'a Value> {
    let same_id = |i: &&Value| text(i.get(id_key)).is_some_and(|t| t.trim() == id.trim());
    let echoed = |i: &Value| text(i.get(cipher_key));
    items
        .iter()
        .filter(same_id)
        .find(|i| echoed(i).as_deref() == Some(cipher))
        .or_else(|| items.iter().filter(same_id).find(|i| echoed(i).is_none()))
}

/// The list at `key`: absent or `null` is empty; anything else than a list is an order we cannot
/// read (its items and refunds would silently vanish), the error naming `key`.
pub fn list_at<'a>(raw: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items.as_slice()),
        Some(_) => Err(format!("字段 {key} 不是列表")),
    }
}

/// A yes/no flag as the platforms send one: a JSON bool, `"true"`/`"false"` (any case, spaces
/// ignored), or 1/0 as a number or digits. `None` when absent, `null`, or anything else: the
/// caller decides what an unreadable flag means, never read as false by default.
pub fn flag(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A count (a total): a non-negative integer as a JSON number or digits in a string (spaces
/// ignored). `Ok(None)` when absent or `null`; anything else is not a count, the error naming
/// `key`.
pub fn count_at(raw: &Value, key: &str) -> Result<Option<u64>, String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ (Value::Number(_) | Value::String(_))) => int(Some(v))
            .and_then(|n| u64::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("字段 {key} 的值 `{}` 不是计数", shown(v))),
        Some(v) => Err(format!("字段 {key} 的值 `{}` 不是计数", shown(v))),
    }
}

/// The body of an API answer wrapped as `{"<name>_response": {…}}`. The first of `keys` (the
/// documented key and the ones its naming rule gives) present as sent, else present in another
/// letter case; else, when no documented key is there at all, the one top-level key ending in
/// `_response` or `_responce` (JD's spelling; any case) that is not `error_response`. `None`
/// when there is none, or more than one such key (no telling which is the answer).
pub fn response_body<'a>(json: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    let object = json.as_object()?;
    if let Some(body) = keys.iter().find_map(|k| object.get(*k)) {
        return Some(body);
    }
    if let Some(body) = keys.iter().find_map(|k| {
        object
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, body)| body)
    }) {
        return Some(body);
    }
    let mut wrappers = object.iter().filter(|(name, _)| {
        let lower = name.to_ascii_lowercase();
        (lower.ends_with("_response") || lower.ends_with("_responce")) && lower != "error_response"
    });
    match (wrappers.next(), wrappers.next()) {
        (Some((_, body)), None) => Some(body),
        _ => None,
    }
}

/// The orders of one listing page, `list` being what the answer sent under `name` (`None`:
/// absent). Platforms leave an empty list out, so absent, `null` or `[]` is an empty page, unless
/// the answer says more pages follow (`followed`, by its `has_next` or its total): then the page
/// cannot be trusted, read as empty it would end the walk with the rest of the window unread. A
/// list of another shape is never read.
///
/// The window's last page may be empty though its total counts orders on it: the walk compares
/// the orders it read with the total, reads the window again and, still short, moves on with a
/// warning on the task. Refused, a total that counts an order the platform never lists (a
/// deleted or filtered order) would fail that window on every retry and hold the shop's syncs.
pub fn page_list<'a>(
    list: Option<&'a Value>,
    name: &str,
    followed: bool,
) -> Result<&'a [Value], String> {
    let items: &[Value] = match list {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        // What was sent is not echoed: it may be an order, with the buyer's data.
        Some(other) => {
            let kind = match other {
                Value::Object(_) => "对象",
                Value::String(_) => "字符串",
                Value::Number(_) => "数字",
                _ => "布尔值",
            };
            return Err(format!("字段 {name} 不是列表（而是{kind}）"));
        }
    };
    if items.is_empty() && followed {
        let what = if list.is_some_and(Value::is_array) {
            format!("{name} 为空")
        } else {
            format!("缺少 {name}")
        };
        return Err(format!("{what}，但响应表明后面还有订单"));
    }
    Ok(items)
}

/// An amount in yuan at `key`, sent as a decimal string or a number; every error names `key`.
/// No amount an order carries (what was paid, a price, a refund) is negative: one that is is
/// an order we cannot read, kept as such.
pub fn yuan(raw: &Value, key: &str) -> Result<Money, String> {
    let amount = signed_yuan(raw, key)?;
    if amount.fen() < 0 {
        return Err(format!("字段 {key} 的金额为负数"));
    }
    Ok(amount)
}

/// An order line's quantity at `key` (`list` names the line's list in the error): a positive
/// integer, as a JSON number or digits in a string. Every platform sends it; a line without it,
/// or with a fraction, zero or a negative, is an order we cannot read (its reason in Chinese,
/// naming the field), never one item by default.
pub fn item_quantity(line: &Value, list: &str, key: &str) -> Result<i64, String> {
    int(line.get(key))
        .filter(|n| *n > 0)
        .ok_or_else(|| unreadable("商品数量缺失或不是正整数", line, list, key))
}

/// An order line's unit price in yuan at `key` (decimal string or number, not negative): a line
/// without a readable price is an order we cannot read, never one at no price.
pub fn item_price(line: &Value, list: &str, key: &str) -> Result<Money, String> {
    yuan(line, key).map_err(|_| unreadable("商品单价缺失或无法读取", line, list, key))
}

/// An order line's unit price in fen at `key` (an integer, not negative), as
/// [`item_price`].
pub fn item_price_fen(line: &Value, list: &str, key: &str) -> Result<Money, String> {
    int(line.get(key))
        .filter(|fen| *fen >= 0)
        .map(Money::from_fen)
        .ok_or_else(|| unreadable("商品单价缺失或无法读取", line, list, key))
}

/// `{what}：{list}.{key}`, and the value as sent when there was one.
fn unreadable(what: &str, line: &Value, list: &str, key: &str) -> String {
    match line.get(key) {
        None | Some(Value::Null) => format!("{what}：{list}.{key}"),
        Some(value) => format!("{what}：{list}.{key}（收到 {}）", shown(value)),
    }
}

/// The longest part of a value an error quotes: more than a time, a price or a count needs.
const SHOWN_CHARS: usize = 32;

/// A value as an error quotes it: a number, a flag or the start of a text as sent, a list or an
/// object only by its kind. An error's text is kept with the order, logged and shown to the
/// merchant, so it never carries what a field holding the wrong thing might hold (a whole
/// order, a buyer's address).
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => shown_str(s),
        Value::Array(items) => format!("列表（{} 项）", items.len()),
        Value::Object(_) => "对象".to_owned(),
        other => shown_str(&other.to_string()),
    }
}

/// The start of a text as sent, marked `…` when cut, every phone number in it masked first
/// ([`leadgen_domain::contact::mask_phones_in`]: a number the cut would split is masked whole).
pub fn shown_str(text: &str) -> String {
    masked_start(text, SHOWN_CHARS)
}

/// The first `max_chars` characters of `text`, marked `…` when cut, every phone number in it
/// masked first.
pub fn masked_start(text: &str, max_chars: usize) -> String {
    let masked = leadgen_domain::contact::mask_phones_in(text);
    let mut chars = masked.chars();
    let start: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{start}…")
    } else {
        start
    }
}

fn signed_yuan(raw: &Value, key: &str) -> Result<Money, String> {
    // The reason in Chinese, naming the value: `InvalidAmount`'s own text is English.
    let invalid =
        |e: InvalidAmount| format!("字段 {key} 的值 `{}` 不是有效的金额", shown_str(&e.0));
    match raw.get(key) {
        Some(Value::String(s)) => Money::parse_yuan(s).map_err(invalid),
        Some(Value::Number(n)) => n
            .as_f64()
            .ok_or_else(|| format!("字段 {key} 不是数字"))
            .and_then(|f| Money::from_yuan_f64(f).map_err(invalid)),
        _ => Err(format!("缺少字段 {key}")),
    }
}

#[cfg(test)]
mod tests {
    /// A time that is there but does not read is an error, not "no time": read as none, an
    /// unreadable payment time would make a paid order unpaid.
    #[test]
    fn an_order_time_reads_or_is_refused_never_dropped() {
        let raw = serde_json::json!({
            "str": "2024-05-20 09:58:40", "blank": " ", "null": null, "num": 1_716_170_320,
            "zero": 0, "text_num": "1716170320", "float": 1_716_170_320.5, "obj": {}, "ms": 1_716_170_320_000_i64,
        });
        let at = |s| chrono::DateTime::from_timestamp(s, 0);
        for key in ["blank", "null", "absent"] {
            assert_eq!(super::beijing_time(&raw, key, true), Ok(None), "{key}");
            assert_eq!(super::epoch_time(&raw, key, false), Ok(None), "{key}");
        }
        assert_eq!(
            super::beijing_time(&raw, "str", false),
            Ok(at(1_716_170_320))
        );
        assert_eq!(
            super::beijing_time(&raw, "num", true),
            Ok(at(1_716_170_320))
        );
        for key in ["num", "obj", "float"] {
            assert!(super::beijing_time(&raw, key, false).is_err(), "{key}");
        }
        assert_eq!(super::epoch_time(&raw, "num", false), Ok(at(1_716_170_320)));
        assert_eq!(
            super::epoch_time(&raw, "text_num", false),
            Ok(at(1_716_170_320))
        );
        assert_eq!(super::epoch_time(&raw, "ms", true), Ok(at(1_716_170_320)));
        assert_eq!(super::epoch_time(&raw, "zero", true), Ok(None));
        for key in ["str", "float", "obj"] {
            assert!(super::epoch_time(&raw, key, false).is_err(), "{key}");
        }
    }

    #[test]
    fn an_answer_with_a_lone_surrogate_or_bad_bytes_is_mended_and_nothing_else() {
        let cut = br#"{"title":"\u676f\ud83d","ok":"\ud83d\ude00","path":"a\\ud83d"}"#;
        let mended = super::mended_text(cut).expect("mended");
        let json: serde_json::Value = serde_json::from_str(&mended).unwrap();
        assert_eq!(json["title"], "杯\u{fffd}");
        assert_eq!(json["ok"], "😀");
        assert_eq!(
            json["path"], "a\\ud83d",
            "an escaped backslash is no escape"
        );
        let bytes = b"{\"title\":\"a\xffb\"}";
        let json: serde_json::Value =
            serde_json::from_str(&super::mended_text(bytes).expect("mended")).unwrap();
        assert_eq!(json["title"], "a\u{fffd}b");
        assert_eq!(super::mended_text(br#"{"a":"\ud83d\ude00"}"#), None);
    }

    #[test]
    fn a_lifetime_is_seconds_and_an_end_time_is_read_as_one() {
        let now = chrono::DateTime::from_timestamp(1_796_000_000, 0).unwrap();
        let at = |v: serde_json::Value| super::expiry(Some(&v), now).map(|t| t.timestamp());
        assert_eq!(at(serde_json::json!(7200)), Some(1_796_007_200));
        assert_eq!(at(serde_json::json!("7200")), Some(1_796_007_200));
        assert_eq!(at(serde_json::json!(1_796_604_800)), Some(1_796_604_800));
        assert_eq!(
            at(serde_json::json!(1_796_604_800_000_i64)),
            Some(1_796_604_800)
        );
        assert_eq!(super::expiry(None, now), None);
    }

    #[test]
    fn an_instant_is_epoch_seconds_or_millis_beijing_time_or_rfc_3339() {
        let at = |v: serde_json::Value| super::instant(Some(&v)).map(|t| t.timestamp());
        let noon = Some(1_780_286_400);
        assert_eq!(at(serde_json::json!(1_780_286_400)), noon);
        assert_eq!(at(serde_json::json!("1780286400000")), noon);
        assert_eq!(at(serde_json::json!(" 2026-06-01 12:00:00 ")), noon);
        assert_eq!(at(serde_json::json!("2026-06-01T04:00:00Z")), noon);
        for none in [
            serde_json::json!(0),
            serde_json::json!(-5),
            serde_json::json!(""),
            serde_json::json!("2026/06/01"),
            serde_json::json!(true),
            // A duration, and a compact date: no epoch.
            serde_json::json!("15"),
            serde_json::json!(86_400),
            serde_json::json!("20260601120000"),
        ] {
            assert_eq!(at(none.clone()), None, "{none}");
        }
        assert_eq!(super::instant(None), None);
    }

    /// A lifetime wins over a stale absolute end; a lifetime that is itself an epoch is read as
    /// the end; without a usable lifetime the absolute end counts.
    #[test]
    fn a_token_end_is_read_from_its_lifetime_first() {
        use chrono::TimeZone as _;
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap();
        let stale = Utc.with_ymd_and_hms(2018, 3, 31, 0, 0, 0).single();
        let later = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let end = |lifetime, absolute| super::relative_first(lifetime, absolute, now);
        assert_eq!(
            end(Some(3_600), stale),
            Some(now + chrono::Duration::hours(1))
        );
        assert_eq!(end(Some(later.timestamp()), None), Some(later));
        assert_eq!(end(Some(later.timestamp_millis()), stale), Some(later));
        assert_eq!(end(Some(0), Some(later)), Some(later));
        assert_eq!(end(None, Some(later)), Some(later));
        assert_eq!(end(Some(0), None), Some(now));
        // An epoch lifetime already past gives way to a later absolute end.
        assert_eq!(end(stale.map(|t| t.timestamp()), Some(later)), Some(later));
    }

    #[test]
    fn a_number_too_large_to_be_exact_is_no_id() {
        let ids: serde_json::Value =
            serde_json::from_str(r#"[100000000000000000001, 18446744073709551615, 12.5]"#).unwrap();
        assert_eq!(super::text(ids.get(0)), None);
        assert_eq!(
            super::text(ids.get(1)).as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(super::text(ids.get(2)).as_deref(), Some("12.5"));
    }

    use serde_json::json;

    use super::*;

    #[test]
    fn a_batch_item_answers_the_request_it_echoes() {
        let items = [
            json!({"id": "1", "c": "other", "n": 1}),
            json!({"id": 2, "n": 2}),
            json!({"id": "2", "c": "x", "n": 3}),
            json!({"id": "3", "c": "y", "n": 4}),
        ];
        let n = |id, cipher| {
            echoed_item(&items, ("id", id), ("c", cipher)).and_then(|i| int(i.get("n")))
        };
        assert_eq!(n("2", "x"), Some(3), "both echoed first");
        assert_eq!(
            n("2", "z"),
            Some(2),
            "the id alone when no ciphertext is echoed"
        );
        assert_eq!(n("1", "x"), None, "never another ciphertext's answer");
        assert_eq!(n(" 3 ", "y"), Some(4));
        assert_eq!(n("4", "y"), None);
    }

    #[test]
    fn a_list_is_a_list_or_absent() {
        let raw = json!({"a": [1, 2], "n": null, "o": {"x": 1}, "s": "1,2"});
        assert_eq!(list_at(&raw, "a").map(<[Value]>::len), Ok(2));
        assert_eq!(list_at(&raw, "n").map(<[Value]>::len), Ok(0));
        assert_eq!(list_at(&raw, "missing").map(<[Value]>::len), Ok(0));
        assert_eq!(list_at(&raw, "o"), Err("字段 o 不是列表".to_owned()));
        assert_eq!(list_at(&raw, "s"), Err("字段 s 不是列表".to_owned()));
    }

    #[test]
    fn numbers_and_texts_read_alike_on_every_platform() {
        let v = json!({"n": 7, "s": " 7 ", "e": "", "f": 1.5, "o": {}});
        assert_eq!(int(v.get("n")), Some(7));
        assert_eq!(int(v.get("s")), Some(7));
        assert_eq!(int(v.get("f")), None);
        assert_eq!(int(v.get("missing")), None);
        assert_eq!(text(v.get("n")).as_deref(), Some("7"));
        assert_eq!(text(v.get("e")), None);
        assert_eq!(text(v.get("o")), None);
        assert_eq!(str_at(&v, "s"), " 7 ");
        assert_eq!(str_at(&v, "n"), "");
    }

    /// A reason is kept with the order, logged and shown to the merchant: a field holding
    /// something else than it should (here a buyer's address) is named by its kind, and a text
    /// only by its start.
    #[test]
    fn a_reason_never_quotes_more_than_the_start_of_what_came() {
        let address = "浙江省杭州市西湖区文三路100号 张三 13800138000 某小区8幢2单元1101室";
        let v = json!({
            "o": {"receiver": address},
            "l": [address, address],
            "s": address,
            "items": [{"price": {"receiver": address}}],
        });
        let reasons = [
            beijing_time(&v, "o", false).expect_err("an object"),
            beijing_time(&v, "s", false).expect_err("a text"),
            epoch_time(&v, "l", true).expect_err("a list"),
            count_at(&v, "o").expect_err("an object"),
            count_at(&v, "s").expect_err("a text"),
            item_price(&v["items"][0], "items", "price").expect_err("an object"),
        ];
        for reason in &reasons {
            assert!(!reason.contains("13800138000"), "{reason}");
            assert!(!reason.contains("1101室"), "{reason}");
        }
        assert_eq!(reasons[0], "字段 o 的值 `对象` 不是时间");
        assert_eq!(reasons[2], "字段 l 的值 `列表（2 项）` 不是毫秒时间戳");
        assert_eq!(
            reasons[1],
            "字段 s 的值 `浙江省杭州市西湖区文三路100号 张三 138****8000 …` 不符合 yyyy-MM-dd HH:mm:ss 格式"
        );
        assert_eq!(shown_str("13800138000"), "138****8000");
        assert_eq!(shown_str("+86 138 0013 8000"), "+86 138****8000");
        // A number the cut would split is masked whole before the cut.
        let long = format!("{}13800138000", "x".repeat(26));
        assert_eq!(shown_str(&long), format!("{}138***…", "x".repeat(26)));
        assert_eq!(shown_str("1700000000000"), "1700000000000");
        assert_eq!(shown_str("2026-13-01 25:00:00"), "2026-13-01 25:00:00");
    }

    #[test]
    fn an_item_quantity_is_a_positive_integer_and_never_defaulted() {
        let v = json!({"n": 2, "s": " 3 ", "zero": 0, "neg": -1, "f": 1.5, "fs": "1.5",
            "b": true, "e": "", "null": null});
        assert_eq!(item_quantity(&v, "items", "n"), Ok(2));
        assert_eq!(item_quantity(&v, "items", "s"), Ok(3));
        for key in ["zero", "neg", "f", "fs", "b", "e", "null", "missing"] {
            let e = item_quantity(&v, "items", key).expect_err(key);
            assert!(
                e.starts_with("商品数量缺失或不是正整数：items.") && e.contains(key),
                "{e}"
            );
        }
        assert_eq!(
            item_quantity(&v, "items", "zero"),
            Err("商品数量缺失或不是正整数：items.zero（收到 0）".to_owned())
        );
        assert_eq!(
            item_quantity(&v, "items", "missing"),
            Err("商品数量缺失或不是正整数：items.missing".to_owned())
        );
    }

    #[test]
    fn an_item_price_is_read_or_the_order_is_unreadable() {
        let v = json!({"y": "219.00", "n": 29.25, "free": "0.00", "fen": 21900, "fs": "990",
            "neg": "-1.00", "negfen": -5, "x": "abc", "frac": 1.5, "null": null});
        assert_eq!(item_price(&v, "l", "y"), Ok(Money(21_900)));
        assert_eq!(item_price(&v, "l", "n"), Ok(Money(2_925)));
        assert_eq!(item_price(&v, "l", "free"), Ok(Money(0)));
        for key in ["neg", "x", "null", "missing"] {
            let e = item_price(&v, "l", key).expect_err(key);
            assert!(
                e.starts_with("商品单价缺失或无法读取：l.") && e.contains(key),
                "{e}"
            );
        }
        assert_eq!(item_price_fen(&v, "l", "fen"), Ok(Money(21_900)));
        assert_eq!(item_price_fen(&v, "l", "fs"), Ok(Money(990)));
        for key in ["negfen", "x", "frac", "null", "missing"] {
            let e = item_price_fen(&v, "l", key).expect_err(key);
            assert!(
                e.starts_with("商品单价缺失或无法读取：l.") && e.contains(key),
                "{e}"
            );
        }
    }

    #[test]
    fn amounts_in_yuan_name_their_field_in_every_error() {
        let v = json!({"a": "19.90", "b": 19.9, "c": "x", "d": -1e300, "e": "-5.00", "f": -0.01});
        assert_eq!(yuan(&v, "a"), yuan(&v, "b"));
        for key in ["c", "d", "e", "f", "missing"] {
            let e = yuan(&v, key).expect_err(key);
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn flags_are_bools_true_false_texts_or_one_zero() {
        let v = json!({"t": true, "f": false, "ts": " TRUE ", "fs": "false", "one": 1,
            "zero": 0, "s1": "1", "s0": "0", "two": 2, "yes": "yes", "null": null, "o": {}});
        for (key, expected) in [
            ("t", Some(true)),
            ("f", Some(false)),
            ("ts", Some(true)),
            ("fs", Some(false)),
            ("one", Some(true)),
            ("zero", Some(false)),
            ("s1", Some(true)),
            ("s0", Some(false)),
            ("two", None),
            ("yes", None),
            ("null", None),
            ("o", None),
            ("missing", None),
        ] {
            assert_eq!(flag(v.get(key)), expected, "{key}");
        }
    }

    #[test]
    fn a_count_is_a_non_negative_integer() {
        let v =
            json!({"n": 3, "s": " 250 ", "neg": -1, "f": 2.5, "w": "many", "a": [], "null": null});
        assert_eq!(count_at(&v, "n"), Ok(Some(3)));
        assert_eq!(count_at(&v, "s"), Ok(Some(250)));
        assert_eq!(count_at(&v, "null"), Ok(None));
        assert_eq!(count_at(&v, "missing"), Ok(None));
        for key in ["neg", "f", "w", "a"] {
            let e = count_at(&v, key).expect_err(key);
            assert!(
                e.starts_with(&format!("字段 {key} 的值 `")) && e.ends_with("` 不是计数"),
                "{e}"
            );
        }
    }

    #[test]
    fn an_answer_is_found_under_its_key_in_any_case_or_its_one_wrapper() {
        let body = json!({"x": 1});
        let exact = json!({"a_response": body, "b_response": {}});
        assert_eq!(response_body(&exact, &["a_response"]), Some(&body));
        // The documented keys in order, then another letter case.
        let second = json!({"b_responce": body});
        assert_eq!(
            response_body(&second, &["a_responce", "b_responce"]),
            Some(&body)
        );
        let cased = json!({"JINGDONG_POP_Order_enSearch_responce": body, "other": 1});
        assert_eq!(
            response_body(&cased, &["jingdong_pop_order_enSearch_responce"]),
            Some(&body)
        );
        // None of them: the one `…_response` / `…_responce` key (any case) that is not an error.
        for key in ["c_response", "C_RESPONCE", "c_Response"] {
            let other = json!({ key: body, "error_response": {}, "request_id": "r" });
            assert_eq!(response_body(&other, &["a_response"]), Some(&body), "{key}");
        }
        for ambiguous in [
            json!({"c_response": {}, "d_responce": {}}),
            json!({"error_response": {}}),
            json!({"ERROR_RESPONSE": {}}),
            json!({"data": {}}),
            json!([]),
        ] {
            assert_eq!(
                response_body(&ambiguous, &["a_response"]),
                None,
                "{ambiguous}"
            );
        }
    }

    #[test]
    fn a_page_list_is_trusted_only_as_far_as_the_answer_allows() {
        let items = json!([1, 2]);
        assert_eq!(
            page_list(Some(&items), "l", true).map(<[Value]>::len),
            Ok(2)
        );
        let empty = json!([]);
        for list in [None, Some(&Value::Null), Some(&empty)] {
            assert_eq!(page_list(list, "l", false).map(<[Value]>::len), Ok(0));
            let expected = if list.is_some_and(Value::is_array) {
                "l 为空，但响应表明后面还有订单"
            } else {
                "缺少 l，但响应表明后面还有订单"
            };
            assert_eq!(page_list(list, "l", true), Err(expected.to_owned()));
        }
        for odd in [json!({"a": []}), json!("1,2"), json!(3)] {
            for followed in [false, true] {
                let e = page_list(Some(&odd), "l", followed).unwrap_err();
                assert!(e.starts_with("字段 l 不是列表（而是"), "{e}");
            }
        }
    }
}
