//! Refuses a NUL character anywhere in a request's query string or JSON body with a 400 in the
//! envelope. PostgreSQL text cannot hold NUL, so without this a `%00` in a filter or a `\u0000`
//! in a body would reach the database and answer 500.
//!
//! The middleware only finds it and marks the request ([`Found`]); the refusal comes from the
//! first extractor that reads the caller's input once the caller is known and allowed
//! ([`refuse_marked`]: `Authorized`, and the query and body extractors), so that the answers
//! keep the convention's order: 401 without a valid token, 403 without the permission, 404 for
//! a path no route serves and 405 for a method it does not, then the 400.

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{Decompress, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use futures::StreamExt as _;

use crate::ApiError;

/// The message every NUL rejection carries.
pub const MESSAGE: &str = "请求参数或请求体不能包含空字符（NUL）";

/// Bodies larger than this are not scanned (the JSON extractor refuses them anyway).
const MAX_SCANNED: usize = 1024 * 1024;

/// Whether a query string holds a NUL, raw or percent-encoded.
pub fn query_has_nul(query: &str) -> bool {
    query.contains('\0')
        || query
            .as_bytes()
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

/// Whether a JSON text holds a NUL: a raw zero byte, or a `\u0000` escape that is not itself
/// escaped (an even number of backslashes before it).
pub fn json_has_nul(body: &[u8]) -> bool {
    if body.contains(&0) {
        return true;
    }
    let pattern = b"u0000";
    let mut i = 0;
    while i + pattern.len() < body.len() + 1 {
        let Some(rest) = body.get(i..) else { break };
        let Some(pos) = rest
            .windows(pattern.len())
            .position(|w| w.eq_ignore_ascii_case(pattern))
        else {
            break;
        };
        let at = i + pos;
        let slashes = body[..at].iter().rev().take_while(|b| **b == b'\\').count();
        if slashes % 2 == 1 {
            return true;
        }
        i = at + 1;
    }
    false
}

/// The mark of a request whose query or JSON body holds a NUL.
#[derive(Debug, Clone, Copy)]
pub struct Found;

/// The mark of a request whose JSON body could not be read (a broken compression, a
/// connection cut): refused like a NUL, once the caller is known and allowed.
#[derive(Debug, Clone, Copy)]
pub struct Unreadable;

/// What a body that could not be read is answered.
pub const UNREADABLE: &str = "请求体读取失败";

/// The 400 for a request the middleware marked ([`Found`], [`Unreadable`]); every extractor of
/// the caller's input asks before reading it.
pub fn refuse_marked(req: &actix_web::HttpRequest) -> Result<(), ApiError> {
    let marks = req.extensions();
    if marks.get::<Found>().is_some() {
        return Err(ApiError::bad_request(MESSAGE));
    }
    if marks.get::<Unreadable>().is_some() {
        return Err(ApiError::bad_request(UNREADABLE));
    }
    Ok(())
}

/// The middleware (`actix_web::middleware::from_fn(mark_nul)`): marks a request whose query or
/// JSON body holds a NUL ([`Found`]), or whose JSON body cannot be read ([`Unreadable`]).
pub async fn mark_nul(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if query_has_nul(req.query_string()) {
        req.extensions_mut().insert(Found);
        return next.call(req).await;
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if is_json {
        // A compressed body (`Content-Encoding: gzip` or `deflate`) is scanned as the extractors
        // will read it, decoded: its compressed bytes say nothing of the JSON (a gzip header
        // always holds a zero byte). The request then carries the decoded body, so nothing
        // decodes it twice.
        let mut payload = Decompress::from_headers(req.take_payload(), req.headers());
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            // A body that cannot be read (a broken compression, a connection cut): marked, and
            // refused in the envelope by the extractor once the caller is known (401 and 403
            // first, and the service's default headers on the answer), not actix's plain text.
            let Ok(chunk) = chunk else {
                req.extensions_mut().insert(Unreadable);
                break;
            };
            if body.len() + chunk.len() > MAX_SCANNED {
                body.extend_from_slice(&chunk);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        // A body in another charset (UTF-16 holds NUL bytes by its encoding) is refused for
        // its charset by the body's extractor, not for the NULs.
        if json_has_nul(&body) && crate::body::charset_refused(req.request()).is_none() {
            req.extensions_mut().insert(Found);
        }
        let bytes: Bytes = body.freeze();
        let headers = req.headers_mut();
        if headers.remove(header::CONTENT_ENCODING).next().is_some() {
            headers.insert(
                header::CONTENT_LENGTH,
                header::HeaderValue::from(bytes.len()),
            );
        }
        req.set_payload(actix_web::dev::Payload::from(bytes));
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nul_in_queries_and_json() {
        assert!(query_has_nul("contactInfo=%00"));
        assert!(query_has_nul("a=1&b=x%001"));
        assert!(!query_has_nul("contactInfo=138&page=10"));
        assert!(json_has_nul(br#"{"authInfo":{"appKey":"a\u0000b"}}"#));
        assert!(json_has_nul(br#"{"a":"\U0000"}"#));
        assert!(json_has_nul(b"{\"a\":\"x\0\"}"));
        assert!(
            !json_has_nul(br#"{"a":"\\u0000 is text"}"#),
            "an escaped backslash"
        );
        assert!(json_has_nul(br#"{"a":"\\\u0000"}"#), "backslash, then NUL");
        assert!(!json_has_nul(br#"{"a":"u0000"}"#));
    }
}
