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

/// Swagger UI, loading the document from the same gateway.
pub async fn page() -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::html()).body(
        r##"<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>存客宝 订单获客 API</title>
  <link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui" });
  </script>
</body>
</html>
"##,
    )
}
