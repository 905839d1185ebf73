//! `leadctl openapi [--out docs/openapi.json]`: the gateway API's one OpenAPI 3.1 document,
//! merged from the services' parts (generated from their handlers and types by utoipa). auth-api
//! serves the committed file; a test fails when it and the code disagree.

use std::path::Path;

use anyhow::Context as _;
use utoipa::OpenApi as _;

/// The whole gateway API, as JSON text.
pub fn document() -> anyhow::Result<String> {
    let mut doc = auth_api::openapi::ApiDoc::openapi();
    let lead = lead_api::openapi::ApiDoc::openapi();
    let clashes = clashing_schemas(&doc, &lead);
    anyhow::ensure!(
        clashes.is_empty(),
        "auth-api and lead-api define different schemas under the same names: {clashes:?} \
         (rename one with #[schema(as = …)])"
    );
    doc.merge(lead);
    doc.info.title = "存客宝 订单获客 API".to_owned();
    doc.info.version = "1.0.0".to_owned();
    doc.info.description = Some(format!(
        "The order-lead module's gateway API (`docs/api-conventions.md`). Every answer is the \
         envelope `{{code, message, data, traceId}}`; errors carry `data: null` and a Simplified \
         Chinese message. Business codes:\n\n{}",
        leadgen_http::openapi::business_codes_markdown()
    ));
    doc.info.license = None;
    doc.servers = Some(vec![utoipa::openapi::Server::new(
        "/api/v1/lead-generation/orders",
    )]);
    let mut text = doc.to_pretty_json().context("serializing the document")?;
    text.push('\n');
    Ok(text)
}

/// Names that both parts give to different schemas. Merging keeps the first part's, so the
/// second's operations would point at a schema that is not theirs.
fn clashing_schemas(a: &utoipa::openapi::OpenApi, b: &utoipa::openapi::OpenApi) -> Vec<String> {
    let (Some(a), Some(b)) = (&a.components, &b.components) else {
        return Vec::new();
    };
    b.schemas
        .iter()
        .filter(|(name, schema)| {
            a.schemas.get(*name).is_some_and(|other| {
                serde_json::to_value(other).ok() != serde_json::to_value(schema).ok()
            })
        })
        .map(|(name, _)| name.clone())
        .collect()
}

pub fn write(out: &Path) -> anyhow::Result<()> {
    std::fs::write(out, document()?).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_document_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        let generated = super::document().unwrap();
        assert!(
            committed == generated,
            "docs/openapi.json differs from the code: run `leadctl openapi` (make openapi)"
        );
        let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
        assert!(
            doc["openapi"]
                .as_str()
                .unwrap_or_default()
                .starts_with("3.1")
        );
        for path in [
            "/platforms/auth",
            "/platforms",
            "/platforms/{platformId}",
            "/platforms/auth/callback",
            "/platforms/{platformId}/sync",
            "/sync-records",
            "/operation-logs",
            "/leads",
            "/leads/{leadId}",
            "/leads/{leadId}/contact/reveal",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }

    /// Client generators name their methods after operationIds: each operation has one, and
    /// no two share it (OpenAPI requires them unique).
    #[test]
    fn every_operation_has_its_own_id() {
        let doc: serde_json::Value = serde_json::from_str(&super::document().unwrap()).unwrap();
        let mut seen = std::collections::BTreeMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let operation_id = operation["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                if let Some(other) =
                    seen.insert(operation_id.to_owned(), format!("{method} {path}"))
                {
                    panic!("operationId {operation_id} names both {other} and {method} {path}");
                }
            }
        }
        assert!(seen.len() >= 16, "{seen:?}");
    }
}
