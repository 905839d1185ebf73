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
    fn amounts_in_yuan_name_their_field_in_every_error() {
        let v = json!({"a": "19.90", "b": 19.9, "c": "x", "d": -1e300, "e": "-5.00", "f": -0.01});
        assert_eq!(yuan(&v, "a"), yuan(&v, "b"));
        for key in ["c", "d", "e", "f", "missing"] {
            let e = yuan(&v, key).expect_err(key);
            assert!(e.contains(key), "{e}");
        }
    }
}
