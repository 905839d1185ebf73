//! Reading the platforms' JSON: the field helpers every adapter shares, so that a number sent
//! as text, an empty string or a missing field means the same on every platform, and every
//! error names its field.

use leadgen_domain::Money;
use serde_json::Value;

/// An integer sent as a JSON number or as digits in a string (surrounding spaces ignored).
pub fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-empty string, or a number as text (ids are sent either way); `None` otherwise.
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The string at `key`, or "" when it is missing or not a string.
pub fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The list at `key`: absent or `null` is empty; anything else than a list is an order we cannot
/// read (its items and refunds would silently vanish), the error naming `key`.
pub fn list_at<'a>(raw: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items.as_slice()),
        Some(_) => Err(format!("{key} is not a list")),
    }
}

/// An amount in yuan at `key`, sent as a decimal string or a number; every error names `key`.
/// No amount an order carries (what was paid, a price, a refund) is negative: one that is is
/// an order we cannot read, kept as such.
pub fn yuan(raw: &Value, key: &str) -> Result<Money, String> {
    let amount = signed_yuan(raw, key)?;
    if amount.fen() < 0 {
        return Err(format!("{key}: negative amount"));
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
        Some(value) => {
            // As sent, but never more than a price or a count would need.
            let sent: String = value.to_string().chars().take(32).collect();
            format!("{what}：{list}.{key}（收到 {sent}）")
        }
    }
}

fn signed_yuan(raw: &Value, key: &str) -> Result<Money, String> {
    match raw.get(key) {
        Some(Value::String(s)) => Money::parse_yuan(s).map_err(|e| format!("{key}: {e}")),
        Some(Value::Number(n)) => n
            .as_f64()
            .ok_or_else(|| format!("{key}: not a number"))
            .and_then(|f| Money::from_yuan_f64(f).map_err(|e| format!("{key}: {e}"))),
        _ => Err(format!("{key} is missing")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_list_is_a_list_or_absent() {
        let raw = json!({"a": [1, 2], "n": null, "o": {"x": 1}, "s": "1,2"});
        assert_eq!(list_at(&raw, "a").map(<[Value]>::len), Ok(2));
        assert_eq!(list_at(&raw, "n").map(<[Value]>::len), Ok(0));
        assert_eq!(list_at(&raw, "missing").map(<[Value]>::len), Ok(0));
        assert_eq!(list_at(&raw, "o"), Err("o is not a list".to_owned()));
        assert_eq!(list_at(&raw, "s"), Err("s is not a list".to_owned()));
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
}
