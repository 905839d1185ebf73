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

/// Swagger UI's files: one pinned release of `swagger-ui-dist`, vendored
/// (`services/auth-api/assets/`) so that the page works where the internet is not reachable,
/// and checked by the browser against its Subresource Integrity hashes.
const VERSION: &str = "5.35.0";
const CSS: &[u8] = include_bytes!("../../assets/swagger-ui-5.35.0/swagger-ui.css");
const JS: &[u8] = include_bytes!("../../assets/swagger-ui-5.35.0/swagger-ui-bundle.js");
const CSS_INTEGRITY: &str =
    "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I";
const JS_INTEGRITY: &str =
    "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9";

/// The page's one inline script, and its hash for the Content-Security-Policy.
const INIT: &str =
    "\n    window.ui = SwaggerUIBundle({ url: \"openapi.json\", dom_id: \"#swagger-ui\" });\n  ";
const INIT_SHA256: &str = "sha256-l6JPv6mU7Ud3CcYzxaENdwY/2iglfDHOrm50yxX1vVY=";

/// Swagger UI, loading the document from the same gateway. Its Content-Security-Policy lets
/// the page run the vendored release and its own initialisation, and nothing else.
pub async fn page() -> HttpResponse {
    let csp = format!(
        "default-src 'none'; script-src 'self' '{INIT_SHA256}'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    let assets = format!("docs/swagger-ui-{VERSION}");
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header(("Content-Security-Policy", csp))
        .body(format!(
            r##"<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>存客宝 订单获客 API</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css" integrity="{CSS_INTEGRITY}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js" integrity="{JS_INTEGRITY}"></script>
  <script>{INIT}</script>
</body>
</html>
"##
        ))
}

/// The path of one of the page's files, under `/docs`.
pub fn asset_path(file: &str) -> String {
    format!("/docs/swagger-ui-{VERSION}/{file}")
}

/// `swagger-ui.css`; the release is in the path, so it is cached for good.
pub async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", CSS)
}

/// `swagger-ui-bundle.js`.
pub async fn js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Type", content_type))
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_files_are_the_pinned_release() {
        use base64::Engine as _;
        for (file, integrity) in [(CSS, CSS_INTEGRITY), (JS, JS_INTEGRITY)] {
            let digest = ring::digest::digest(&ring::digest::SHA384, file);
            let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
            assert_eq!(integrity, format!("sha384-{hash}"));
        }
    }

    #[test]
    fn the_policy_allows_exactly_the_pages_inline_script() {
        use base64::Engine as _;
        let digest = ring::digest::digest(&ring::digest::SHA256, INIT.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        assert_eq!(INIT_SHA256, format!("sha256-{hash}"));
    }
}
