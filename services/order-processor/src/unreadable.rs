//! Stored values that no longer read (a sealed value that does not open, JSON that does not
//! parse, a field out of its range), described so they can be logged, counted and kept in
//! `parse_error`: never with the value itself.

use leadgen_crypto::CryptoError;

pub use leadgen_domain::stored_json::JsonFault;

/// Why a stored value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// The sealed value does not open (sealed under a key no longer configured, or damaged).
    #[error("sealed value does not open: {0}")]
    Sealed(#[from] CryptoError),
    /// It opened (or is stored in clear) but is not the JSON it should be.
    #[error(transparent)]
    Json(#[from] JsonFault),
    /// A stored field out of its range; names the field.
    #[error("stored {0} is out of range")]
    Field(&'static str),
}

impl From<serde_json::Error> for Unreadable {
    fn from(e: serde_json::Error) -> Self {
        Unreadable::Json(JsonFault::from(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "only its parsing is tested")]
    struct Contact {
        value: u64,
    }

    #[test]
    fn a_json_error_keeps_its_category_and_position_never_the_value() {
        let data = serde_json::from_str::<Contact>("{\n  \"value\": \"13800001111\"\n}")
            .expect_err("a string is no number");
        assert!(
            data.to_string().contains("13800001111"),
            "serde_json quotes the value: {data}"
        );
        let fault = JsonFault::from(&data);
        assert_eq!(fault.to_string(), "JSON data error at line 2 column 24");
        let shown = Unreadable::from(data).to_string();
        assert!(!shown.contains("138"), "{shown}");

        let syntax = serde_json::from_str::<Contact>("{\"value\": 13800001111x}").unwrap_err();
        assert_eq!(
            JsonFault::from(syntax).to_string(),
            "JSON syntax error at line 1 column 22"
        );
        let eof = serde_json::from_str::<Contact>("{\"value\": 1380").unwrap_err();
        assert!(
            JsonFault::from(eof)
                .to_string()
                .starts_with("JSON unexpected end error")
        );
        let in_memory =
            serde_json::from_value::<Contact>(serde_json::json!({"value": "王女士"})).unwrap_err();
        assert!(in_memory.to_string().contains("王女士"), "{in_memory}");
        assert_eq!(JsonFault::from(in_memory).to_string(), "JSON data error");
    }
}
