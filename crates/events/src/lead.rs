//! Buyer-lead events: `LeadIdentified` v2 (a new buyer-lead), `LeadUpdated` v1 (a lead's score,
//! tags, contact validity or status changed) and `LeadRemoved` v1 (a lead's history was deleted).
//! The first two carry the same [`BuyerLead`] snapshot with the score's reasons and model version,
//! and never a clear contact.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use leadgen_domain::buyer::BuyerAggregate;
use leadgen_domain::scoring::Reason;
use leadgen_domain::validity::{ContactValidity, Validity};
use leadgen_domain::{IntentionTag, LeadId, LeadProcessStatus, PlatformId, PlatformType};

use crate::payloads::ContactSummary;
use crate::{Event, Subject, routing};

/// Which scorer produced a lead's intention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScoredBy {
    /// The built-in model (`leadgen_domain::scoring`).
    Builtin,
    /// The configured external scorer (`predictIntention` over HTTP).
    External,
}

impl ScoredBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ScoredBy::Builtin => "BUILTIN",
            ScoredBy::External => "EXTERNAL",
        }
    }

    /// The stored spelling back; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        [ScoredBy::Builtin, ScoredBy::External]
            .into_iter()
            .find(|by| by.as_str() == s)
    }
}

/// How reachable the buyer is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactValiditySummary {
    pub validity: Validity,
    pub code: String,
    pub reason: String,
}

/// A buyer-lead as other teams see it: one buyer within a tenant, all of their orders summed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuyerLead {
    pub lead_id: LeadId,
    /// The shop of the buyer's latest order (the buyer is ranked among this shop's buyers).
    pub platform_id: PlatformId,
    pub platform_type: PlatformType,
    /// The platform's id of the buyer's latest order.
    pub latest_order_id: String,
    /// The latest order's order time, as the API's `orderTime`: when it was paid, or placed
    /// while unpaid.
    pub latest_order_time: DateTime<Utc>,
    pub order_count: u32,
    pub paid_order_count: u32,
    /// Decimal yuan paid and kept: paid orders less refunds (only the refunded lines of a partial
    /// refund), e.g. `"597.00"`.
    pub paid_total: String,
    pub after_sale_count: u32,
    pub unpaid_count: u32,
    /// When the buyer's first order was placed.
    pub first_order_time: DateTime<Utc>,
    /// When the buyer's last order was placed (the API's `lastOrderTime`).
    pub last_order_time: DateTime<Utc>,
    /// When the buyer last paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_paid_time: Option<DateTime<Utc>>,
    /// Mean days between the buyer's purchase occasions (payments within 10 minutes of each
    /// other are one purchase: a checkout split into several orders); absent with fewer than
    /// two occasions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_gap_days: Option<f64>,
    pub last_product: String,
    pub contact: ContactSummary,
    pub contact_validity: ContactValiditySummary,
    /// 0–100.
    pub score: u8,
    /// 0–100, the intention part of the score.
    pub intention: u8,
    pub intention_tags: Vec<IntentionTag>,
    /// Why: machine codes with short Chinese sentences.
    pub reasons: Vec<Reason>,
    pub model_version: String,
    pub scored_by: ScoredBy,
    pub process_status: LeadProcessStatus,
    /// Increases with every change of the lead; consumers keep the highest they have seen.
    pub version: i32,
}

/// What a [`BuyerLead`] snapshot is made of, as the services hold it.
#[derive(Debug, Clone)]
pub struct LeadFacts<'a> {
    pub lead_id: LeadId,
    pub platform_id: PlatformId,
    pub platform_type: PlatformType,
    pub latest_order_id: &'a str,
    pub latest_order_time: DateTime<Utc>,
    pub aggregate: &'a BuyerAggregate,
    pub contact: ContactSummary,
    pub validity: &'a ContactValidity,
    pub score: u8,
    pub intention: u8,
    pub tags: Vec<IntentionTag>,
    pub reasons: Vec<Reason>,
    pub model_version: String,
    pub scored_by: ScoredBy,
    pub process_status: LeadProcessStatus,
    pub version: i32,
}

