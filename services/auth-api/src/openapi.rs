//! auth-api's part of the gateway's OpenAPI document, generated from its handlers and types
//! (`leadctl openapi` merges it with lead-api's into `docs/openapi.json`, which this service
//! serves at `…/openapi.json`).

use leadgen_domain::audit::{AuditAction, AuditResult, AuditTarget};
use leadgen_domain::{AuthStatus, SyncStatus, SyncTrigger};
use leadgen_http::openapi::{BearerAuth, BlankQueryIsAbsent, SharedResponses, string_enum};
use leadgen_http::string_enum_schema;
use utoipa::OpenApi;
use utoipa::openapi::schema::ObjectBuilder;

use crate::routes;
use crate::service::{shops, syncs};

string_enum_schema! {
    /// Status of a platform authorization (a shop).
    pub struct AuthStatusSchema as "AuthStatus" = AuthStatus::ALL.iter().map(|s| s.as_str());
}

string_enum_schema! {
    /// Status of a sync task.
    pub struct SyncStatusSchema as "SyncStatus" = SyncStatus::ALL.iter().map(|s| s.as_str());
}

string_enum_schema! {
    /// What started a sync task: a user (`MANUAL`), the scheduler (`SCHEDULED`), or a shop's
    /// first connection (`BACKFILL`).
    pub struct SyncTriggerSchema as "SyncTrigger" = SyncTrigger::ALL.iter().map(|t| t.as_str());
}

/// Every `leadgen_domain::sync::Listing` as sync records spell it (the domain type has no list of its variants; a
/// test holds the two together).
const LISTINGS: &[&str] = &["CREATED", "MODIFIED"];

string_enum_schema! {
    /// Which of an order's times a sync's window selects by: creation (`CREATED`) or last
    /// modification (`MODIFIED`).
    pub struct SyncListingSchema as "SyncListing" = LISTINGS.iter().copied();
}

string_enum_schema! {
    /// An action the operation log records (`leadgen_domain::audit::AuditAction`).
    pub struct AuditActionSchema as "AuditAction" = AuditAction::ALL.iter().map(|a| a.as_str());
}

string_enum_schema! {
    /// The kind of target an operation-log entry names.
    pub struct AuditTargetSchema as "AuditTarget" = AuditTarget::ALL.iter().map(|t| t.as_str());
}

string_enum_schema! {
    /// The outcome of a logged operation (`leadgen_domain::audit::AuditResult`).
    pub struct OperationResultSchema as "OperationResult" = AuditResult::ALL.iter().map(|r| r.as_str());
}

/// `Accepted.status`: the one value a sync request answers.
pub fn accepted_status() -> ObjectBuilder {
    string_enum([syncs::ACCEPTED])
}

/// `ShopStatusBody.status`: the statuses a merchant may set.
pub fn settable_status() -> ObjectBuilder {
    string_enum(
        AuthStatus::ALL
            .iter()
            .filter(|s| shops::settable(**s))
            .map(|s| s.as_str()),
    )
    .description(Some(
        "`DISABLED` pauses the shop (not synced); `ACTIVE` resumes it.",
    ))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::create::create,
        routes::list::list,
        routes::detail::detail,
        routes::callback::callback,
        routes::sync::sync,
        routes::sync_records::list,
        routes::sync_cancel::cancel,
        routes::shops::set_status,
        routes::shops::revoke,
        routes::shops::reauthorize,
        routes::operation_logs::list,
    ),
    modifiers(&BearerAuth, &SharedResponses, &BlankQueryIsAbsent),
    tags(
        (name = "platforms", description = "电商平台授权（设计 2.1–2.2、4.1）"),
        (name = "syncs", description = "订单同步与同步记录（设计 2.3–2.4）"),
        (name = "audit", description = "操作日志（设计 7）"),
    )
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use leadgen_domain::sync::Listing;

    use super::*;

    #[test]
    fn the_listings_are_the_domain_listings() {
        // Every variant: a new one fails to compile here until it is listed.
        let every = [Listing::Created, Listing::Modified].map(|l| match l {
            Listing::Created | Listing::Modified => l.as_str(),
        });
        assert_eq!(LISTINGS, every.as_slice());
        for listing in LISTINGS {
            assert_eq!(Listing::parse(listing).map(Listing::as_str), Some(*listing));
        }
    }

    #[test]
    fn a_shop_may_be_set_only_to_disabled_or_active() {
        let schema = serde_json::to_value(settable_status().build()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(["ACTIVE", "DISABLED"]));
    }
}
