//! `GET /openapi.json`: the gateway API's OpenAPI 3.1 document (`docs/openapi.json`, generated
//! from the services' code by `leadctl openapi` and checked against it by a test), and `GET /docs`,
//! a page that renders it. Public: they describe the API, they hold no data.

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;

/// The committed document, built into the binary.
const DOCUMENT: &str = include_str!("../../../../docs/openapi.json");

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(DOCUMENT)
}

/// Swagger UI's files, from one pinned release of `swagger-ui-dist` on the npm registry (served
/// by unpkg), each checked by the browser against its Subresource Integrity hash: a changed or
/// compromised copy does not run on the gateway's origin, where a user may paste a token. To
/// move to another release, take the hashes of its `swagger-ui.css` and
/// `swagger-ui-bundle.js` (`openssl dgst -sha384 -binary FILE | base64`).
const SWAGGER_UI: &str = "https://unpkg.com/swagger-ui-dist@5.35.0";
const CSS_INTEGRITY: &str =
    "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I";
const JS_INTEGRITY: &str =
    "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9";

/// The page's one inline script, and its hash for the Content-Security-Policy.
const INIT: &str =
    "\n    window.ui = SwaggerUIBundle({ url: \"openapi.json\", dom_id: \"#swagger-ui\" });\n  ";
const INIT_SHA256: &str = "sha256-l6JPv6mU7Ud3CcYzxaENdwY/2iglfDHOrm50yxX1vVY=";

/// Swagger UI, loading the document from the same gateway. Its Content-Security-Policy lets
/// the page run the pinned release and its own initialisation, and nothing else.
pub async fn page() -> HttpResponse {
    let csp = format!(
        "default-src 'none'; script-src {SWAGGER_UI}/ '{INIT_SHA256}'; style-src {SWAGGER_UI}/ \
         'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    );
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header(("Content-Security-Policy", csp))
        .body(format!(
            r##"<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>存客宝 订单获客 API</title>
  <link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css" integrity="{CSS_INTEGRITY}" crossorigin="anonymous">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{SWAGGER_UI}/swagger-ui-bundle.js" integrity="{JS_INTEGRITY}" crossorigin="anonymous"></script>
  <script>{INIT}</script>
</body>
</html>
"##
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_pages_inline_script() {
        use base64::Engine as _;
        let digest = ring::digest::digest(&ring::digest::SHA256, INIT.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        assert_eq!(INIT_SHA256, format!("sha256-{hash}"));
    }
}
