//! Money as integer fen (分). Platforms send yuan strings (`"199.00"`), yuan floats (PDD) or fen
//! integers (Douyin); responses show yuan strings.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An amount in fen. Negative amounts are allowed (refund adjustments).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(transparent)]
pub struct Money(pub i64);

/// A yuan string that is not a decimal amount with at most two fraction digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a yuan amount")]
pub struct InvalidAmount(pub String);

impl Money {
    /// From integer fen.
    pub fn from_fen(fen: i64) -> Self {
        Money(fen)
    }

    /// Parses a yuan decimal string such as `"199.00"`, `"12.5"` or `"-3"` exactly (no floats).
    pub fn parse_yuan(text: &str) -> Result<Self, InvalidAmount> {
        let bad = || InvalidAmount(text.to_owned());
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if frac.len() > 2 {
            return Err(bad());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut frac_fen: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        if frac.len() == 1 {
            frac_fen *= 10;
        }
        let fen = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac_fen))
            .ok_or_else(bad)?;
        Ok(Money(if negative { -fen } else { fen }))
    }

    /// From a yuan float as PDD sends it (`199.0`), rounded to the nearest fen.
    pub fn from_yuan_f64(yuan: f64) -> Result<Self, InvalidAmount> {
        if !yuan.is_finite() || yuan.abs() > 9.0e13 {
            return Err(InvalidAmount(yuan.to_string()));
        }
        #[expect(clippy::cast_possible_truncation, reason = "range checked above")]
        let fen = (yuan * 100.0).round() as i64;
        Ok(Money(fen))
    }

    /// Integer fen.
    pub fn fen(self) -> i64 {
        self.0
    }

    /// The yuan string used in responses: `"128.50"`.
    pub fn to_yuan_string(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yuan_strings_exactly() {
        assert_eq!(Money::parse_yuan("199.00"), Ok(Money(19900)));
        assert_eq!(Money::parse_yuan("12.5"), Ok(Money(1250)));
        assert_eq!(Money::parse_yuan("0.07"), Ok(Money(7)));
        assert_eq!(Money::parse_yuan("-3"), Ok(Money(-300)));
        assert_eq!(Money::parse_yuan(" 8 "), Ok(Money(800)));
        for bad in ["", ".", "1.234", "1,00", "abc", "1.-2", "--1"] {
            assert!(Money::parse_yuan(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn formats_as_two_decimal_yuan() {
        assert_eq!(Money(12850).to_string(), "128.50");
        assert_eq!(Money(7).to_string(), "0.07");
        assert_eq!(Money(-1250).to_string(), "-12.50");
        assert_eq!(Money::from_yuan_f64(219.0), Ok(Money(21900)));
        assert_eq!(Money::from_yuan_f64(0.1 + 0.2), Ok(Money(30)));
        assert!(Money::from_yuan_f64(f64::NAN).is_err());
    }
}