impl BuyerLead {
    /// The snapshot every lead event carries; one mapping for every producer.
    pub fn from_facts(f: LeadFacts<'_>) -> Self {
        let a = f.aggregate;
        BuyerLead {
            lead_id: f.lead_id,
            platform_id: f.platform_id,
            platform_type: f.platform_type,
            latest_order_id: f.latest_order_id.to_owned(),
            latest_order_time: f.latest_order_time,
            order_count: a.order_count,
            paid_order_count: a.paid_order_count,
            paid_total: a.paid_total.to_string(),
            after_sale_count: a.after_sale_count,
            unpaid_count: a.unpaid_count,
            first_order_time: a.first_order_time,
            last_order_time: a.last_order_time,
            last_paid_time: a.last_paid_time,
            mean_gap_days: a.mean_gap_days,
            last_product: a.last_product.clone(),
            contact: f.contact,
            contact_validity: ContactValiditySummary {
                validity: f.validity.validity,
                code: f.validity.code.clone(),
                reason: f.validity.reason.clone(),
            },
            score: f.score,
            intention: f.intention,
            intention_tags: f.tags,
            reasons: f.reasons,
            model_version: f.model_version,
            scored_by: f.scored_by,
            process_status: f.process_status,
            version: f.version,
        }
    }
}

/// A buyer was identified as a new lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadIdentifiedV2 {
    pub lead: BuyerLead,
}

impl Event for LeadIdentifiedV2 {
    const TYPE: &'static str = "com.cunkebao.leadgen.lead.identified.v2";
    const ROUTING_KEY: &'static str = routing::LEAD_IDENTIFIED_V2;
    const SCHEMA_FILE: &'static str = "v2/lead-identified.json";

    fn subject(&self) -> Subject {
        Subject::Lead(self.lead.lead_id)
    }
}

/// What changed in a lead.
// `Score` also covers a change of `intention` alone (the score's intention part), and
// `ContactValidity` a new contact under the same verdict (another masked number, a privacy
// number reissued, its expiry moved in the reason). Said here rather than on the variants,
// whose doc comments would change the generated schema's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LeadChange {
    Score,
    Tags,
    ContactValidity,
    Status,
    /// Other leads turned out to be this buyer and merged into it; see `mergedLeadIds`.
    Merged,
}

/// A lead's score, tags, contact validity or status changed, other leads merged into it, or the
/// buyer's orders changed (`ordersChanged`; then `changes` may be empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadUpdatedV1 {
    pub lead: BuyerLead,
    pub changes: Vec<LeadChange>,
    /// With `MERGED`: leads that were the same buyer. They are gone from lists, and their ids
    /// now resolve to this lead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_lead_ids: Vec<LeadId>,
    /// The buyer's orders changed (a new order, a payment, a refund, a close): the snapshot's
    /// order counts, paid total and latest order are new. Absent when not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub orders_changed: bool,
}

impl Event for LeadUpdatedV1 {
    const TYPE: &'static str = "com.cunkebao.leadgen.lead.updated.v1";
    const ROUTING_KEY: &'static str = routing::LEAD_UPDATED_V1;
    const SCHEMA_FILE: &'static str = "v1/lead-updated.json";

    fn subject(&self) -> Subject {
        Subject::Lead(self.lead.lead_id)
    }
}

/// Why a lead was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LeadRemovalReason {
    /// The merchant disconnected the shop the buyer's orders came from, and its retention period
    /// ended: the orders were deleted, and the buyer had none in the tenant's other shops.
    ShopHistoryPurged,
}

/// A lead is gone: its id, and the ids of leads that had merged into it, answer 404 from now on.
/// Delete your copy of it and of anything personal you derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadRemovedV1 {
    pub lead_id: LeadId,
    pub reason: LeadRemovalReason,
    /// The disconnected shop (platform authorization) whose history was deleted.
    pub platform_id: PlatformId,
    /// Leads that had merged into this one; they are gone too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_lead_ids: Vec<LeadId>,
    /// The lead's version at its removal, one past the last it had: a `lead.updated.v1` of this
    /// lead with a version at or below it is stale and must not bring it back, so a deletion
    /// marker needs to remember only this number. Absent only in events published before it
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
}

impl Event for LeadRemovedV1 {
    const TYPE: &'static str = "com.cunkebao.leadgen.lead.removed.v1";
    const ROUTING_KEY: &'static str = routing::LEAD_REMOVED_V1;
    const SCHEMA_FILE: &'static str = "v1/lead-removed.json";

    fn subject(&self) -> Subject {
        Subject::Lead(self.lead_id)
    }
}
