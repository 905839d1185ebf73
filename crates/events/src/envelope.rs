//! The CloudEvents 1.0 envelope (JSON event format, structured mode).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use leadgen_domain::TenantId;

use crate::Event;

/// CloudEvents `specversion`.
pub const SPEC_VERSION: &str = "1.0";

/// One event: CloudEvents attributes plus the `tenantid` extension and the payload in `data`.
/// Open to attributes added later (CloudEvents extensions, `dataschema`), as the versioning
/// rule promises: consumers ignore what they do not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CloudEvent<T> {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique per event; also the AMQP `message_id` and the consumers' dedup key.
    pub id: Uuid,
    /// The producing service, e.g. `/leadgen/auth-api`.
    pub source: String,
    /// e.g. `com.cunkebao.leadgen.sync.requested.v1`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the state change happened (RFC 3339, UTC).
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// The aggregate the event is about: `lead/{leadId}` on lead events, `sync-task/{syncTaskId}`
    /// on sync events, `platform/{platformId}` on platform events. Always set by this module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Extension attribute: the merchant account the event belongs to.
    pub tenantid: i64,
    pub data: T,
}

/// An envelope that does not carry the expected event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    #[error("message is not a valid event envelope: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported specversion `{0}`")]
    SpecVersion(String),
    #[error("expected event type `{expected}`, got `{actual}`")]
    WrongType {
        expected: &'static str,
        actual: String,
    },
}

impl<T: Event> CloudEvent<T> {
    /// A new event from `source` (a service name) about the aggregate its payload names
    /// ([`Event::subject`]).
    pub fn new(source: &str, tenant_id: TenantId, data: T) -> Self {
        CloudEvent {
            specversion: SPEC_VERSION.to_owned(),
            id: Uuid::now_v7(),
            source: format!("/leadgen/{source}"),
            event_type: T::TYPE.to_owned(),
            time: Utc::now(),
            datacontenttype: "application/json".to_owned(),
            subject: Some(data.subject().to_string()),
            tenantid: tenant_id.get(),
            data,
        }
    }

    /// The merchant account the event belongs to.
    pub fn tenant(&self) -> TenantId {
        TenantId::new(self.tenantid)
    }

    /// Parses and checks an envelope received from the broker.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let event: CloudEvent<T> = serde_json::from_slice(bytes)?;
        if event.specversion != SPEC_VERSION {
            return Err(EnvelopeError::SpecVersion(event.specversion));
        }
        if event.event_type != T::TYPE {
            return Err(EnvelopeError::WrongType {
                expected: T::TYPE,
                actual: event.event_type,
            });
        }
        Ok(event)
    }
}
