//! The version-1 payloads.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use leadgen_domain::{
    ContactKind, IntentionTag, LeadId, PlatformId, PlatformType, SyncTaskId, SyncTrigger, UserId,
};

use crate::{Event, Subject, routing};

/// A sync of one platform authorization's orders over a time window was requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequestedV1 {
    pub sync_task_id: SyncTaskId,
    pub platform_id: PlatformId,
    pub platform_type: PlatformType,
    pub trigger: SyncTrigger,
    /// Orders from this instant (inclusive), by the task's listing: created in it for a
    /// backfill and a manual sync of a named period, modified in it for a scheduled sync and a
    /// manual one that catches up on changes…
    pub window_start: DateTime<Utc>,
    /// …up to this instant (inclusive).
    pub window_end: DateTime<Utc>,
    /// The user who asked; absent for scheduled syncs and for the backfill of a shop just
    /// connected or resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<UserId>,
}

impl Event for SyncRequestedV1 {
    const TYPE: &'static str = "com.cunkebao.leadgen.sync.requested.v1";
    const ROUTING_KEY: &'static str = routing::SYNC_REQUESTED_V1;
    const SCHEMA_FILE: &'static str = "v1/sync-requested.json";

    fn subject(&self) -> Subject {
        Subject::SyncTask(self.sync_task_id)
    }
}

/// Orders were fetched from a platform and stored raw: the new and changed ones of one or
/// more pages of a sync run (`[sync] announce_orders` at a time, the last of a run fewer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RawOrdersFetchedV1 {
    pub sync_task_id: SyncTaskId,
    pub platform_id: PlatformId,
    pub platform_type: PlatformType,
    /// Ids in `t_ecom_order_raw` that are new or changed and wait for processing.
    pub raw_order_ids: Vec<i64>,
    /// Orders in this batch the adapter could not parse (kept raw, counted, not processed).
    #[serde(default)]
    pub malformed_count: u32,
}

impl Event for RawOrdersFetchedV1 {
    const TYPE: &'static str = "com.cunkebao.leadgen.orders.fetched.v1";
    const ROUTING_KEY: &'static str = routing::ORDERS_FETCHED_V1;
    const SCHEMA_FILE: &'static str = "v1/raw-orders-fetched.json";

    fn subject(&self) -> Subject {
        Subject::SyncTask(self.sync_task_id)
    }
}

/// How to reach the buyer, as shown to sales staff: masked, never the full value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactSummary {
    pub kind: ContactKind,
    /// Masked display form, e.g. `138****0001`.
    pub masked: String,
}

impl ContactSummary {
    /// A lead's contact as stored (`t_order_lead.contact_kind`, `contact_masked`). A buyer
    /// without any contact is stored `NONE`, which this schema has no name for: it is announced
    /// `MASKED` with an empty `masked`, as since v1. Any other unknown kind is an error.
    pub fn from_stored(kind: &str, masked: String) -> Result<Self, serde_json::Error> {
        let kind = match kind {
            "NONE" => ContactKind::Masked,
            other => serde_json::from_value(serde_json::Value::String(other.to_owned()))?,
        };
        Ok(ContactSummary { kind, masked })
    }
}

/// An order's buyer was identified as a lead.
///
/// Deprecated by [`crate::LeadIdentifiedV2`] (leads are buyers): still published beside v2,
/// once per new buyer-lead, with the buyer's latest order in the order fields, until subscribers
/// have moved (see `proto-events/asyncapi.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadIdentifiedV1 {
    pub lead_id: LeadId,
    pub platform_id: PlatformId,
    pub platform_type: PlatformType,
    /// The platform's order id.
    pub order_id: String,
    pub raw_order_id: i64,
    pub order_time: DateTime<Utc>,
    /// Decimal yuan, e.g. `"199.00"`.
    pub amount: String,
    pub product_info: String,
    pub contact: ContactSummary,
    pub intention_tags: Vec<IntentionTagV1>,
    /// 0–100.
    pub score: u8,
}

/// The intention tags of `lead.identified.v1`, frozen: the tags added later (`高价值`, `即将复购`,
/// `沉睡`) are never in it. `lead.identified.v2` and `lead.updated.v1` carry every tag.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum IntentionTagV1 {
    #[serde(rename = "高意向")]
    High,
    #[serde(rename = "中意向")]
    Medium,
    #[serde(rename = "低意向")]
    Low,
    #[serde(rename = "购买过")]
    Purchased,
    #[serde(rename = "复购")]
    Repeat,
    #[serde(rename = "未支付")]
    Unpaid,
    #[serde(rename = "退款售后")]
    AfterSale,
}

impl IntentionTagV1 {
    /// The v1 spelling of a tag, if v1 has it.
    pub fn from_tag(tag: IntentionTag) -> Option<Self> {
        match tag {
            IntentionTag::High => Some(IntentionTagV1::High),
            IntentionTag::Medium => Some(IntentionTagV1::Medium),
            IntentionTag::Low => Some(IntentionTagV1::Low),
            IntentionTag::Purchased => Some(IntentionTagV1::Purchased),
            IntentionTag::Repeat => Some(IntentionTagV1::Repeat),
            IntentionTag::Unpaid => Some(IntentionTagV1::Unpaid),
            IntentionTag::AfterSale => Some(IntentionTagV1::AfterSale),
            IntentionTag::HighValue | IntentionTag::DueToRepurchase | IntentionTag::Dormant => None,
        }
    }
}

impl Event for LeadIdentifiedV1 {
    const TYPE: &'static str = "com.cunkebao.leadgen.lead.identified.v1";
    const ROUTING_KEY: &'static str = routing::LEAD_IDENTIFIED_V1;
    const SCHEMA_FILE: &'static str = "v1/lead-identified.json";

    fn subject(&self) -> Subject {
        Subject::Lead(self.lead_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_contact_reads_strictly_and_none_is_announced_masked() {
        let plain = ContactSummary::from_stored("PLAIN", "138****0001".into()).unwrap();
        assert_eq!(plain.kind, ContactKind::Plain);
        let none = ContactSummary::from_stored("NONE", String::new()).unwrap();
        assert_eq!((none.kind, none.masked.as_str()), (ContactKind::Masked, ""));
        assert!(ContactSummary::from_stored("PHONE", String::new()).is_err());
    }
}
