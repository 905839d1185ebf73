//! Stored JSON read back without quoting it: serde_json's errors quote the value they stumbled
//! on, and in a decrypted order or contact that value is personal data.

use std::fmt;

use serde_json::error::Category;

/// A JSON error without its message: serde_json's message quotes the value it stumbled on
/// (`invalid type: string "138…"`), which in a decrypted order or contact is personal data.
/// Only the error's category and position are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonFault {
    category: Category,
    line: usize,
    column: usize,
}

impl From<&serde_json::Error> for JsonFault {
    fn from(e: &serde_json::Error) -> Self {
        JsonFault {
            category: e.classify(),
            line: e.line(),
            column: e.column(),
        }
    }
}

impl From<serde_json::Error> for JsonFault {
    fn from(e: serde_json::Error) -> Self {
        JsonFault::from(&e)
    }
}

impl fmt::Display for JsonFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.category {
            Category::Io => "I/O",
            Category::Syntax => "syntax",
            Category::Data => "data",
            Category::Eof => "unexpected end",
        };
        // A value built in memory (`from_value`) has no position: line 0.
        if self.line == 0 {
            write!(f, "JSON {kind} error")
        } else {
            write!(
                f,
                "JSON {kind} error at line {} column {}",
                self.line, self.column
            )
        }
    }
}

impl std::error::Error for JsonFault {}

/// Parses a stored JSON value (a decrypted order or contact), failing with its [`JsonFault`]
/// only, never with the value.
pub fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, JsonFault> {
    serde_json::from_str(json).map_err(JsonFault::from)
}

/// [`parse`] for a stored value already read as JSON (a `jsonb` column).
pub fn from_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, JsonFault> {
    serde_json::from_value(value).map_err(JsonFault::from)
}
