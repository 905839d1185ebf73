//! lead-api's part of the gateway's OpenAPI document, generated from its handlers and types
//! (`leadctl openapi` merges it with auth-api's into `docs/openapi.json`).

use leadgen_http::openapi::BearerAuth;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::routes;
use crate::service::workflow::BulkResult;

/// A score reason as lists and details show it.
#[derive(Serialize, ToSchema)]
pub struct ReasonDoc {
    /// Machine code, e.g. `REPEAT_3`.
    pub code: String,
    /// Short Chinese sentence, e.g. `近90天复购3次`.
    pub text: String,
}

/// A contact verdict (`filterContactInfo`).
#[derive(Serialize, ToSchema)]
pub struct ValidityDoc {
    /// `VALID`, `NEEDS_DECRYPT`, `MASKED`, `PLATFORM_ONLY`, `EXPIRED`, `INVALID`.
    pub validity: String,
    pub code: String,
    pub reason: String,
}

/// The bulk status change's answer.
#[derive(Serialize, ToSchema)]
pub struct BulkResults {
    pub results: Vec<BulkResult>,
}

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::leads::list,
        routes::workflow::get,
        routes::workflow::patch,
        routes::workflow::patch_many,
        routes::reveal::reveal,
    ),
    modifiers(&BearerAuth),
    tags((name = "leads", description = "潜在客户（设计 2.5）与销售工作台"))
)]
pub struct ApiDoc;
