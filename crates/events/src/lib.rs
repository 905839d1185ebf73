//! The module's event contracts. Every message on the broker is a CloudEvents 1.0 JSON envelope
//! ([`CloudEvent`]) around one versioned payload:
//!
//! | payload | routing key | producer | consumers |
//! |---|---|---|---|
//! | [`SyncRequestedV1`] | `sync.requested.v1` | auth-api, sync-worker's scheduler, recovery and shutdown hand-back | sync-worker |
//! | [`RawOrdersFetchedV1`] | `orders.fetched.v1` | sync-worker | order-processor |
//! | [`LeadIdentifiedV2`] | `lead.identified.v2` | order-processor | other teams |
//! | [`LeadUpdatedV1`] | `lead.updated.v1` | order-processor, lead-api | other teams |
//! | [`LeadRemovedV1`] | `lead.removed.v1` | order-processor | other teams |
//! | [`LeadIdentifiedV1`] (deprecated) | `lead.identified.v1` | order-processor | other teams |
//! | [`PlatformChangedV1`] | `platform.changed.v1` | auth-api, and whoever finds a shop's grant refused (sync-worker, lead-api) | other teams |
//!
//! `proto-events/schemas/v*/*.json` are generated from these types (`leadctl schemas`), and a
//! test fails when the committed files and the types disagree. Within a version fields are only
//! added, as optional; a breaking change is a new `vN` type and routing key.

mod envelope;
mod lead;
mod payloads;
mod platform;

pub use envelope::{CloudEvent, EnvelopeError, SPEC_VERSION};
pub use lead::{
    BuyerLead, ContactValiditySummary, LeadChange, LeadFacts, LeadIdentifiedV2, LeadRemovalReason,
    LeadRemovedV1, LeadUpdatedV1, ScoredBy,
};
pub use payloads::{
    ContactSummary, IntentionTagV1, LeadIdentifiedV1, RawOrdersFetchedV1, SyncRequestedV1,
};
pub use platform::PlatformChangedV1;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A payload type and the names it travels under.
pub trait Event: Serialize + DeserializeOwned + JsonSchema {
    /// CloudEvents `type`, reverse-DNS and versioned.
    const TYPE: &'static str;
    /// The topic exchange's routing key.
    const ROUTING_KEY: &'static str;
    /// The schema's path under `proto-events/schemas/` (`v1/…`, `v2/…`).
    const SCHEMA_FILE: &'static str;

    /// The aggregate the event is about, its CloudEvents `subject`: `sync-task/{id}`,
    /// `lead/{id}` or `platform/{id}`, spelt here once for every producer.
    fn subject(&self) -> Subject;
}

/// The aggregate an event is about (CloudEvents `subject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    SyncTask(leadgen_domain::SyncTaskId),
    Lead(leadgen_domain::LeadId),
    Platform(leadgen_domain::PlatformId),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::SyncTask(id) => write!(f, "sync-task/{}", id.get()),
            Subject::Lead(id) => write!(f, "lead/{}", id.get()),
            Subject::Platform(id) => write!(f, "platform/{}", id.get()),
        }
    }
}

/// The routing keys, as constants for bindings.
pub mod routing {
    pub const SYNC_REQUESTED_V1: &str = "sync.requested.v1";
    pub const ORDERS_FETCHED_V1: &str = "orders.fetched.v1";
    pub const LEAD_IDENTIFIED_V1: &str = "lead.identified.v1";
    pub const LEAD_IDENTIFIED_V2: &str = "lead.identified.v2";
    pub const LEAD_UPDATED_V1: &str = "lead.updated.v1";
    pub const LEAD_REMOVED_V1: &str = "lead.removed.v1";
    pub const PLATFORM_CHANGED_V1: &str = "platform.changed.v1";
}

/// The JSON Schema of the whole envelope for `E`, as committed in `proto-events/`.
pub fn schema_for<E: Event>() -> serde_json::Value {
    // An optional field is left out when it has no value, never sent as `null`: the schema
    // says so (schemars' draft-07 default would allow `null` as well, and types generated from
    // it would be nullable for no reason).
    let settings = schemars::r#gen::SchemaSettings::draft07().with(|s| {
        s.option_add_null_type = false;
    });
    let schema = settings
        .into_generator()
        .into_root_schema_for::<CloudEvent<E>>();
    let mut schema = serde_json::to_value(schema).unwrap_or(serde_json::Value::Null);
    open_platform_type(&mut schema);
    schema
}

/// `platformType` grows within a version when another platform is connected (the contract,
/// `proto-events/asyncapi.yaml`): its schema names the known values and accepts any other
/// text, so a subscriber validating events, or generating types from the schema, does not
/// refuse the first event of a new platform.
fn open_platform_type(schema: &mut serde_json::Value) {
    let Some(known) = schema
        .pointer_mut("/definitions/PlatformType")
        .map(serde_json::Value::take)
    else {
        return;
    };
    let Some(slot) = schema.pointer_mut("/definitions/PlatformType") else {
        return;
    };
    *slot = serde_json::json!({
        "description": "The e-commerce platform: one of the known values below, or a platform \
            connected after this schema was written (accept a value you do not know and keep \
            it as text).",
        "type": "string",
        "anyOf": [
            known,
            { "description": "A platform connected later.", "type": "string" }
        ]
    });
}

/// Every event's schema file name and schema.
pub fn all_schemas() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            SyncRequestedV1::SCHEMA_FILE,
            schema_for::<SyncRequestedV1>(),
        ),
        (
            RawOrdersFetchedV1::SCHEMA_FILE,
            schema_for::<RawOrdersFetchedV1>(),
        ),
        (
            LeadIdentifiedV1::SCHEMA_FILE,
            schema_for::<LeadIdentifiedV1>(),
        ),
        (
            LeadIdentifiedV2::SCHEMA_FILE,
            schema_for::<LeadIdentifiedV2>(),
        ),
        (LeadUpdatedV1::SCHEMA_FILE, schema_for::<LeadUpdatedV1>()),
        (LeadRemovedV1::SCHEMA_FILE, schema_for::<LeadRemovedV1>()),
        (
            PlatformChangedV1::SCHEMA_FILE,
            schema_for::<PlatformChangedV1>(),
        ),
    ]
}

#[cfg(test)]
mod tests;
