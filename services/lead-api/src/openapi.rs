//! lead-api's part of the gateway's OpenAPI document, generated from its handlers and types
//! (`leadctl openapi` merges it with auth-api's into `docs/openapi.json`).

use leadgen_domain::order::NeutralStatus;
use leadgen_domain::{IntentionTag, LeadProcessStatus};
use leadgen_http::openapi::{BearerAuth, BlankQueryIsAbsent, SharedResponses};
use leadgen_http::string_enum_schema;
use leadgen_platforms::reveal::RevealPurpose;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::routes;
use crate::service::workflow::BulkResult;

string_enum_schema! {
    /// How far sales staff have handled a lead.
    pub struct LeadProcessStatusSchema as "LeadProcessStatus" =
        LeadProcessStatus::ALL.iter().map(|s| s.as_str());
}

string_enum_schema! {
    /// An intention tag, in Chinese as sales staff see it.
    pub struct IntentionTagSchema as "IntentionTag" = IntentionTag::ALL.iter().map(|t| t.label());
}

string_enum_schema! {
    /// An order's status, the same on every platform (its own is `platformStatus`).
    pub struct OrderStatusSchema as "OrderStatus" = NeutralStatus::ALL.iter().map(|s| s.as_str());
}

string_enum_schema! {
    /// Why a salesperson reveals a buyer's number.
    pub struct RevealPurposeSchema as "RevealPurpose" =
        RevealPurpose::ALL.iter().map(|p| p.as_str());
}

/// What the lead's shown contact is: every `leadgen_domain::contact::ContactKind` as the lead
/// stores it, and `NONE` for a buyer without one (the domain type has no list of its variants;
/// a test holds the two together).
const CONTACT_TYPES: &[&str] = &[
    "PLAIN",
    "MASKED",
    "PLATFORM_ENCRYPTED",
    "VIRTUAL",
    "OPEN_ID",
    "NONE",
];

string_enum_schema! {
    /// What kind of value the lead's contact is: a plain number, masked by the platform, the
    /// platform's ciphertext, a privacy (virtual) number, a platform buyer id, or none.
    pub struct ContactTypeSchema as "ContactType" = CONTACT_TYPES.iter().copied();
}

/// The numbers a reveal answers: a `ContactKind` `PLAIN` or `VIRTUAL` (a test holds them to
/// the domain's spelling).
const REVEAL_KINDS: &[&str] = &["PLAIN", "VIRTUAL"];

string_enum_schema! {
    /// A revealed number: `PLAIN` (a mobile or landline) or `VIRTUAL` (a privacy number with an
    /// extension).
    pub struct RevealKindSchema as "RevealKind" = REVEAL_KINDS.iter().copied();
}

/// Every `leadgen_domain::validity::Validity` (the domain type has no list of its variants; a
/// test holds the two together).
const VALIDITIES: &[&str] = &[
    "VALID",
    "NEEDS_DECRYPT",
    "MASKED",
    "PLATFORM_ONLY",
    "EXPIRED",
    "INVALID",
];

string_enum_schema! {
    /// Whether the lead's contact reaches the buyer.
    pub struct ValiditySchema as "Validity" = VALIDITIES.iter().copied();
}

/// Every `leadgen_events::ScoredBy` (the type has no list of its variants; a test holds
/// the two together).
const SCORERS: &[&str] = &["BUILTIN", "EXTERNAL"];

string_enum_schema! {
    /// Which scorer produced the lead's intention: the built-in model or the configured
    /// external one.
    pub struct ScoredBySchema as "ScoredBy" = SCORERS.iter().copied();
}

string_enum_schema! {
    /// One lead's outcome in a bulk status change: changed, already so, unknown (or another
    /// tenant's), changed by someone since its version, merged into another lead, or refused
    /// otherwise (`code` and `message` say why).
    pub struct BulkOutcomeSchema as "BulkOutcome" =
        crate::service::workflow::BulkOutcome::ALL.iter().map(|o| o.as_str());
}

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
    #[schema(value_type = ValiditySchema)]
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
    modifiers(&BearerAuth, &SharedResponses, &BlankQueryIsAbsent),
    tags((name = "leads", description = "线索与销售工作台（设计 2.5）与销售工作台"))
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use leadgen_domain::contact::ContactKind;
    use leadgen_domain::validity::Validity;
    use leadgen_events::ScoredBy;

    use super::*;

    /// `value`'s serde spelling.
    fn wire<T: Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_contact_types_are_the_domain_kinds_and_none() {
        // Every variant: a new one fails to compile here until it is listed.
        let every = [
            ContactKind::Plain,
            ContactKind::Masked,
            ContactKind::PlatformEncrypted,
            ContactKind::Virtual,
            ContactKind::OpenId,
        ]
        .map(|k| match k {
            ContactKind::Plain
            | ContactKind::Masked
            | ContactKind::PlatformEncrypted
            | ContactKind::Virtual
            | ContactKind::OpenId => wire(k),
        });
        let mut expected = every.to_vec();
        expected.push("NONE".to_owned());
        assert_eq!(CONTACT_TYPES, expected);
        assert_eq!(
            REVEAL_KINDS,
            [wire(ContactKind::Plain), wire(ContactKind::Virtual)]
        );
    }

    #[test]
    fn the_validities_are_the_domain_validities() {
        // Every variant: a new one fails to compile here until it is listed.
        let every = [
            Validity::Valid,
            Validity::NeedsDecrypt,
            Validity::Masked,
            Validity::PlatformOnly,
            Validity::Expired,
            Validity::Invalid,
        ]
        .map(|v| match v {
            Validity::Valid
            | Validity::NeedsDecrypt
            | Validity::Masked
            | Validity::PlatformOnly
            | Validity::Expired
            | Validity::Invalid => v.as_str(),
        });
        assert_eq!(VALIDITIES, every.as_slice());
        for v in every {
            assert_eq!(
                wire(serde_json::from_value::<Validity>(v.into()).unwrap()),
                v
            );
        }
    }

    #[test]
    fn the_scorers_are_the_events_scorers() {
        // Every variant: a new one fails to compile here until it is listed.
        let every = [ScoredBy::Builtin, ScoredBy::External].map(|s| match s {
            ScoredBy::Builtin | ScoredBy::External => s.as_str(),
        });
        assert_eq!(SCORERS, every.as_slice());
    }
}
