//! Custom field validations used by the request types.

use std::borrow::Cow;

use leadgen_domain::PlatformType;
use validator::ValidationError;

/// `platformType` must name a platform.
pub fn platform_type(value: &str) -> Result<(), ValidationError> {
    value.parse::<PlatformType>().map(|_| ()).map_err(|_| {
        let mut e = ValidationError::new("platform_type");
        let names: Vec<&str> = PlatformType::ALL.iter().map(|p| p.as_str()).collect();
        let message = match names.split_last() {
            Some((last, [])) => format!("platformType 必须是 {last}"),
            Some((last, rest)) => format!("platformType 必须是 {} 或 {last}", rest.join("、")),
            None => "platformType 取值无效".to_owned(),
        };
        e.message = Some(Cow::Owned(message));
        e
    })
}

/// An absolute `http` or `https` URL with a host (no `javascript:`, `ftp:`, …).
pub fn http_url(value: &str) -> Result<(), ValidationError> {
    match url::Url::parse(value.trim()) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(())
        }
        _ => Err(ValidationError::new("http_url")),
    }
}

/// Not empty once surrounding white space is removed.
pub fn not_blank(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        Err(ValidationError::new("blank"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_pass() {
        assert!(http_url("https://shop.example.com/auth/done?x=1").is_ok());
        assert!(http_url("http://127.0.0.1:8080/cb").is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://example.com/x",
            "mailto:a@b.c",
            "notaurl",
            "http://",
        ] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
        assert!(not_blank("  ").is_err());
        assert!(not_blank(" k ").is_ok());
    }
}
