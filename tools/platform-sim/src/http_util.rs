//! Small HTTP helpers shared by the platforms: parameter parsing, HTML escaping, time parsing.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, ContentType};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use rand::Rng;

use leadgen_domain::time::parse_beijing;
use leadgen_platforms::sign::Params;

/// The parameters of a gateway-style request: the query string, then a form body
/// (`application/x-www-form-urlencoded`, or no content type). A name given twice keeps its first
/// value (query before body).
pub fn request_params(req: &HttpRequest, body: &[u8]) -> Params {
    let mut params = Params::new();
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        params
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_form =
        content_type.is_empty() || content_type.starts_with("application/x-www-form-urlencoded");
    if is_form && !body.is_empty() {
        for (k, v) in url::form_urlencoded::parse(body) {
            params
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
    }
    params
}

/// `params[key]` unless it is absent or empty.
pub fn non_empty<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// An HTML page with `status`.
pub fn html_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(ContentType::html())
        .body(body)
}

/// What a gateway's load balancer answers when the backend is down (error bursts).
pub fn gateway_error_page(status: StatusCode) -> HttpResponse {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Error");
    html_response(
        status,
        format!(
            "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n\
             <center><h1>{code} {reason}</h1></center>\r\n<hr><center>Tengine</center>\r\n\
             </body>\r\n</html>\r\n"
        ),
    )
}

/// A request id like TOP's (`16mrkhm1ps6ki`): 13 lower-case base-36 characters.
pub fn request_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    (0..13)
        .map(|_| {
            char::from(
                ALPHABET
                    .get(rng.gen_range(0..ALPHABET.len()))
                    .copied()
                    .unwrap_or(b'0'),
            )
        })
        .collect()
}

/// An admin-endpoint time: RFC 3339 / ISO 8601 (`2026-11-25T00:00:00Z`) or Beijing
/// `yyyy-MM-dd HH:mm:ss`.
pub fn parse_admin_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| parse_beijing(text))
}

/// Cuts a JSON body roughly in half (on a character boundary): what a dropped connection or a
/// broken proxy delivers.
pub fn truncate_body(body: &str) -> String {
    let mut cut = body.len() / 2;
    while cut > 0 && !body.is_char_boundary(cut) {
        cut -= 1;
    }
    body.get(..cut).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_times_accept_iso_and_beijing() {
        let a = parse_admin_time("2026-11-25T00:00:00Z").unwrap();
        let b = parse_admin_time("2026-11-25 08:00:00").unwrap();
        assert_eq!(a, b);
        assert!(parse_admin_time("yesterday").is_none());
    }

    #[test]
    fn truncation_keeps_utf8_valid() {
        let body = r#"{"a":"淘宝淘宝淘宝"}"#;
        let cut = truncate_body(body);
        assert!(cut.len() < body.len());
        assert!(serde_json::from_str::<serde_json::Value>(&cut).is_err());
        assert_eq!(
            html_escape("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }
}
